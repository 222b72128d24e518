"""Property-based requests generated from the service's own OpenAPI spec: never a 5xx."""

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, settings  # noqa: E402

from rostro.serve.app import ServeConfig, create_app  # noqa: E402


@pytest.fixture(scope="module")
def api_schema(tiny_run):
    return schemathesis.openapi.from_asgi("/openapi.json", create_app(ServeConfig(model=str(tiny_run))))


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_server_errors(case):
    response = case.call()
    assert response.status_code < 500, (case.method, case.path, response.status_code, response.text[:300])
