"""Fine-tuning the face network on several sources at once, and predicting with the run."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
import torch

from rostro.data.images import load_image
from rostro.data.synthetic import write_utkface
from rostro.faces.embedding import aligned_chips
from rostro.predict import AttributePredictor, predict_table
from rostro.training.multitask import MultiTaskConfig, multitask_loss, train_multitask


def test_the_loss_counts_only_known_cells_and_ages():
    out = torch.zeros(2, 3)  # two labels and age; output 0 is age 30
    target = torch.tensor([[1.0, float("nan")], [float("nan"), float("nan")]])
    age = torch.tensor([float("nan"), 50.0])
    loss = multitask_loss(out, target, age, 2, age_weight=1.0)
    assert float(loss) == pytest.approx(np.log(2) + 2.0)  # one BCE cell at p=0.5; |0 - (50-30)/10|
    assert float(multitask_loss(out, target, torch.full((2,), float("nan")), 2, 1.0)) == pytest.approx(np.log(2))


@pytest.fixture(scope="module")
def multitask_run(celeba_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("mt")
    utk = write_utkface(root / "utk", 24, seed=2)
    cfg = MultiTaskConfig(sources=[{"data": str(celeba_dir), "labels": ["Male", "Smiling"]},
                                   {"data": str(utk), "format": "utkface", "chips": "centre"}],
                          out=str(root / "run"), epochs=1, batch_size=8, limit=12, progress=False,
                          cache_dir=str(root / "cache"), hidden=16)  # fmt: skip
    return train_multitask(cfg)


def test_a_run_predicts_attributes_and_age_from_chips(multitask_run, celeba_dir, tmp_path):
    info = json.loads((multitask_run / "run.json").read_text())
    assert info["input"] == "chip" and info["labels"] == ["Male", "Smiling"] and "age" in info["regression"]
    assert {"mean_accuracy", "age_mae"} <= set(info["validation"])
    assert (multitask_run / "calibration.json").is_file() and (multitask_run / "history.csv").is_file()
    pred = AttributePredictor(multitask_run)
    assert pred.values == ["age"] and pred.fusion is None and pred.calibration is not None
    paths = sorted((celeba_dir / "img_align_celeba").glob("*.jpg"))[:6]
    frame = predict_table(pred, paths, tmp_path / "p.csv", aligned=True, progress=False)
    assert list(frame.columns[-3:]) == ["Male", "Smiling", "age"]
    assert frame["age"].notna().all() and frame[["Male", "Smiling"]].stack().between(0, 1).all()
    again = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_allclose(again["age"], frame["age"])
    torch_pred = AttributePredictor(multitask_run, runtime="torch")
    chips = aligned_chips([load_image(p) for p in paths])
    a, b = pred.predict_outputs(chips), torch_pred.predict_outputs(chips)
    np.testing.assert_allclose(a[0], b[0], atol=1e-4)
    np.testing.assert_allclose(a[1], b[1], atol=1e-3)
