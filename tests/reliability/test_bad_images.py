"""Every entry point that reads images, fed the generated corpus of bad and awkward files:
a row or a one-line error naming the problem, never a traceback; good files still processed."""

import re

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from rostro.cli import app
from rostro.data.cache import build_cache
from rostro.data.images import list_images, load_image
from rostro.inference.predict import sample_photo
from rostro.serve.app import ServeConfig, create_app
from tests.reliability.corpus import write_corpus

BAD = {"empty file": "empty", "truncated": "truncated", "corrupt": "corrupt",
       "not a recognised image": "not a recognised", "exceeds the limit": "decompression bomb|exceeds the limit",
       "file not found": "file not found"}  # fmt: skip


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("corpus")
    return folder, write_corpus(folder, load_image(sample_photo()))


def test_every_file_is_a_row_with_a_face_or_the_reason(corpus, tmp_path):
    folder, expected = corpus
    out = tmp_path / "p.csv"
    res = CliRunner().invoke(app, ["predict", str(folder), "--out", str(out)])
    assert res.exit_code == 0, res.output
    frame = pd.read_csv(out, keep_default_na=False).set_index(pd.read_csv(out)["path"].map(lambda p: p.split("/")[-1]))
    listed = {p.name for p in list_images(folder)}
    assert set(frame.index) == listed == set(expected) - {"folder.jpg"}
    for name, outcome in expected.items():
        if name == "folder.jpg":
            continue
        row = frame.loc[name]
        if outcome in ("ok", "upright"):
            assert str(row["face_found"]) == "True" and row["n_faces"] == 1, (name, row["error"])
        elif outcome == "ok-tiny":
            assert row["error"] == "no face found"
        else:
            assert re.search(BAD[outcome], row["error"]), (name, row["error"])
    summary = re.sub(r"\s+", " ", res.output)
    n_ok = sum(o in ("ok", "upright") for o in expected.values())
    assert f"face found in {n_ok}" in summary and "no face in 1" in summary


def test_the_cache_skips_and_counts_bad_files(corpus, tmp_path):
    folder, expected = corpus
    paths = list_images(folder)
    cache = build_cache(paths, 32, cache_dir=tmp_path, workers=1, progress=False)
    bad = {paths[i].name for i in cache.errors}
    assert bad == {n for n, o in expected.items() if o in BAD}
    assert cache.valid.sum() == len(paths) - len(bad)
    good = paths.index(folder / "good.jpg")
    assert cache.images[good].std() > 10  # the good photo beside them was decoded


def test_exif_orientations_come_out_upright(corpus):
    folder, expected = corpus
    upright = load_image(folder / "exif_1.jpg").astype(int)
    for o in range(2, 9):
        img = load_image(folder / f"exif_{o}.jpg").astype(int)
        assert img.shape == upright.shape and np.abs(img - upright).mean() < 4, o


def test_the_service_answers_each_file_with_the_right_status(corpus, tiny_run):
    folder, expected = corpus
    status = {"ok": 200, "upright": 200, "ok-tiny": 200, "exceeds the limit": 413, "not a recognised image": 415}
    with TestClient(create_app(ServeConfig(model=str(tiny_run)))) as client:
        for name, outcome in expected.items():
            path = folder / name
            if not path.is_file():
                continue
            r = client.post("/analyze", files={"file": (name, path.read_bytes())})
            assert r.status_code == status.get(outcome, 422), (name, r.status_code, r.text[:200])
            if r.status_code != 200:
                assert re.search(BAD[outcome], r.json()["detail"]), (name, r.json())


def test_verify_names_the_bad_photo_in_one_line(corpus):
    folder, _ = corpus
    res = CliRunner().invoke(app, ["verify", str(folder / "good.jpg"), str(folder / "truncated.jpg")])
    assert res.exit_code == 2 and "truncated.jpg" in res.output and "Traceback" not in res.output
    res = CliRunner().invoke(app, ["verify", str(folder / "good.jpg"), str(folder / "one_pixel.png")])
    assert res.exit_code == 2 and "no face found" in res.output
    res = CliRunner().invoke(app, ["verify", str(folder / "good.jpg"), str(folder / "exif_6.jpg")])
    assert res.exit_code == 0 and "same" in res.output.lower()
