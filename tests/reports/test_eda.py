import json

import numpy as np
import pandas as pd
import pytest

from rostro.data import read_celeba
from rostro.data.sampling import ensure_splits
from rostro.data.stats import describe_dataset
from rostro.reports.eda import write_eda_report


def test_figures_match_a_direct_computation(celeba_dir):
    ds = ensure_splits(read_celeba(celeba_dir), seed=0)
    s = describe_dataset(ds, target="Male", top_k=3)
    train = ds.frame[ds.frame["split"] == "train"]
    assert s.n_train == len(train) and s.split_sizes == ds.split_sizes()
    assert s.class_balance["positive"] == int(train["Male"].sum())
    assert s.prevalence["Smiling"] == pytest.approx(train["Smiling"].mean(), abs=1e-4)
    r = np.corrcoef(train["Male"], train["No_Beard"])[0, 1]
    assert s.correlation.loc["Male", "No_Beard"] == pytest.approx(r)
    assert len(s.top_positive) <= 3 and all(v > 0 for *_, v in s.top_positive)
    assert s.top_negative[0][2] == pytest.approx(
        np.nanmin(np.where(np.eye(len(ds.labels)), np.nan, s.correlation)), abs=1e-4
    )


def test_statistics_ignore_validation_and_test(celeba_dir):
    ds = ensure_splits(read_celeba(celeba_dir), seed=0)
    frame = ds.frame.copy()
    frame.loc[frame["split"] != "train", "Male"] = 1 - frame.loc[frame["split"] != "train", "Male"]
    a = describe_dataset(ds, target="Male")
    b = describe_dataset(ds.with_frame(frame), target="Male")
    assert a.prevalence == b.prevalence and a.class_balance == b.class_balance


def test_planted_correlation_is_found():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 2, 500)
    frame = pd.DataFrame(
        {
            "image_id": range(500),
            "path": "x",
            "split": "train",
            "A": a,
            "B": a,
            "C": 1 - a,
            "D": rng.integers(0, 2, 500),
        }
    )
    from rostro.data.dataset import FaceDataset

    ds = FaceDataset(frame=frame, labels=["A", "B", "C", "D"], source="toy", root=__import__("pathlib").Path("."))
    s = describe_dataset(ds)
    assert s.top_positive[0] == ("A", "B", 1.0)
    assert {s.top_negative[0][:2], s.top_negative[1][:2]} == {("A", "C"), ("B", "C")}


def test_report_files(celeba_dir, tmp_path):
    ds = ensure_splits(read_celeba(celeba_dir), seed=0)
    s = describe_dataset(ds, target="Male")
    html, unreadable = write_eda_report(s, ds, tmp_path / "r", samples=8)
    assert unreadable == []
    for name in ("splits.png", "class_balance.png", "prevalence.png", "correlation.png", "samples.png"):
        assert (tmp_path / "r" / name).stat().st_size > 1000
    text = html.read_text()
    assert "correlation.png" in text and "training split only" in text
    data = json.loads((tmp_path / "r" / "summary.json").read_text())
    assert data["class_balance"] == s.class_balance and data["n_train"] == s.n_train
    assert data["correlation"]["Male"]["Male"] == 1.0
