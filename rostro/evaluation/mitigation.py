"""Per-group decision thresholds with fairlearn's ``ThresholdOptimizer``.

A trained model's scores are split in two: thresholds are fitted on one part and the
before/after figures are measured on the other, so the gain is never measured on the data
that chose the thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from fairlearn.postprocessing import ThresholdOptimizer
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.model_selection import train_test_split

from rostro.data.dataset import group_name
from rostro.evaluation.fairness import AuditResult, audit_predictions

CONSTRAINTS = ("equalized_odds", "demographic_parity")


class _Scores(ClassifierMixin, BaseEstimator):
    """A 'model' whose single input column already is its positive-class probability."""

    def fit(self, X: np.ndarray, y: np.ndarray) -> _Scores:
        self.classes_ = np.array([0, 1])
        return self

    def predict_proba(self, X: np.ndarray) -> np.ndarray:
        p = np.asarray(X, float)[:, 0]
        return np.column_stack([1 - p, p])


@dataclass(kw_only=True)
class MitigationResult:
    """The same held-out faces audited with one global threshold and with per-group thresholds."""

    constraint: str
    before: AuditResult
    after: AuditResult
    n_fit: int
    n_test: int

    def summary(self) -> pd.DataFrame:
        """Overall accuracy, the two gaps, and each group's accuracy: before, after."""
        rows = {"overall accuracy": (self.before.overall["accuracy"], self.after.overall["accuracy"])}
        for gap in ("equalized_odds_difference", "demographic_parity_difference"):
            rows[gap] = (self.before.gaps[gap], self.after.gaps[gap])
        before, after = self.before.by_group["accuracy"], self.after.by_group["accuracy"]
        for g in before.index:
            rows[f"accuracy: {group_name(g)}"] = (before[g], after[g])
        return pd.DataFrame(rows, index=["global threshold", "per-group thresholds"]).T

    def to_dict(self) -> dict:
        return {"constraint": self.constraint, "n_fit": self.n_fit, "n_test": self.n_test,
                "summary": {k: list(map(float, v)) for k, v in self.summary().iterrows()},
                "before": self.before.to_dict(), "after": self.after.to_dict()}  # fmt: skip


def mitigate_thresholds(
    scores: np.ndarray,
    y_true: np.ndarray,
    groups: pd.Series | np.ndarray,
    *,
    threshold: float = 0.5,
    constraint: str = "equalized_odds",
    fit_fraction: float = 0.5,
    n_boot: int = 0,
    seed: int = 0,
) -> MitigationResult:
    """Fit per-group thresholds on ``fit_fraction`` of the faces; audit the rest before and after
    (with ``n_boot`` bootstrap samples for the audits' intervals when asked).

    The split is stratified by group and label. Equalized-odds thresholds are randomised
    between two cut-offs where needed (fairlearn's construction), seeded here.
    """
    if constraint not in CONSTRAINTS:
        raise ValueError(f"constraint must be one of {CONSTRAINTS}, got {constraint!r}")
    scores, y_true = np.asarray(scores, float), np.asarray(y_true).astype(int)
    groups = pd.Series(np.asarray(groups).astype(str))
    if not (len(scores) == len(y_true) == len(groups)):
        raise ValueError(f"{len(scores)} scores, {len(y_true)} labels and {len(groups)} group values must match")
    strata = groups + "|" + pd.Series(y_true).astype(str)
    idx = np.arange(len(scores))
    fit, test = train_test_split(idx, train_size=fit_fraction, random_state=seed, stratify=strata)
    opt = ThresholdOptimizer(estimator=_Scores().fit(None, None), constraints=constraint, prefit=True,
                             predict_method="predict_proba")  # fmt: skip
    opt.fit(scores[fit, None], y_true[fit], sensitive_features=groups.iloc[fit].to_numpy())
    g_test = groups.iloc[test].reset_index(drop=True)
    after = opt.predict(scores[test, None], sensitive_features=g_test.to_numpy(), random_state=seed)
    before = (scores[test] >= threshold).astype(int)
    return MitigationResult(
        constraint=constraint,
        before=audit_predictions(y_true[test], before, g_test, n_boot=n_boot, seed=seed),
        after=audit_predictions(y_true[test], np.asarray(after, int), g_test, n_boot=n_boot, seed=seed),
        n_fit=len(fit),
        n_test=len(test),
    )
