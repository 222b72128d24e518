import numpy as np
import pytest

from rostro.evaluation.metrics import (
    attribute_table,
    best_threshold,
    binary_metrics,
    evaluate_scores,
    tune_threshold,
    tune_thresholds,
)


def test_binary_metrics_match_hand_counts():
    y = np.array([1, 1, 1, 0, 0, 0, 0, 0])
    s = np.array([0.9, 0.8, 0.3, 0.6, 0.2, 0.1, 0.4, 0.05])
    m = binary_metrics(y, s, threshold=0.5)
    assert (m["tp"], m["fn"], m["fp"], m["tn"]) == (2, 1, 1, 4)
    assert m["accuracy"] == pytest.approx(6 / 8)
    assert m["precision"] == pytest.approx(2 / 3) and m["recall"] == pytest.approx(2 / 3)
    assert m["balanced_accuracy"] == pytest.approx((2 / 3 + 4 / 5) / 2)
    assert m["roc_auc"] == pytest.approx(13 / 15)  # 13 of 15 positive-negative pairs ordered
    assert m["majority_baseline"] == pytest.approx(5 / 8)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="labels have shape"):
        binary_metrics([0, 1], [0.5])
    with pytest.raises(ValueError, match="labels must be 0/1"):
        binary_metrics([0, 2], [0.5, 0.5])
    with pytest.raises(ValueError, match="NaN"):
        binary_metrics([0, 1], [0.5, np.nan])


def test_threshold_tuning_finds_the_best_cut():
    rng = np.random.default_rng(0)
    y = (rng.random(400) < 0.2).astype(int)
    s = np.clip(rng.normal(0.35 + 0.3 * y, 0.12), 0, 1)

    def brute(pred, metric):
        tp, fp = (pred & (y == 1)).sum(), (pred & (y == 0)).sum()
        P, N = (y == 1).sum(), (y == 0).sum()
        return {"balanced_accuracy": (tp / P + (N - fp) / N) / 2, "f1": 2 * tp / (tp + fp + P),
                "accuracy": (tp + N - fp) / (P + N)}[metric]  # fmt: skip

    for metric in ("balanced_accuracy", "f1", "accuracy"):
        t = tune_threshold(y, s, metric)
        best = max(brute(s >= g, metric) for g in np.unique(s))
        assert binary_metrics(y, s, t)[metric] == pytest.approx(best)
    separable = tune_threshold(np.array([0, 0, 1, 1]), np.array([0.1, 0.2, 0.7, 0.9]))
    assert 0.2 < separable < 0.7
    assert tune_threshold(y, s, "none") == 0.5  # keeps the calibrated cut; accuracy's tuned one differs
    assert tune_threshold(y, s, "accuracy") != 0.5
    with pytest.raises(ValueError, match="metric must be one of"):
        tune_threshold(y, s, "recall")


@pytest.mark.parametrize("ties", ["highest", "lowest"])
@pytest.mark.parametrize("accept_none", [False, True])
def test_shared_threshold_matches_a_brute_force_search_on_random_scores(ties, accept_none):
    rng = np.random.default_rng(3)
    for case in range(300):
        n = int(rng.integers(1, 40))
        y = rng.random(n) < rng.random()
        s = np.round(rng.random(n), int(rng.integers(1, 4)))  # rounded: ties between scores and between cuts
        distinct = np.unique(s)
        above = [distinct[-1] + 1e-6] if accept_none else []
        cuts = np.r_[distinct[0] - 1e-6, (distinct[1:] + distinct[:-1]) / 2, above]
        acc = np.array([((s >= c) == y).mean() for c in cuts])
        best = cuts[acc == acc.max()]
        t = best_threshold(y, s, metric="accuracy", ties=ties, accept_none=accept_none)
        assert ((s >= t) == y).mean() == acc.max(), case
        # of equally accurate cuts, the one asked for: it accepts the same pairs
        assert ((s >= t) == (s >= (best.max() if ties == "highest" else best.min()))).all(), case


def test_threshold_tuning_is_the_shared_search_and_never_rejects_everything():
    y = np.array([0, 0, 1])
    s = np.array([0.9, 0.8, 0.1])  # rejecting all (2/3) beats every cut that accepts something (1/3)
    assert tune_threshold(y, s, "accuracy") == best_threshold(y, s, metric="accuracy") == pytest.approx(0.85)
    assert best_threshold(y, s, metric="accuracy", accept_none=True) > 0.9
    assert best_threshold(np.ones(3), s, metric="accuracy", ties="lowest") < 0.1  # one class: accept all
    with pytest.raises(ValueError, match="needs both classes"):
        best_threshold(np.ones(3), s, metric="f1")
    with pytest.raises(ValueError, match="ties must be"):
        best_threshold(y, s, ties="middle")


def test_attribute_table_sorted_by_error_with_baseline():
    y = np.array([[1, 0], [0, 0], [1, 1], [0, 0]])
    s = np.array([[0.9, 0.9], [0.1, 0.1], [0.8, 0.2], [0.2, 0.3]])
    table = attribute_table(y, s, ["A", "B"], [0.5, 0.5])
    assert list(table.index) == ["B", "A"]
    assert table.loc["A", "accuracy"] == 1.0 and table.loc["B", "accuracy"] == 0.5
    assert table.loc["B", "majority_baseline"] == 0.75
    th = tune_thresholds(y, s)
    res = evaluate_scores(y, s, ["A", "B"], th, split="test")
    assert res.to_dict()["attributes"]["A"]["accuracy"] == 1.0 and set(res.roc) == {"A", "B"}
