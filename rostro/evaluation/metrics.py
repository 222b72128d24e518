"""Classification metrics (scikit-learn underneath), per-attribute tables and threshold tuning."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn import metrics as skm

from rostro.evaluation.calibration import expected_calibration_error, reliability_curve

SEARCHED_METRICS = ("balanced_accuracy", "f1", "accuracy")
THRESHOLD_METRICS = (*SEARCHED_METRICS, "none")


def _check(y_true: np.ndarray, scores: np.ndarray, caller: str) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    if y.shape != s.shape:
        raise ValueError(f"{caller}: labels have shape {y.shape} but scores have shape {s.shape}")
    if y.size == 0:
        raise ValueError(f"{caller}: no samples to score")
    if not np.isin(y, [0, 1]).all():
        raise ValueError(f"{caller}: labels must be 0/1, found {np.unique(y)[:5]}")
    if not np.isfinite(s).all():
        raise ValueError(f"{caller}: scores contain NaN or infinity")
    return y.astype(np.int8), s


def binary_metrics(y_true: Sequence[int], scores: Sequence[float], threshold: float = 0.5) -> dict[str, float]:
    """Accuracy, balanced accuracy, precision, recall, F1, ROC-AUC and the confusion counts."""
    y, s = _check(np.asarray(y_true), np.asarray(scores), "binary_metrics")
    pred = (s >= threshold).astype(np.int8)
    tn, fp, fn, tp = skm.confusion_matrix(y, pred, labels=[0, 1]).ravel()
    both = len(np.unique(y)) == 2
    prevalence = float(y.mean())
    return {
        "n": int(len(y)),
        "threshold": float(threshold),
        "prevalence": prevalence,
        "accuracy": float(skm.accuracy_score(y, pred)),
        "balanced_accuracy": float(skm.balanced_accuracy_score(y, pred)) if both else float("nan"),
        "precision": float(skm.precision_score(y, pred, zero_division=0)),
        "recall": float(skm.recall_score(y, pred, zero_division=0)),
        "f1": float(skm.f1_score(y, pred, zero_division=0)),
        "roc_auc": float(skm.roc_auc_score(y, s)) if both else float("nan"),
        "majority_baseline": max(prevalence, 1 - prevalence),
        "tn": int(tn),
        "fp": int(fp),
        "fn": int(fn),
        "tp": int(tp),
    }


def attribute_table(
    y_true: np.ndarray, scores: np.ndarray, names: Sequence[str], thresholds: Sequence[float] | float = 0.5
) -> pd.DataFrame:
    """One row of :func:`binary_metrics` per attribute, sorted by error (worst first)."""
    y, s = _check(np.asarray(y_true), np.asarray(scores), "attribute_table")
    if y.ndim != 2 or y.shape[1] != len(names):
        raise ValueError(f"attribute_table: expected N x {len(names)} labels, got {y.shape}")
    th = np.broadcast_to(np.asarray(thresholds, dtype=float), (len(names),))
    rows = [{"attribute": n, **binary_metrics(y[:, j], s[:, j], th[j]),
             "ece": expected_calibration_error(y[:, j], s[:, j])} for j, n in enumerate(names)]  # fmt: skip
    table = pd.DataFrame(rows).set_index("attribute")
    table["error"] = 1 - table["accuracy"]
    table["gain_over_majority"] = table["accuracy"] - table["majority_baseline"]
    return table.sort_values("error", ascending=False)


def summarise_table(table: pd.DataFrame) -> dict[str, float]:
    """Means over attributes, with the majority baseline beside them."""
    return {
        "mean_accuracy": float(table["accuracy"].mean()),
        "mean_balanced_accuracy": float(table["balanced_accuracy"].mean()),
        "mean_f1": float(table["f1"].mean()),
        "mean_roc_auc": float(table["roc_auc"].mean()),
        "mean_majority_baseline": float(table["majority_baseline"].mean()),
        "mean_ece": float(table["ece"].mean()),
        "max_ece": float(table["ece"].max()),
    }


def best_threshold(
    y_true: np.ndarray,
    scores: np.ndarray,
    *,
    metric: str = "accuracy",
    ties: str = "highest",
    accept_none: bool = False,
) -> float:
    """The threshold that maximises ``metric`` on these labels, from one sort (O(n log n)).

    Candidates accept the top k distinct scores, halfway to the next one down (just below the
    lowest when all are accepted); ``accept_none`` adds the one above every score, which label
    thresholds leave out as they are there to accept some faces. ``ties`` picks among equally
    good candidates: ``highest`` (threshold tuning's choice) or ``lowest`` (the LFW protocol's).
    """
    if metric not in SEARCHED_METRICS:
        raise ValueError(f"metric must be one of {SEARCHED_METRICS}, got {metric!r}")
    if ties not in ("highest", "lowest"):
        raise ValueError(f"ties must be 'highest' or 'lowest', got {ties!r}")
    y, s = _check(np.asarray(y_true), np.asarray(scores), "best_threshold")
    if metric != "accuracy" and len(np.unique(y)) < 2:
        raise ValueError(f"best_threshold: {metric} needs both classes")
    order = np.argsort(-s, kind="stable")
    ys, ss = y[order], s[order]
    last = np.r_[np.flatnonzero(np.diff(ss)), len(ss) - 1]  # the last of each run of equal scores
    tp, fp = np.cumsum(ys)[last], np.cumsum(1 - ys)[last]
    P, N = tp[-1], fp[-1]
    upper, lower = ss[last], np.r_[ss[last[:-1] + 1], ss[-1] - 1e-6]
    if accept_none:
        tp, fp = np.r_[0, tp], np.r_[0, fp]
        upper, lower = np.r_[ss[0] + 1e-6, upper], np.r_[ss[0], lower]
    if metric == "balanced_accuracy":
        value = 0.5 * (tp / P + (N - fp) / N)
    elif metric == "f1":
        value = 2 * tp / (tp + fp + P)
    else:
        value = (tp + N - fp) / (P + N)
    k = int(np.argmax(value)) if ties == "highest" else len(value) - 1 - int(np.argmax(value[::-1]))
    return float((upper[k] + lower[k]) / 2)


def tune_threshold(y_true: np.ndarray, scores: np.ndarray, metric: str = "balanced_accuracy") -> float:
    """The score threshold that maximises ``metric`` (balanced accuracy, F1 or accuracy) on these labels.

    Call it on validation data only; the threshold is then fixed for the test split. ``none``
    keeps 0.5: for calibrated probabilities that is where accuracy peaks in expectation, and
    tuning it on a small validation split mostly fits noise (shipped model, tuning on half of the
    validation identities and scoring the other half: mean accuracy 0.8984 tuned, 0.9001 at 0.5).
    One class only also keeps 0.5.
    """
    if metric not in THRESHOLD_METRICS:
        raise ValueError(f"metric must be one of {THRESHOLD_METRICS}, got {metric!r}")
    y, s = _check(np.asarray(y_true), np.asarray(scores), "tune_threshold")
    if metric == "none" or len(np.unique(y)) < 2:
        return 0.5
    return best_threshold(y, s, metric=metric)


def tune_thresholds(y_true: np.ndarray, scores: np.ndarray, metric: str = "balanced_accuracy") -> np.ndarray:
    """:func:`tune_threshold` for each column of a multi-label problem."""
    y, s = np.asarray(y_true), np.asarray(scores)
    return np.array([tune_threshold(y[:, j], s[:, j], metric) for j in range(y.shape[1])])


@dataclass(kw_only=True)
class EvaluationResult:
    """Everything an evaluation report shows, computed once."""

    split: str
    n: int
    table: pd.DataFrame
    summary: dict[str, float]
    thresholds: dict[str, float]
    roc: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)
    pr: dict[str, tuple[np.ndarray, np.ndarray]] = field(repr=False)
    reliability: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False)

    def to_dict(self) -> dict:
        return {
            "split": self.split,
            "n": self.n,
            "summary": self.summary,
            "thresholds": self.thresholds,
            "attributes": json.loads(self.table.to_json(orient="index")),
        }


def evaluate_scores(
    y_true: np.ndarray, scores: np.ndarray, names: Sequence[str], thresholds: Sequence[float], *, split: str
) -> EvaluationResult:
    """Per-attribute table, means, and ROC / precision-recall curve points."""
    table = attribute_table(y_true, scores, names, thresholds)
    roc, pr, reliability = {}, {}, {}
    for j, name in enumerate(names):
        reliability[name] = reliability_curve(y_true[:, j], scores[:, j])
        if len(np.unique(y_true[:, j])) == 2:
            fpr, tpr, _ = skm.roc_curve(y_true[:, j], scores[:, j])
            prec, rec, _ = skm.precision_recall_curve(y_true[:, j], scores[:, j])
            roc[name], pr[name] = (fpr, tpr), (rec, prec)
    return EvaluationResult(
        split=split,
        n=int(len(y_true)),
        table=table,
        summary=summarise_table(table),
        thresholds={n: float(t) for n, t in zip(names, thresholds, strict=True)},
        roc=roc,
        pr=pr,
        reliability=reliability,
    )
