import numpy as np
import pytest

from rostro.evaluation.verification import far_frr, make_pairs, similarity, verification_curves


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


def test_group_view_gives_rates_at_a_global_threshold_and_each_groups_eer():
    rng = np.random.default_rng(2)
    n_id, per = 60, 4
    ids = np.repeat(np.arange(n_id), per)
    group = np.where(ids < 30, "f", "m").astype(object)
    group[-1] = "x"  # one image alone in its group: a row with no pairs
    centres = rng.normal(size=(n_id, 16))
    noise = np.where(group == "f", 0.9, 0.3)[:, None]  # group f is noisier: more errors
    emb = centres[ids] + rng.normal(size=(len(ids), 16)) * noise
    pairs = make_pairs(emb, ids, max_impostor=None)
    plain = verification_curves(pairs.scores, pairs.genuine)
    result = verification_curves(pairs.scores, pairs.genuine, groups=pairs.shared_group(group))
    assert result.eer == plain.eer and result.to_dict() == plain.to_dict()  # the view adds, changes nothing
    t = plain.eer_threshold
    table = result.by_group(t)
    assert list(table.index) == ["f", "m", "x"] and table.loc["x"].isna()[["far", "frr", "eer"]].all()
    assert table.loc["f", "frr"] > table.loc["m", "frr"] and table.loc["f", "eer"] > table.loc["m", "eer"]
    inside = (group[pairs.a] == "f") & (group[pairs.b] == "f")
    gen, imp = pairs.scores[inside & pairs.genuine], pairs.scores[inside & ~pairs.genuine]
    assert (table.loc["f", "genuine_pairs"], table.loc["f", "impostor_pairs"]) == (len(gen), len(imp))
    assert (table.loc["f", "far"], table.loc["f", "frr"]) == ((imp >= t).mean(), (gen < t).mean())
    assert table.loc["f", "eer"] == verification_curves(pairs.scores[inside], pairs.genuine[inside]).eer
    assert table["genuine_pairs"].sum() == pairs.genuine.sum() - 3  # the image in group x: 3 genuine pairs in none
    with pytest.raises(ValueError, match="no groups"):
        plain.by_group(t)


def test_far_frr_is_nan_for_a_side_without_pairs():
    assert far_frr(np.array([0.2, 0.9]), np.array([]), 0.5) == (pytest.approx(float("nan"), nan_ok=True), 0.5)
