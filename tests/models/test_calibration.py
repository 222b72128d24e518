"""Calibration maps: applied to logits, stored in a run, chosen on validation."""

from __future__ import annotations

import numpy as np
import pytest

from rostro.errors import RostroError
from rostro.evaluation.calibration import (
    expected_calibration_error,
    fit_calibration,
    fit_temperature,
    reliability_curve,
)
from rostro.models.calibration import Calibration, LabelMap, sigmoid


def overconfident(n: int = 4000, t: float = 3.0, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from sigmoid(z), logits reported as t * z: a network t times too sure."""
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, n)
    y = (rng.random(n) < sigmoid(z)).astype(float)
    return t * z, y


def test_ece_is_the_weighted_gap_per_bin():
    probs = np.array([0.1, 0.1, 0.9, 0.9])
    y = np.array([0, 1, 1, 1])
    # bin of 0.1: frequency 0.5, gap 0.4; bin of 0.9: frequency 1, gap 0.1
    assert expected_calibration_error(y, probs) == pytest.approx(0.5 * 0.4 + 0.5 * 0.1)
    curve = reliability_curve(y, probs)
    assert curve["count"].tolist() == [2, 2]
    assert curve["frequency"].tolist() == [0.5, 1.0]


def test_temperature_recovers_how_overconfident_the_logits_are():
    logits, y = overconfident(t=3.0)
    fitted = fit_temperature(logits, y)
    assert fitted.temperature == pytest.approx(3.0, rel=0.15)
    assert expected_calibration_error(y, fitted(logits)) < expected_calibration_error(y, sigmoid(logits)) / 3


def test_fit_calibration_lowers_ece_skips_unlabelled_columns_and_round_trips(tmp_path):
    logits, y = overconfident(t=3.0)
    targets = np.stack([y, np.full_like(y, np.nan)], axis=1)
    cal, table = fit_calibration(np.stack([logits, logits], axis=1), targets, ["A", "B"])
    assert table.set_index("label").loc["A", "chosen"] in ("temperature", "isotonic")
    assert table.set_index("label").loc["B", "chosen"] == "none"
    probs = cal(np.stack([logits, logits], axis=1))
    assert expected_calibration_error(y, probs[:, 0]) < 0.02 < expected_calibration_error(y, sigmoid(logits))
    np.testing.assert_allclose(probs[:, 1], sigmoid(logits), rtol=1e-5)
    cal.save(tmp_path)
    again = Calibration.load(tmp_path, ["A", "B"])
    np.testing.assert_allclose(again(np.stack([logits, logits], axis=1)), probs, rtol=1e-6)
    with pytest.raises(RostroError, match="calibrates"):
        Calibration.load(tmp_path, ["A", "C"])
    assert Calibration.load(tmp_path / "nowhere", ["A"]) is None


def test_maps_are_monotone_and_reject_bad_fields():
    iso = LabelMap("isotonic", x=(-2.0, 0.0, 2.0), y=(0.1, 0.4, 0.95))
    out = iso(np.linspace(-5, 5, 50))
    assert np.all(np.diff(out) >= 0) and out[0] == pytest.approx(0.1) and out[-1] == pytest.approx(0.95)
    with pytest.raises(ValueError, match="method"):
        LabelMap("platt")
    with pytest.raises(ValueError, match="temperature"):
        LabelMap("temperature", temperature=0.0)
    with pytest.raises(ValueError, match="isotonic"):
        LabelMap("isotonic", x=(1.0,), y=(0.5,))
    with pytest.raises(ValueError, match="logits"):
        Calibration(["A"], [LabelMap()])(np.zeros((3, 2)))


def test_an_isotonic_maps_flat_ends_never_claim_certainty():
    from rostro.models.calibration import ISOTONIC_FLOOR

    flat = LabelMap("isotonic", x=(-1.0, 0.0, 1.0), y=(0.0, 0.5, 1.0))
    p = flat(np.array([-9.0, -1.0, 0.0, 1.0, 9.0]))
    assert p[0] == p[1] == ISOTONIC_FLOOR and p[2] == 0.5 and p[3] == p[4] == 1 - ISOTONIC_FLOOR
