"""Calibrated probabilities from a run's logits: one map per attribute, stored in the run.

A network trained with binary cross-entropy is over- or under-confident per attribute (v1: mean
ECE 0.026, Big_Nose 0.063). ``calibration.json`` holds, per label, either a temperature
(``sigmoid(logit / t)``) or an isotonic map (a monotone step curve over the logit, interpolated);
training's evaluation chooses and fits them on validation (``rostro.evaluation.calibration``).
Prediction, the service and the audit apply them wherever a probability is shown or thresholded.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rostro.errors import RostroError
from rostro.files import atomic_write_text

CALIBRATION_FILE = "calibration.json"
METHODS = ("none", "temperature", "isotonic")
ISOTONIC_FLOOR = 1e-3  # an isotonic map's probabilities stay within [0.001, 0.999]


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1 / (1 + np.exp(-np.clip(x, -80, 80)))


@dataclass
class LabelMap:
    """One label's map from logit to probability."""

    method: str = "none"
    temperature: float = 1.0
    x: tuple[float, ...] = ()  # isotonic: logits, increasing
    y: tuple[float, ...] = ()  # isotonic: probabilities at x

    def __post_init__(self) -> None:
        if self.method not in METHODS:
            raise ValueError(f"calibration method must be one of {METHODS}, got {self.method!r}")
        if self.method == "temperature" and not self.temperature > 0:
            raise ValueError(f"temperature must be > 0, got {self.temperature}")
        if self.method == "isotonic" and (len(self.x) < 2 or len(self.x) != len(self.y)):
            raise ValueError(f"an isotonic map needs as many x as y (at least 2); got {len(self.x)} and {len(self.y)}")

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        if self.method == "temperature":
            return sigmoid(logits / self.temperature)
        if self.method == "isotonic":  # its flat ends would claim certainty no validation set supports
            return np.clip(np.interp(logits, self.x, self.y), ISOTONIC_FLOOR, 1 - ISOTONIC_FLOOR)
        return sigmoid(logits)


@dataclass
class Calibration:
    """Per-label maps, in the run's label order."""

    labels: list[str]
    maps: list[LabelMap]

    def __call__(self, logits: np.ndarray) -> np.ndarray:
        """N x labels logits -> N x labels calibrated probabilities (float32)."""
        logits = np.asarray(logits, np.float64)
        if logits.ndim != 2 or logits.shape[1] != len(self.maps):
            raise ValueError(f"expected N x {len(self.maps)} logits, got {logits.shape}")
        return np.stack([m(logits[:, j]) for j, m in enumerate(self.maps)], axis=1).astype(np.float32)

    def to_dict(self) -> dict:
        return {
            "labels": self.labels,
            "maps": [
                {"method": m.method, "temperature": m.temperature, "x": list(m.x), "y": list(m.y)} for m in self.maps
            ],
        }

    @classmethod
    def from_dict(cls, data: dict, labels: list[str], where: str | Path) -> Calibration:
        """``to_dict``'s output back, checked against the labels it must calibrate (``where`` names its file)."""
        try:
            maps = [LabelMap(m["method"], float(m["temperature"]), tuple(m["x"]), tuple(m["y"])) for m in data["maps"]]
        except (KeyError, TypeError, ValueError) as exc:
            raise RostroError(f"{where}: unreadable calibration ({exc})") from None
        if data["labels"] != labels:
            raise RostroError(f"{where}: calibrates {data['labels'][:3]}..., the run predicts {labels[:3]}...")
        return cls(labels, maps)

    def save(self, run_dir: str | Path) -> Path:
        return atomic_write_text(Path(run_dir) / CALIBRATION_FILE, json.dumps(self.to_dict()))

    @classmethod
    def load(cls, run_dir: str | Path, labels: list[str]) -> Calibration | None:
        """The run's calibration, or None when it has none (probabilities are then plain sigmoids)."""
        path = Path(run_dir) / CALIBRATION_FILE
        if not path.is_file():
            return None
        try:
            data = json.loads(path.read_text())
        except json.JSONDecodeError as exc:
            raise RostroError(f"{path}: unreadable calibration ({exc})") from None
        return cls.from_dict(data, labels, path)
