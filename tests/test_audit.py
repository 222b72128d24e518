"""Audit, verification and t-SNE commands on synthetic embeddings with a known structure."""

import dataclasses
import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rostro.cli import app
from rostro.commands import AuditConfig, TsneConfig, VerifyEvalConfig, audit, tsne, verify_eval
from rostro.errors import RostroError


@pytest.fixture(scope="module")
def embeddings(tmp_path_factory):
    """Two groups; the label sits on a different axis in each, so cross-group transfer fails."""
    rng = np.random.default_rng(0)
    rows = []
    for person in range(120):
        group = "a" if person < 60 else "b"
        centre = rng.normal(size=16)
        male = int(rng.random() < 0.5)
        centre[0 if group == "a" else 1] = 3.0 if male else -3.0
        for _ in range(3):
            vec = centre + rng.normal(scale=0.35, size=16)
            rows.append({"path": f"{person}_{len(rows)}.jpg", "identity": str(person), "group": group,
                         "Male": male, "face_found": True, "error": "", "embedding": vec.tolist()})  # fmt: skip
    rows.append({"path": "none.jpg", "identity": "x", "group": "a", "Male": 0, "face_found": False,
                 "error": "no face found", "embedding": None})  # fmt: skip
    path = tmp_path_factory.mktemp("emb") / "emb.parquet"
    pd.DataFrame(rows).to_parquet(path)
    return path


def test_audit_cross_group_and_report(embeddings, tmp_path):
    res = audit(AuditConfig(embeddings=str(embeddings), label="Male", groups=["group"],
                            out=str(tmp_path), n_boot=50))  # fmt: skip
    result, cross, html = res.audit, res.cross, res.html
    assert set(result.by_group.index) == {"a", "b"} and (result.by_group["accuracy"] > 0.9).all()
    acc = cross.accuracy.astype(float)
    assert acc.loc["a", "a"] > 0.9 and acc.loc["b", "b"] > 0.9 and acc.loc["all", "a"] > 0.9
    assert acc.loc["a", "b"] < 0.8 and acc.loc["b", "a"] < 0.8
    data = json.loads((tmp_path / "audit.json").read_text())
    assert set(data["cross_group"]["accuracy"]) == {"a", "b", "all"}
    assert html.is_file() and (tmp_path / "cross_group.png").is_file()


def test_verify_eval_separates_identities(embeddings, tmp_path):
    res = verify_eval(VerifyEvalConfig(embeddings=str(embeddings), group="group", out=str(tmp_path),
                                       target_far=1e-2))  # fmt: skip
    result, per_group = res.verification, res.per_group
    assert result.n_genuine == 120 * 3 and result.eer < 0.05
    assert list(per_group.index) == ["a", "b"] and per_group["genuine_pairs"].sum() == 360
    saved = json.loads((tmp_path / "threshold.json").read_text())
    assert saved["threshold_at_target_far"] == pytest.approx(result.threshold_at_far(1e-2))
    for name in ("scores", "far_frr", "roc", "det"):
        assert (tmp_path / f"{name}.png").is_file()


def test_tsne_and_cli(embeddings, tmp_path):
    res = tsne(TsneConfig(embeddings=str(embeddings), colour="group", marker="Male", out=str(tmp_path)))
    coords, png = res.coords, res.png
    assert len(coords) == 360 and png.is_file()
    assert np.isfinite(coords[["x", "y"]].to_numpy()).all()
    runner = CliRunner()
    res = runner.invoke(app, ["audit", str(embeddings), "--label", "Male", "--group", "group", "--out",
                              str(tmp_path / "a")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "Cross-group accuracy" in res.output
    res = runner.invoke(app, ["tsne", str(embeddings), "--colour", "group", "--method", "pca"])
    assert res.exit_code == 2 and "method must be 'tsne' or 'umap'" in res.output
    res = runner.invoke(app, ["audit", str(embeddings), "--label", "Smiling", "--group", "group"])
    assert res.exit_code == 2 and "no column(s) ['Smiling']" in res.output


def test_audit_model_on_a_manifest_counts_misses_and_resumes(celeba_dir, tiny_run, tmp_path):
    from rostro.commands import ModelAuditConfig, audit_model
    from rostro.data.celeba import read_celeba

    ds = read_celeba(celeba_dir)
    frame = ds.frame.head(60).copy()
    (tmp_path / "img").mkdir()
    for p in frame["path"]:
        shutil.copy(p, tmp_path / "img")
    names = ["img/" + Path(p).name for p in frame["path"]]
    manifest = pd.DataFrame({"path": names, "Male": frame["Male"].to_numpy(),
                             "tone": np.where(np.arange(60) % 2 == 0, "p", "q")})  # fmt: skip
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"\xff\xd8 not a jpeg")
    manifest.loc[len(manifest)] = ["broken.jpg", 1, "q"]
    csv = tmp_path / "m.csv"
    manifest.to_csv(csv, index=False)
    cfg = ModelAuditConfig(data=str(csv), model=str(tiny_run), label="Male", groups=["tone"], aligned=True,
                           n_boot=20, out=str(tmp_path / "audit"))  # fmt: skip
    res = audit_model(cfg)
    preds = pd.read_csv(tmp_path / "audit" / "predictions.csv")
    assert len(preds) == 61 and preds["face_found"].sum() == 60
    assert res.found_rate["p"] == 1.0 and res.found_rate["q"] == pytest.approx(30 / 31)
    assert res.audit.by_group["count"].sum() == 60
    # the audit's accuracy is the model's own threshold applied to the stored probabilities
    from rostro.runs import load_run

    info = load_run(tiny_run)[1]
    t = info.thresholds[info.labels.index("Male")]
    preds["name"] = preds["path"].map(lambda p: Path(p).name)
    manifest["name"] = manifest["path"].map(lambda p: Path(p).name)
    ok = preds.dropna(subset=["Male"]).merge(manifest, on="name", suffixes=("_p", ""))
    expected = ((ok["Male_p"] >= t).astype(int) == ok["Male"]).groupby(ok["tone"]).mean()
    assert res.audit.by_group["accuracy"].to_dict() == pytest.approx(expected.to_dict(), abs=1e-6)
    assert res.mitigation is not None and res.mitigation.n_test + res.mitigation.n_fit == 60
    assert (tmp_path / "audit" / "report.html").read_text().count("<img") >= 2
    # a second run reuses predictions.csv: a changed stored probability shows up in the audit
    preds.loc[preds["face_found"], "Male"] = 1.0
    preds.drop(columns="name").to_csv(tmp_path / "audit" / "predictions.csv", index=False)
    again = audit_model(dataclasses.replace(cfg, mitigate=None))
    assert again.audit.overall["selection_rate"] == 1.0 and again.mitigation is None


def test_audit_model_names_a_missing_group(celeba_dir, tiny_run, tmp_path):
    from rostro.commands import ModelAuditConfig, audit_model
    from rostro.errors import RostroError

    with pytest.raises(RostroError, match=r"no column\(s\) \['race'\]"):
        audit_model(ModelAuditConfig(data=str(celeba_dir), model=str(tiny_run), groups=["race"],
                                     out=str(tmp_path)))  # fmt: skip


def test_audit_refuses_a_label_that_is_not_0_1_and_an_out_that_is_a_file(embeddings, tmp_path):
    with pytest.raises(RostroError, match=r"label 'group': expected 0/1 values, found \['a', 'b'\]; 0/1 columns: "
                                          r"\['Male'"):  # fmt: skip
        audit(AuditConfig(embeddings=str(embeddings), label="group", groups=["Male"], out=str(tmp_path / "r")))
    (tmp_path / "afile").write_text("x")
    with pytest.raises(RostroError, match="afile: expected a folder for the outputs, found a file"):
        audit(AuditConfig(embeddings=str(embeddings), label="Male", groups=["group"], out=str(tmp_path / "afile")))
