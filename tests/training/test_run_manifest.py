"""A run folder is loaded only if its files match the SHA-256 manifest written when it was made."""

import json
import shutil

import pytest

from rostro.errors import RostroError
from rostro.inference.predict import SHIPPED_RUN
from rostro.runs import MANIFEST_FILE, load_run, verify_manifest, write_manifest


@pytest.fixture
def run(tiny_run, tmp_path):
    return shutil.copytree(tiny_run, tmp_path / "run")


def test_training_signs_the_run_and_the_shipped_model_is_signed(run):
    files = json.loads((run / MANIFEST_FILE).read_text())["files"]
    assert set(files) == {"run.json", "best.pt"} and len(files["best.pt"]["sha256"]) == 64
    verify_manifest(run)
    verify_manifest(SHIPPED_RUN)
    load_run(run)


def test_tampered_truncated_added_or_unsigned_files_are_refused(run):
    weights = (run / "best.pt").read_bytes()
    (run / "best.pt").write_bytes(weights[:-10])
    with pytest.raises(RostroError, match=r"best.pt: .* bytes where the manifest says .*truncated"):
        load_run(run)
    flipped = bytearray(weights)
    flipped[len(flipped) // 2] ^= 0xFF
    (run / "best.pt").write_bytes(bytes(flipped))
    with pytest.raises(RostroError, match=r"best.pt: SHA-256 differs"):
        load_run(run)
    (run / "best.pt").write_bytes(weights)
    (run / "fusion.json").write_text("{}")
    with pytest.raises(RostroError, match=r"fusion.json: not listed"):
        load_run(run)
    (run / "fusion.json").unlink()
    (run / MANIFEST_FILE).unlink()
    with pytest.raises(RostroError, match="no manifest.json"):
        load_run(run)
    write_manifest(run)
    load_run(run)
