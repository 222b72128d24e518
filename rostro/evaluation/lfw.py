"""LFW's 10-fold protocol: each fold scored at the accuracy-maximising threshold of the other folds.

The threshold comes from :func:`rostro.evaluation.metrics.best_threshold`, the search that
threshold tuning uses; of equally accurate thresholds the protocol keeps the lowest.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from rostro.evaluation.metrics import best_threshold


def fold_threshold(scores: np.ndarray, same: np.ndarray) -> float:
    """The accuracy-maximising similarity threshold of these pairs, the lowest of equals; rejecting
    every pair is a candidate too, as a band of refined pairs may hold mostly different people."""
    return best_threshold(same, scores, metric="accuracy", ties="lowest", accept_none=True)


def lfw_protocol(
    scores: np.ndarray,
    same: np.ndarray,
    folds: np.ndarray,
    *,
    refined: np.ndarray | None = None,
    band: float = 0.0,
) -> pd.DataFrame:
    """The standard protocol: for each fold, a threshold chosen on the other folds, accuracy on it.

    With ``refined`` (scores from a slower embedding, e.g. dlib's jittered copies, NaN where not
    computed) a pair whose score lies within ``band`` of its fold's threshold is decided by its
    refined score instead, against a second threshold chosen on the other folds' pairs in the
    same band: the cheap score settles the clear pairs, the slow one only the doubtful ones.
    ``near_threshold`` names the pairs that need a refined score, from the plain run's thresholds.
    """
    scores, same, folds = np.asarray(scores, float), np.asarray(same, bool), np.asarray(folds)
    if refined is not None:
        refined = np.asarray(refined, float)
        if refined.shape != scores.shape:
            raise ValueError(f"refined has {refined.shape[0]} scores, expected one per pair ({scores.shape[0]})")
    rows = []
    for f in np.unique(folds):
        test = folds == f
        t = fold_threshold(scores[~test], same[~test])
        decided = scores >= t
        row = {"fold": int(f) + 1, "threshold": t}
        if refined is not None:
            near = np.abs(scores - t) < band
            if np.isnan(refined[near]).any():
                raise ValueError(f"{int(np.isnan(refined[near]).sum())} pair(s) within {band} of fold {f + 1}'s "
                                 "threshold lack a refined score (see near_threshold)")  # fmt: skip
            t2 = fold_threshold(refined[near & ~test], same[near & ~test]) if (near & ~test).any() else t
            decided = np.where(near, refined >= t2, decided)
            row |= {"refined_threshold": t2, "refined_pairs": int((near & test).sum())}
        rows.append(row | {"accuracy": float((decided[test] == same[test]).mean()), "pairs": int(test.sum())})
    return pd.DataFrame(rows)


def near_threshold(scores: np.ndarray, thresholds: np.ndarray, band: float) -> np.ndarray:
    """Pairs within ``band`` of any fold's threshold (``lfw_protocol``'s ``threshold`` column):
    those it decides by their refined score, so those whose images need one."""
    scores = np.asarray(scores, float)
    return (np.abs(scores[:, None] - np.asarray(thresholds, float)[None, :]) < band).any(axis=1)
