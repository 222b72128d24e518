"""Fairness audit: metrics per group (fairlearn's MetricFrame), gaps and ratios between groups,
and the cross-group matrix (train on group i, test on j).

Bootstrap intervals cost ``n_boot`` refits of every metric, so they are opt-in: with the
default ``n_boot=0`` the interval columns are there but NaN.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from fairlearn.metrics import (
    MetricFrame,
    count,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    equalized_odds_ratio,
    false_negative_rate,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)
from sklearn.metrics import accuracy_score
from sklearn.model_selection import GroupShuffleSplit, train_test_split

from rostro.data.dataset import group_keys, group_name

METRICS: dict[str, Callable] = {
    "accuracy": accuracy_score,
    "tpr": true_positive_rate,
    "fpr": false_positive_rate,
    "fnr": false_negative_rate,
    "selection_rate": selection_rate,
    "count": count,
}


@dataclass(kw_only=True)
class AuditResult:
    """Per-group metrics with 95% bootstrap intervals (NaN without bootstrap), and the gaps between groups."""

    overall: pd.Series
    by_group: pd.DataFrame
    ci_low: pd.DataFrame
    ci_high: pd.DataFrame
    difference: pd.Series
    ratio: pd.Series
    gaps: dict[str, float] = field(default_factory=dict)

    def table(self) -> pd.DataFrame:
        """One row per group: each metric with its interval as 'value [low, high]' columns."""
        out = pd.DataFrame(index=self.by_group.index)
        for m in self.by_group.columns:
            out[m] = self.by_group[m]
            if m != "count":
                out[f"{m}_low"], out[f"{m}_high"] = self.ci_low[m], self.ci_high[m]
        return out

    def to_dict(self) -> dict:
        return {
            "overall": self.overall.to_dict(),
            "by_group": json_safe(self.table()),
            "difference": self.difference.to_dict(),
            "ratio": self.ratio.to_dict(),
            "gaps": self.gaps,
        }


def json_safe(frame: pd.DataFrame) -> dict:
    """A frame as {row: {column: value}} with string keys (group tuples joined by ' / ')."""
    keys = [group_name(k) for k in frame.index]
    return {k: {c: (None if pd.isna(v) else float(v)) for c, v in row.items()} for k, (_, row) in
            zip(keys, frame.iterrows(), strict=True)}  # fmt: skip


def audit_predictions(
    y_true: np.ndarray,
    y_pred: np.ndarray,
    groups: pd.DataFrame | pd.Series | np.ndarray,
    *,
    n_boot: int = 0,
    seed: int = 0,
) -> AuditResult:
    """Accuracy, TPR, FPR, FNR and selection rate per group (or per combination of group columns),
    with 95% intervals from ``n_boot`` bootstrap samples when asked."""
    y_true, y_pred = np.asarray(y_true).astype(int), np.asarray(y_pred).astype(int)
    if y_true.shape != y_pred.shape or y_true.ndim != 1:
        raise ValueError(f"audit_predictions: y_true {y_true.shape} and y_pred {y_pred.shape} must be equal 1-D")
    if len(groups) != len(y_true):
        raise ValueError(f"audit_predictions: {len(groups)} group values for {len(y_true)} predictions")
    boot = {"n_boot": n_boot, "ci_quantiles": [0.025, 0.975]} if n_boot else {}
    mf = MetricFrame(metrics=METRICS, y_true=y_true, y_pred=y_pred, sensitive_features=groups, random_state=seed,
                     **boot)  # fmt: skip
    if n_boot:
        low, high = mf.by_group_ci
    else:
        low, high = (pd.DataFrame(np.nan, index=mf.by_group.index, columns=mf.by_group.columns) for _ in range(2))
    sf = groups if not isinstance(groups, pd.DataFrame) else group_keys(groups)
    gaps = {
        "demographic_parity_difference": float(demographic_parity_difference(y_true, y_pred, sensitive_features=sf)),
        "demographic_parity_ratio": float(demographic_parity_ratio(y_true, y_pred, sensitive_features=sf)),
        "equalized_odds_difference": float(equalized_odds_difference(y_true, y_pred, sensitive_features=sf)),
        "equalized_odds_ratio": float(equalized_odds_ratio(y_true, y_pred, sensitive_features=sf)),
    }
    diff = mf.difference(method="between_groups").drop("count")
    ratio = mf.ratio(method="between_groups").drop("count")
    return AuditResult(overall=mf.overall, by_group=mf.by_group, ci_low=low, ci_high=high, difference=diff,
                       ratio=ratio, gaps=gaps)  # fmt: skip


def bootstrap_ci(correct: np.ndarray, *, n_boot: int, seed: int = 0) -> tuple[float, float]:
    """95% percentile interval of the mean of ``correct`` (0/1 outcomes, or any values); NaN with
    no values or ``n_boot=0``. No default: the caller chooses the cost."""
    correct = np.asarray(correct, float)
    if len(correct) == 0 or n_boot == 0:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    means = correct[rng.integers(0, len(correct), (n_boot, len(correct)))].mean(axis=1)
    return float(np.quantile(means, 0.025)), float(np.quantile(means, 0.975))


def error_by_group(errors: np.ndarray, groups: pd.DataFrame, *, n_boot: int = 0, seed: int = 0) -> pd.DataFrame:
    """Mean absolute error (e.g. of age in years) per value of each group column, with a 95%
    bootstrap interval when ``n_boot`` is given; one row per (column, group), then ``all``."""
    errors = np.abs(np.asarray(errors, float))
    rows = [("all", "all", errors)]
    for column in groups.columns:
        values = groups[column].astype(str).to_numpy()
        rows += [(column, g, errors[values == g]) for g in sorted(set(values))]
    out = []
    for column, group, e in rows:
        low, high = bootstrap_ci(e, n_boot=n_boot, seed=seed)
        out.append({"by": column, "group": group, "count": len(e), "mae": float(e.mean()), "mae_low": low,
                    "mae_high": high})  # fmt: skip
    return pd.DataFrame(out)


@dataclass(kw_only=True)
class CrossGroupResult:
    """Accuracy of a model trained on each row's group (or 'all') and tested on each column's group."""

    accuracy: pd.DataFrame
    ci_low: pd.DataFrame
    ci_high: pd.DataFrame
    n_test: pd.Series

    def to_dict(self) -> dict:
        return {"accuracy": json_safe(self.accuracy), "ci_low": json_safe(self.ci_low),
                "ci_high": json_safe(self.ci_high), "n_test": self.n_test.to_dict()}  # fmt: skip


def cross_group_matrix(
    X: np.ndarray,
    y: np.ndarray,
    groups: np.ndarray,
    make_model: Callable[[], object],
    *,
    identities: np.ndarray | None = None,
    test_fraction: float = 0.3,
    n_boot: int = 0,
    seed: int = 0,
) -> CrossGroupResult:
    """Train one model per group and one on all groups; test each on every group's held-out part.

    Held-out parts are identity-disjoint from training parts when ``identities`` are given;
    each accuracy has a 95% bootstrap interval when ``n_boot`` is given.
    """
    X, y, groups = np.asarray(X), np.asarray(y).astype(int), np.asarray(groups).astype(str)
    names = sorted(set(groups))
    train_of, test_of = {}, {}
    for g in names:
        idx = np.flatnonzero(groups == g)
        if identities is not None:
            split = GroupShuffleSplit(1, test_size=test_fraction, random_state=seed)
            tr, te = next(split.split(idx, groups=np.asarray(identities)[idx]))
            train_of[g], test_of[g] = idx[tr], idx[te]
        else:
            train_of[g], test_of[g] = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=y[idx])
    train_of["all"] = np.concatenate([train_of[g] for g in names])
    acc, low, high = (pd.DataFrame(index=[*names, "all"], columns=names, dtype=float) for _ in range(3))
    for row, tr in train_of.items():
        model = make_model().fit(X[tr], y[tr])
        for col in names:
            te = test_of[col]
            correct = model.predict(X[te]) == y[te]
            acc.loc[row, col] = correct.mean()
            low.loc[row, col], high.loc[row, col] = bootstrap_ci(correct, n_boot=n_boot, seed=seed)
    return CrossGroupResult(
        accuracy=acc, ci_low=low, ci_high=high, n_test=pd.Series({g: len(test_of[g]) for g in names})
    )
