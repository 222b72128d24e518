import numpy as np
import pytest

from rostro.evaluation.verification import make_pairs, per_group_rates, similarity, verification_curves


def test_eer_of_separated_and_identical_distributions():
    g = np.r_[np.ones(500, bool), np.zeros(5000, bool)]
    separated = np.r_[np.linspace(0.8, 1.0, 500), np.linspace(0.0, 0.5, 5000)]
    res = verification_curves(separated, g)
    assert res.eer == 0.0 and 0.5 < res.eer_threshold <= 0.8
    rng = np.random.default_rng(0)
    g = np.r_[np.ones(5000, bool), np.zeros(5000, bool)]
    same = verification_curves(rng.random(10000), g)
    assert same.eer == pytest.approx(0.5, abs=0.02)


def test_far_frr_at_a_threshold_match_a_hand_count():
    scores = np.array([0.9, 0.8, 0.4, 0.7, 0.3, 0.2, 0.1])
    genuine = np.array([1, 1, 1, 0, 0, 0, 0], bool)
    res = verification_curves(scores, genuine)
    assert res.rates_at(0.5) == (pytest.approx(1 / 4), pytest.approx(1 / 3))
    assert res.rates_at(0.75) == (0.0, pytest.approx(1 / 3))
    t = res.threshold_at_far(0.0)
    assert res.rates_at(t)[0] == 0.0 and t == pytest.approx(0.8)
    assert res.eer == pytest.approx(0.29, abs=0.05)


def test_operating_points_need_enough_impostors():
    rng = np.random.default_rng(1)
    g = np.r_[np.ones(200, bool), np.zeros(2000, bool)]
    s = np.r_[rng.normal(1, 0.3, 200), rng.normal(0, 0.3, 2000)]
    table = verification_curves(s, g).operating_points()
    assert list(table["target_far"]) == [0.01, 0.001, "EER"]
    row = table.iloc[0]
    assert row["far"] <= 0.01 and 0 <= row["frr"] <= 1


def test_pairs_and_similarity():
    emb = np.array([[1, 0], [1, 0.1], [0, 1], [0, 1.2], [-1, 0]], float)
    ids = np.array(["a", "a", "b", "b", "c"])
    pairs = make_pairs(emb, ids, max_impostor=None)
    assert pairs.genuine.sum() == 2 and (~pairs.genuine).sum() == 8
    assert len({(int(x), int(y)) for x, y in zip(pairs.a, pairs.b, strict=True)}) == 10
    assert (pairs.scores[pairs.genuine] > 0.9).all()
    assert similarity(emb[:1], emb[4:5], "euclidean")[0] == pytest.approx(-2.0)
    capped = make_pairs(emb, ids, max_impostor=3, seed=0)
    assert (~capped.genuine).sum() == 3
    with pytest.raises(ValueError, match="metric must be one of"):
        similarity(emb, emb, "manhattan")


def test_per_group_rates_at_a_global_threshold():
    rng = np.random.default_rng(2)
    n_id, per = 60, 4
    ids = np.repeat(np.arange(n_id), per)
    group = np.where(ids < 30, "f", "m")
    centres = rng.normal(size=(n_id, 16))
    noise = np.where(group == "f", 0.9, 0.3)[:, None]  # group f is noisier: more errors
    emb = centres[ids] + rng.normal(size=(len(ids), 16)) * noise
    pairs = make_pairs(emb, ids, max_impostor=None)
    t = verification_curves(pairs.scores, pairs.genuine).eer_threshold
    table = per_group_rates(pairs, group, t)
    assert list(table.index) == ["f", "m"]
    assert table.loc["f", "frr"] > table.loc["m", "frr"] and table.loc["f", "eer"] > table.loc["m", "eer"]
    assert table["genuine_pairs"].sum() == pairs.genuine.sum()
