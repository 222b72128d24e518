import numpy as np
import pytest

from rostro.evaluation.mitigation import mitigate_thresholds


def _planted(n: int = 4000, seed: int = 0):
    """Scores informative in both groups, but shifted up by 0.25 in group b: a global threshold
    over-accepts b's negatives (higher FPR) and under-rejects nothing in a."""
    rng = np.random.default_rng(seed)
    g = np.where(rng.random(n) < 0.5, "a", "b")
    y = rng.integers(0, 2, n)
    logit = np.where(y == 1, 1.5, -1.5) + rng.normal(0, 1.2, n) + np.where(g == "b", 1.6, 0.0)
    return 1 / (1 + np.exp(-logit)), y, g


@pytest.mark.parametrize("constraint", ["equalized_odds", "demographic_parity"])
def test_per_group_thresholds_shrink_a_planted_gap(constraint):
    scores, y, g = _planted()
    res = mitigate_thresholds(scores, y, g, constraint=constraint, n_boot=20, seed=0)
    gap = f"{constraint}_difference"
    assert res.before.gaps["equalized_odds_difference"] > 0.2
    assert res.after.gaps[gap] < 0.5 * res.before.gaps[gap]
    assert res.n_fit + res.n_test == len(y) and res.n_fit == pytest.approx(len(y) / 2, abs=1)
    # measured on held-out faces only, and the table says before/after for each group
    assert int(res.before.overall["count"]) == res.n_test
    table = res.summary()
    assert list(table.columns) == ["global threshold", "per-group thresholds"]
    assert {"accuracy: a", "accuracy: b", gap} <= set(table.index)
    assert res.to_dict()["summary"][gap][1] == pytest.approx(res.after.gaps[gap])


def test_equalized_odds_lifts_the_disadvantaged_group():
    scores, y, g = _planted(seed=1)
    res = mitigate_thresholds(scores, y, g, constraint="equalized_odds", n_boot=20, seed=1)
    fpr_b_before, fpr_b_after = res.before.by_group.loc["b", "fpr"], res.after.by_group.loc["b", "fpr"]
    assert fpr_b_after < fpr_b_before - 0.1


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="constraint must be one of"):
        mitigate_thresholds(np.zeros(4), np.zeros(4), ["a"] * 4, constraint="parity")
    with pytest.raises(ValueError, match="3 scores, 4 labels"):
        mitigate_thresholds(np.zeros(3), np.zeros(4), ["a"] * 4)
