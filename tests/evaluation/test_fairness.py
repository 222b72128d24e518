import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LogisticRegression

from rostro.evaluation.fairness import audit_predictions, bootstrap_ci, cross_group_matrix, error_by_group


def test_metricframe_figures_match_a_direct_computation():
    rng = np.random.default_rng(0)
    n = 600
    g = np.where(rng.random(n) < 0.5, "a", "b")
    y = rng.integers(0, 2, n)
    flip = rng.random(n) < np.where(g == "a", 0.05, 0.25)  # group b gets 5x the errors
    pred = np.where(flip, 1 - y, y)
    res = audit_predictions(y, pred, pd.Series(g, name="group"), n_boot=50)
    for grp in ("a", "b"):
        m = g == grp
        assert res.by_group.loc[grp, "accuracy"] == pytest.approx((pred[m] == y[m]).mean())
        assert res.by_group.loc[grp, "fpr"] == pytest.approx(pred[m & (y == 0)].mean())
        assert res.by_group.loc[grp, "tpr"] == pytest.approx(pred[m & (y == 1)].mean())
        assert res.by_group.loc[grp, "count"] == m.sum()
        assert res.ci_low.loc[grp, "accuracy"] <= res.by_group.loc[grp, "accuracy"] <= res.ci_high.loc[grp, "accuracy"]
    gap = abs(res.by_group.loc["a", "accuracy"] - res.by_group.loc["b", "accuracy"])
    assert res.difference["accuracy"] == pytest.approx(gap) and gap > 0.1
    fpr_gap = abs(res.by_group.loc["a", "fpr"] - res.by_group.loc["b", "fpr"])
    tpr_gap = abs(res.by_group.loc["a", "tpr"] - res.by_group.loc["b", "tpr"])
    assert res.gaps["equalized_odds_difference"] == pytest.approx(max(fpr_gap, tpr_gap))
    assert "a" in res.to_dict()["by_group"]


def test_intersections_of_two_group_columns():
    rng = np.random.default_rng(1)
    groups = pd.DataFrame({"race": rng.choice(["x", "y"], 200), "sex": rng.choice(["f", "m"], 200)})
    y = rng.integers(0, 2, 200)
    res = audit_predictions(y, y, groups, n_boot=20)
    assert len(res.by_group) == 4 and (res.by_group["accuracy"] == 1).all()
    assert "x / f" in res.to_dict()["by_group"]


def test_cross_group_matrix_shape_and_diagonal():
    rng = np.random.default_rng(2)
    n = 900
    g = np.repeat(["a", "b", "c"], n // 3)
    X = rng.normal(size=(n, 4))
    axis = {"a": 0, "b": 1, "c": 2}
    y = np.array([int(X[i, axis[gi]] > 0) for i, gi in enumerate(g)])  # each group's label lives on its own axis
    res = cross_group_matrix(X, y, g, LogisticRegression, n_boot=100)
    acc = res.accuracy
    assert list(acc.index) == ["a", "b", "c", "all"] and list(acc.columns) == ["a", "b", "c"]
    for grp in "abc":
        assert acc.loc[grp, grp] > 0.9
        assert all(acc.loc[grp, other] < 0.75 for other in "abc" if other != grp)
    assert (res.ci_low <= acc).all().all() and (acc <= res.ci_high).all().all()
    assert res.n_test.sum() == pytest.approx(0.3 * n, abs=3)


def test_bootstrap_interval_covers_the_mean():
    lo, hi = bootstrap_ci(np.r_[np.ones(90), np.zeros(10)], n_boot=400)
    assert lo < 0.9 < hi and hi - lo < 0.15


def test_error_by_group_gives_mae_per_value_of_each_column_with_an_interval():
    errors = np.array([1.0, -3.0, 2.0, -2.0, 10.0, 0.0])
    groups = pd.DataFrame({"race": ["a", "a", "b", "b", "b", "a"], "band": ["y", "o", "y", "o", "o", "y"]})
    table = error_by_group(errors, groups, n_boot=200).set_index(["by", "group"])
    assert table.loc[("all", "all"), "mae"] == pytest.approx(3.0)
    assert table.loc[("race", "a"), "mae"] == pytest.approx(4 / 3) and table.loc[("race", "b"), "count"] == 3
    assert table.loc[("band", "o"), "mae"] == pytest.approx(5.0)
    row = table.loc[("race", "b")]
    assert row.mae_low <= row.mae <= row.mae_high


def test_intervals_are_opt_in_and_leave_the_figures_and_columns_as_they_are():
    rng = np.random.default_rng(3)
    g = pd.Series(rng.choice(["a", "b"], 300), name="group")
    y = rng.integers(0, 2, 300)
    pred = np.where(rng.random(300) < 0.2, 1 - y, y)
    plain, boot = audit_predictions(y, pred, g), audit_predictions(y, pred, g, n_boot=20)
    pd.testing.assert_frame_equal(plain.by_group, boot.by_group)
    assert plain.ci_low.isna().all().all() and plain.ci_high.isna().all().all()
    assert list(plain.table().columns) == list(boot.table().columns)
    assert plain.to_dict()["by_group"]["a"]["accuracy_low"] is None and plain.gaps == boot.gaps
    errors = rng.normal(size=300)
    assert error_by_group(errors, g.to_frame())[["mae_low", "mae_high"]].isna().all().all()
    cross = cross_group_matrix(rng.normal(size=(300, 2)), y, g.to_numpy(), LogisticRegression)
    assert cross.ci_low.isna().all().all() and cross.accuracy.notna().all().all()
    assert np.isnan(bootstrap_ci(y, n_boot=0)).all()
