"""Model routes compared on validation faces only: the shipped v1 (CNN fused with the embedding),
a multitask run of the face network (v2), and the two averaged.

Run: ``python -m benchmarks.routes --run runs/model_v2 [--v1 rostro/weights/celeba_attr_net]``.
Every face here is in the validation split of the v2 run (v1's validation identities for
celeba-aligned), so the choice it informs never looks at a test face. A run calibrated on this
split (v2) is measured on the faces its calibration saw: its figures here are optimistic by that
much. Prints one table.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

from rostro.config import load_config
from rostro.inference.predict import SHIPPED_RUN, AttributePredictor
from rostro.training.multitask import MultiTaskConfig, multitask_table


def _probs(pred: AttributePredictor, paths: list[str], aligned: bool) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Probabilities (NaN where no face), ages (NaN likewise) and face found, per path."""
    results = pred.predict_paths(paths, aligned=aligned, progress=False, workers=2)
    probs = np.full((len(paths), len(pred.labels)), np.nan)
    ages = np.full(len(paths), np.nan)
    found = np.zeros(len(paths), bool)
    for i, r in enumerate(results):
        if r.faces:
            probs[i] = [r.faces[0].probabilities[n] for n in pred.labels]
            ages[i] = r.faces[0].values.get("age", np.nan)
            found[i] = True
    return probs, ages, found


def _accuracy(probs: np.ndarray, truth: np.ndarray) -> float:
    """Accuracy at 0.5 over the known cells; a face not found counts wrong."""
    known = ~np.isnan(truth)
    right = (np.nan_to_num(probs, nan=-1) >= 0.5) == (truth > 0.5)
    return float(right[known].mean())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--run", type=Path, required=True)
    ap.add_argument("--v1", type=Path, default=SHIPPED_RUN.parent / "celeba_attr_net")
    args = ap.parse_args()
    cfg = load_config(MultiTaskConfig, args.run / "config.yaml", progress=False)
    table, labels = multitask_table(cfg)
    val = table[table["split"] == "validation"].reset_index(drop=True)
    v1, v2 = AttributePredictor(args.v1), AttributePredictor(args.run)
    assert v1.labels == labels[: len(v1.labels)]
    rows = []
    for i, src in enumerate(cfg.parsed):
        part = val[val["source"] == i]
        aligned = src.chips == "aligned"
        paths = part["path"].tolist()
        p1, _, _ = _probs(v1, paths, aligned)
        p2, ages, _ = _probs(v2, paths, aligned)
        both = (p1 + p2) / 2
        name = Path(src.data).parts[-1] if Path(src.data).name != "UTKFace" else Path(src.data).parts[-2]
        truth = part[labels].to_numpy()
        if not np.isnan(truth[:, 0]).all():
            rows.append((name, len(part), "mean accuracy, 40", *(_accuracy(p, truth) for p in (p1, p2, both))))
        male = labels.index("Male")
        rows.append((name, len(part), "Male", *(_accuracy(p[:, male], truth[:, male]) for p in (p1, p2, both))))
        if "race" in part and part["race"].notna().any():
            for race, grp in part.groupby("race"):
                rows_at = part.index.get_indexer(grp.index)
                rows.append((name, len(grp), f"Male, {race}",
                             *(_accuracy(p[rows_at, male], truth[rows_at, male]) for p in (p1, p2, both))))  # fmt: skip
            age = part["age"].to_numpy()
            bands = {"all": np.ones(len(part), bool), "5-17": (age >= 5) & (age <= 17), "76+": age >= 76}
            for band, mask in bands.items():
                if mask.any() and band != "all":
                    rows.append((name, int(mask.sum()), f"Male, age {band}",
                                 *(_accuracy(p[mask, male], truth[mask, male]) for p in (p1, p2, both))))  # fmt: skip
            err = np.abs(ages - age)
            rows.append((name, int((~np.isnan(err)).sum()), "age MAE (v2)", np.nan, float(np.nanmean(err)), np.nan))
    print("| source | faces | figure | v1 fused | v2 face network | averaged |\n|---|---|---|---|---|---|")
    for name, n, figure, *values in rows:
        print(f"| {name} | {n} | {figure} | " + " | ".join("" if np.isnan(v) else f"{v:.4f}" for v in values) + " |")


if __name__ == "__main__":
    main()
