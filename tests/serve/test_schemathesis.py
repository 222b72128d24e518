"""Property-based requests generated from the service's own OpenAPI spec: never a 5xx.

Cases come from schemathesis's strategies and run under hypothesis directly, not through
schemathesis's pytest plugin, whose node API breaks with each pytest major release.
"""

import pytest

schemathesis = pytest.importorskip("schemathesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402

from rostro.serve.app import ServeConfig, create_app  # noqa: E402


def test_no_server_errors(tiny_run):
    schema = schemathesis.openapi.from_asgi("/openapi.json", create_app(ServeConfig(model=str(tiny_run))))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 5, [op.label for op in operations]
    for operation in operations:
        _check(operation)


def _check(operation) -> None:
    @given(operation.as_strategy())
    @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def no_5xx(case):
        response = case.call()
        assert response.status_code < 500, (operation.label, response.status_code, response.text[:300])

    no_5xx()
