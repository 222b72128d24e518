"""Fitting and measuring calibration: ECE, reliability curves, and per-label maps chosen on validation.

For each label, temperature scaling and isotonic regression are compared by cross-validation
within the validation split (fit on some folds, expected calibration error on the held-out
fold); the winner is refitted on the whole split. Isotonic wins where the miscalibration is not
a simple over- or under-confidence, temperature where the split is small.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.optimize import minimize_scalar
from sklearn.isotonic import IsotonicRegression

from rostro.models.calibration import Calibration, LabelMap, sigmoid

ECE_BINS = 15


def expected_calibration_error(y_true: np.ndarray, probs: np.ndarray, bins: int = ECE_BINS) -> float:
    """Equal-width ECE: the share-weighted gap between mean probability and frequency per bin."""
    y_true, probs = np.asarray(y_true, float), np.asarray(probs, float)
    if len(y_true) == 0:
        return float("nan")
    which = np.minimum((probs * bins).astype(int), bins - 1)
    gap = 0.0
    for b in range(bins):
        inside = which == b
        if inside.any():
            gap += inside.sum() * abs(probs[inside].mean() - y_true[inside].mean())
    return float(gap / len(y_true))


def reliability_curve(y_true: np.ndarray, probs: np.ndarray, bins: int = ECE_BINS) -> pd.DataFrame:
    """Per bin: mean probability, observed frequency and count (bins with no face left out)."""
    y_true, probs = np.asarray(y_true, float), np.asarray(probs, float)
    which = np.minimum((probs * bins).astype(int), bins - 1)
    rows = [{"bin": b, "mean_probability": probs[which == b].mean(), "frequency": y_true[which == b].mean(),
             "count": int((which == b).sum())} for b in range(bins) if (which == b).any()]  # fmt: skip
    return pd.DataFrame(rows, columns=["bin", "mean_probability", "frequency", "count"])


def fit_temperature(logits: np.ndarray, y_true: np.ndarray) -> LabelMap:
    """The temperature that minimises log-loss (searched over 0.05 to 20, on a log scale)."""
    y = np.asarray(y_true, float)

    def nll(log_t: float) -> float:
        p = np.clip(sigmoid(logits / np.exp(log_t)), 1e-7, 1 - 1e-7)
        return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))

    best = minimize_scalar(nll, bounds=(np.log(0.05), np.log(20)), method="bounded")
    return LabelMap("temperature", float(np.exp(best.x)))


def fit_isotonic(logits: np.ndarray, y_true: np.ndarray) -> LabelMap:
    """A monotone map from logit to frequency, stored as the curve's knots."""
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(logits, y_true)
    x, y = iso.X_thresholds_, iso.y_thresholds_
    if len(x) < 2:  # a constant: keep two knots so the map is valid
        x, y = np.array([x[0] - 1, x[0] + 1]), np.array([y[0], y[0]])
    return LabelMap("isotonic", 1.0, tuple(map(float, x)), tuple(map(float, y)))


FITTERS = {"temperature": fit_temperature, "isotonic": fit_isotonic}


def choose_map(logits: np.ndarray, y_true: np.ndarray, *, folds: int = 5, seed: int = 0) -> tuple[LabelMap, dict]:
    """The map with the lower cross-validated ECE among none, temperature and isotonic, refitted on all
    rows; with the cross-validated ECE of each."""
    logits, y_true = np.asarray(logits, float), np.asarray(y_true, float)
    order = np.random.default_rng(seed).permutation(len(logits))
    parts = np.array_split(order, folds)
    cv = {"none": 0.0, **dict.fromkeys(FITTERS, 0.0)}
    for k in range(folds):
        test = parts[k]
        train = np.concatenate([p for j, p in enumerate(parts) if j != k])
        cv["none"] += expected_calibration_error(y_true[test], sigmoid(logits[test])) / folds
        for name, fit in FITTERS.items():
            cv[name] += (
                expected_calibration_error(y_true[test], fit(logits[train], y_true[train])(logits[test])) / folds
            )
    best = min(cv, key=cv.get)
    return (LabelMap() if best == "none" else FITTERS[best](logits, y_true)), cv


def fit_calibration(
    logits: np.ndarray, targets: np.ndarray, labels: list[str], *, seed: int = 0
) -> tuple[Calibration, pd.DataFrame]:
    """Per-label maps fitted on validation ``logits`` (N x labels) against ``targets`` (1/0, NaN where
    unknown), and a table of each label's cross-validated ECE per method and the choice."""
    maps, rows = [], []
    for j, name in enumerate(labels):
        known = ~np.isnan(targets[:, j])
        if known.sum() < 20 or len(np.unique(targets[known, j])) < 2:
            maps.append(LabelMap())
            rows.append({"label": name, "chosen": "none", "faces": int(known.sum())})
            continue
        chosen, cv = choose_map(logits[known, j], targets[known, j], seed=seed)
        maps.append(chosen)
        rows.append(
            {
                "label": name,
                "chosen": chosen.method,
                "faces": int(known.sum()),
                **{f"cv_ece_{k}": v for k, v in cv.items()},
            }
        )
    return Calibration(list(labels), maps), pd.DataFrame(rows)
