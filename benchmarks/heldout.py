"""Attribute, gender and age figures on the test split of every shared set, for any run.

The split is model v2's (``configs/model_v2.yaml``): celeba-aligned keeps v1's identity split,
the other CelebA identities are split with the seed across the three CelebA folders, UTKFace by
file. Neither v1 nor v2 trained on a face scored here, so both are measured on the same faces.
Predictions go through ``rostro predict`` (aligned crops, or photos with detection).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from rostro.config import from_dict
from rostro.evaluation.calibration import expected_calibration_error
from rostro.inference.predict import AttributePredictor, predict_table
from rostro.training.multitask import MultiTaskConfig, multitask_table

ROOT = Path(__file__).resolve().parents[1]
SPLIT_CONFIG = ROOT / "configs" / "model_v2.yaml"


def test_table(shared: Path, split: str = "test") -> tuple[pd.DataFrame, list[str], MultiTaskConfig]:
    """The ``split`` rows of every source, with ``shared`` in place of the config's ``../shared/data``."""
    data = yaml.safe_load(SPLIT_CONFIG.read_text())
    for source in data["sources"]:
        source["data"] = source["data"].replace("../shared/data", str(shared))
    data["exclude"] = [e.replace("../shared/data", str(shared)) for e in data.get("exclude") or []]
    data["split_from"] = str(ROOT / data["split_from"])
    cfg = from_dict(MultiTaskConfig, {**data, "progress": False})
    table, labels = multitask_table(cfg)
    return table[table["split"] == split].reset_index(drop=True), labels, cfg


def predictions(run: Path, paths: list[str], aligned: bool, out: Path) -> pd.DataFrame:
    """``rostro predict``'s table for ``paths`` (kept in ``out`` and resumed)."""
    pred = AttributePredictor(run)
    return predict_table(pred, paths, out, aligned=aligned, progress=False, workers=2).set_index("path").loc[paths]


def attribute_figures(preds: pd.DataFrame, truth: pd.DataFrame, labels: list[str]) -> dict:
    """Accuracy at the model's 0.5 and ECE per attribute over the faces found (a miss counts wrong)."""
    acc, ece = {}, {}
    for name in labels:
        known = truth[name].notna().to_numpy()
        y = truth[name].to_numpy()[known] > 0.5
        p = preds[name].to_numpy(float)[known]
        acc[name] = float(((np.nan_to_num(p, nan=-1) >= 0.5) == y).mean())
        found = ~np.isnan(p)
        ece[name] = expected_calibration_error(y[found], p[found])
    return {"accuracy": acc, "ece": ece, "mean_accuracy": float(np.mean(list(acc.values()))),
            "mean_ece": float(np.mean(list(ece.values()))), "max_ece": float(np.max(list(ece.values()))),
            "worst_ece": max(ece, key=ece.get)}  # fmt: skip


def symlink_folder(paths: list[str], folder: Path) -> Path:
    """A folder of links to ``paths`` (names kept), for readers that take a folder (UTKFace)."""
    folder.mkdir(parents=True, exist_ok=True)
    wanted = {Path(p).name: Path(p) for p in paths}
    for link in folder.iterdir():
        if link.name not in wanted:
            link.unlink()
    for name, target in wanted.items():
        if not (folder / name).exists():
            (folder / name).symlink_to(target.resolve())
    return folder
