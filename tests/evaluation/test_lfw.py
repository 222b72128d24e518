"""LFW's 10-fold protocol on synthetic scores: thresholds from the other folds, refined scores near them."""

import numpy as np
import pytest

from rostro.evaluation.lfw import fold_threshold, lfw_protocol, near_threshold


def test_protocol_never_picks_a_threshold_on_the_tested_fold():
    rng = np.random.default_rng(0)
    folds = np.repeat(np.arange(10), 60)
    same = np.tile(np.r_[np.ones(30, bool), np.zeros(30, bool)], 10)
    scores = np.where(same, rng.normal(0.7, 0.1, 600), rng.normal(0.3, 0.1, 600))
    scores[folds == 3] = np.where(same[folds == 3], 0.05, 0.95)  # fold 4 is inverted: its own threshold would differ
    table = lfw_protocol(scores, same, folds)
    assert len(table) == 10 and table.loc[3, "accuracy"] == 0.0
    others = folds != 3
    assert table.loc[3, "threshold"] == pytest.approx(fold_threshold(scores[others], same[others]))
    assert (table.drop(index=3)["accuracy"] > 0.9).all()


def test_refined_scores_decide_only_the_doubtful_pairs_with_thresholds_from_other_folds():
    rng = np.random.default_rng(1)
    folds = np.repeat(np.arange(10), 100)
    same = np.tile(np.r_[np.ones(50, bool), np.zeros(50, bool)], 10)
    scores = np.where(same, rng.normal(0.6, 0.12, 1000), rng.normal(0.4, 0.12, 1000))
    base = lfw_protocol(scores, same, folds)
    near = near_threshold(scores, base["threshold"], band=0.1)
    assert 0 < near.sum() < 1000
    refined = np.full(1000, np.nan)
    refined[near] = np.where(same[near], 2.0, 1.0)  # another scale: a second threshold is needed
    table = lfw_protocol(scores, same, folds, refined=refined, band=0.1)
    assert (table["accuracy"] >= base["accuracy"]).all() and table["accuracy"].mean() > base["accuracy"].mean()
    assert table["threshold"].tolist() == base["threshold"].tolist()
    assert table["refined_pairs"].sum() == sum(
        ((folds == f) & (np.abs(scores - t) < 0.1)).sum() for f, t in enumerate(table["threshold"])
    )
    assert ((table["refined_threshold"] > 1.0) & (table["refined_threshold"] < 2.0)).all()
    for f, t in enumerate(table["threshold"]):  # pairs outside the band keep the cheap decision: every error left
        test, far = folds == f, np.abs(scores - t) >= 0.1
        assert table.loc[f, "accuracy"] == 1 - (((scores >= t) != same) & test & far).sum() / test.sum()
    flipped = refined.copy()
    fold4 = (folds == 3) & near
    flipped[fold4] = 3.0 - refined[fold4]  # fold 4's refined scores inverted: its own threshold would follow
    table4 = lfw_protocol(scores, same, folds, refined=flipped, band=0.1)
    assert table4.loc[3, "refined_threshold"] == pytest.approx(table.loc[3, "refined_threshold"])
    assert table4.loc[3, "accuracy"] < base.loc[3, "accuracy"]
    refined[np.flatnonzero(near)[0]] = np.nan
    with pytest.raises(ValueError, match="lack a refined score"):
        lfw_protocol(scores, same, folds, refined=refined, band=0.1)


def test_fold_threshold_gives_the_fold_accuracies_of_a_brute_force_search():
    rng = np.random.default_rng(4)
    folds = np.repeat(np.arange(10), 40)
    same = np.tile(np.r_[np.ones(20, bool), np.zeros(20, bool)], 10)
    scores = np.round(np.where(same, rng.normal(0.6, 0.2, 400), rng.normal(0.4, 0.2, 400)), 1)  # many ties
    table = lfw_protocol(scores, same, folds)
    for f in range(10):
        train, test = folds != f, folds == f
        distinct = np.unique(scores[train])
        cuts = np.r_[distinct[0] - 1e-6, (distinct[1:] + distinct[:-1]) / 2, distinct[-1] + 1e-6]
        acc = [((scores[train] >= c) == same[train]).mean() for c in cuts]
        lowest_best = cuts[int(np.argmax(acc))]
        assert table.loc[f, "threshold"] == lowest_best
        assert table.loc[f, "accuracy"] == ((scores[test] >= lowest_best) == same[test]).mean()
