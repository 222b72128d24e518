"""The bad-image corpus through the entry points that read a labelled dataset (eda, embed, audit,
audit-model), and a file without read permission through every reader: each bad file is a row or
a named line, the good ones are still processed, and the printed counts match the files."""

import json
import os
import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from rostro.cli import app
from rostro.data.cache import build_cache
from rostro.data.images import load_image
from rostro.inference.predict import sample_photo
from tests.reliability.corpus import write_corpus
from tests.reliability.test_bad_images import BAD

GOOD = ("ok", "upright")


@pytest.fixture(scope="module")
def labelled(tmp_path_factory):
    """The corpus listed in a CSV manifest with a label, a group and an identity per file."""
    root = tmp_path_factory.mktemp("labelled")
    expected = write_corpus(root / "img", load_image(sample_photo()))
    names = sorted(expected)
    rows = [{"path": f"img/{n}", "Male": i % 2, "group": "AB"[i % 3 == 0], "identity": f"p{i // 2}"}
            for i, n in enumerate(names)]  # fmt: skip
    pd.DataFrame(rows).to_csv(root / "faces.csv", index=False)
    return root, expected


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_a_listed_file_that_is_missing_or_a_folder_is_named_unless_dropped(labelled, tmp_path):
    root, _ = labelled
    res = CliRunner().invoke(app, ["eda", str(root / "faces.csv"), "--out", str(tmp_path / "e")])
    out = _flat(res.output)
    assert res.exit_code == 2 and "Traceback" not in res.output
    assert "2 listed image(s) not found" in out and "img/dangling.jpg" in out and "img/folder.jpg" in out
    assert "--drop-missing" in out


def test_eda_reports_each_unreadable_sample_by_name(labelled, tmp_path):
    root, expected = labelled
    out = tmp_path / "eda"
    args = ["eda", str(root / "faces.csv"), "--drop-missing", "--out", str(out)]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    assert summary["n_images"] == len(expected) - 2 and summary["dropped_images"] == 2
    bad = summary["unreadable_in_sample"]
    assert bad, "the sample drew no unreadable file: the test needs a larger draw"
    for item in bad:
        name = item["path"].split("/")[-1]
        assert re.search(BAD[expected[name]], item["reason"]), item
        assert name in _flat(res.output)
    assert (out / "samples.png").stat().st_size > 1000


@pytest.fixture(scope="module")
def embedded(labelled, tmp_path_factory):
    root, _ = labelled
    out = tmp_path_factory.mktemp("emb") / "e.parquet"
    res = CliRunner().invoke(app, ["embed", str(root / "faces.csv"), "--drop-missing", "--workers", "1", "--out",
                                   str(out)])  # fmt: skip
    return out, res


def test_embed_gives_every_file_a_row_and_counts_match(labelled, embedded):
    _, expected = labelled
    out, res = embedded
    assert res.exit_code == 0, res.output
    frame = pd.read_parquet(out)
    frame.index = frame["path"].map(lambda p: p.split("/")[-1])
    assert set(frame.index) == set(expected) - {"dangling.jpg", "folder.jpg"}
    for name, row in frame.iterrows():
        outcome = expected[name]
        if outcome in GOOD:
            assert row["face_found"] and len(row["embedding"]) == 128, (name, row["error"])
        elif outcome == "ok-tiny":
            assert row["error"] == "no face found"
        else:
            assert not row["face_found"] and re.search(BAD[outcome], row["error"]), (name, row["error"])
    n_good = sum(o in GOOD for o in expected.values())
    n_bad = len(frame) - n_good - 1
    assert f"{len(frame)} images, {n_good} embedded, 1 without a face, {n_bad} unreadable" in _flat(res.output)


def test_audit_leaves_out_rows_without_an_embedding_and_says_how_many(labelled, embedded, tmp_path, caplog):
    out, _ = embedded
    frame = pd.read_parquet(out)
    res = CliRunner().invoke(app, ["audit", str(out), "--label", "Male", "--group", "group", "--out",
                                   str(tmp_path / "a")])  # fmt: skip
    assert res.exit_code == 0, res.output
    missing = int((~frame["face_found"]).sum())
    assert f"{missing} of {len(frame)} images have no embedding" in caplog.text
    audit = json.loads((tmp_path / "a" / "audit.json").read_text())["audit"]
    held_out = audit["overall"]["count"]
    assert 0 < held_out < len(frame) - missing  # a held-out part of the embedded rows only
    assert sum(g["count"] for g in audit["by_group"].values()) == held_out


def test_audit_model_counts_faces_no_faces_and_unreadable_files(labelled, tiny_run, tmp_path):
    root, expected = labelled
    args = ["audit-model", str(root / "faces.csv"), "--model", str(tiny_run), "--group", "group", "--drop-missing",
            "--mitigate", "none", "--out", str(tmp_path / "m")]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    n_good = sum(o in GOOD for o in expected.values())
    n_bad = len(expected) - 2 - n_good - 1
    assert f"a face found in {n_good}, no face in 1, {n_bad} unreadable" in _flat(res.output)
    preds = pd.read_csv(tmp_path / "m" / "predictions.csv", keep_default_na=False)
    assert len(preds) == len(expected) - 2


@pytest.fixture
def unreadable(tmp_path, monkeypatch):
    """A good photo and one without read permission (simulated for root, who can read anything)."""
    folder = tmp_path / "perm"
    expected = write_corpus(folder, load_image(sample_photo()))
    locked = folder / "locked.jpg"
    locked.write_bytes((folder / "good.jpg").read_bytes())
    locked.chmod(0)
    if os.geteuid() == 0:
        real = os.access
        monkeypatch.setattr(os, "access", lambda p, mode, **kw: "locked" not in str(p) and real(p, mode, **kw))
    keep = {"good.jpg", "locked.jpg"}
    for name in set(expected) - keep:
        path = folder / name
        path.rmdir() if path.is_dir() and not path.is_symlink() else path.unlink()
    return folder


def test_a_file_without_read_permission_is_a_named_row_everywhere(unreadable, tmp_path):
    folder = unreadable
    out = tmp_path / "p.csv"
    res = CliRunner().invoke(app, ["predict", str(folder), "--out", str(out)])
    assert res.exit_code == 0, res.output
    rows = pd.read_csv(out, keep_default_na=False).set_index("path")
    assert rows.loc[str(folder / "locked.jpg"), "error"] == "permission denied"
    assert str(rows.loc[str(folder / "good.jpg"), "face_found"]) == "True"
    cache = build_cache([folder / "good.jpg", folder / "locked.jpg"], 32, cache_dir=tmp_path, workers=1,
                        progress=False)  # fmt: skip
    assert list(cache.errors) == [1] and "permission denied" in cache.errors[1]
    res = CliRunner().invoke(app, ["verify", str(folder / "good.jpg"), str(folder / "locked.jpg")])
    assert res.exit_code == 2 and "locked.jpg" in res.output and "permission denied" in res.output


def test_train_leaves_out_each_unreadable_file_and_counts_them(labelled, tmp_path, caplog):
    root, expected = labelled
    args = ["train", str(root / "faces.csv"), "--drop-missing", "--out", str(tmp_path / "run"), "--model", "small_cnn",
            "--input-size", "32", "--epochs", "1", "--threads", "1"]  # fmt: skip
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    n_bad = sum(o in BAD and o != "file not found" for o in expected.values())  # the dangling link: dropped
    assert f"{n_bad} unreadable image(s) left out" in caplog.text
    assert (tmp_path / "run" / "best.pt").is_file()
