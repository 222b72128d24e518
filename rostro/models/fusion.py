"""Fusing a pixel CNN with heads on dlib's identity embedding, or with a partner run on the face
network's chip, attribute by attribute.

dlib's embedding carries sex and age well but discards expression, hair and accessories;
the CNN sees those. For each attribute the weight of the embedding head's logit against the
CNN's (0 = CNN alone, 1 = embedding alone, in steps of 0.1) is chosen by validation accuracy,
and its threshold tuned on validation, so the test split never informs a choice. Steps of 0.1
beat the three routes CNN / embedding / mean of both when choosing on one half of the validation
identities and scoring the other (shipped model: 0.8975 against 0.8970, 40 splits).

A partner run (``partner``: a chip model such as v3, its folder relative to this run's) replaces the
embedding head: its calibrated probabilities are mixed in the same way, and its numeric outputs (age)
by ``value_weights`` (its share of a linear mix), one pass of each network per face.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rostro.errors import RostroError
from rostro.files import atomic_write_text
from rostro.models.calibration import Calibration
from rostro.models.heads import EmbeddingClassifier

FUSION_FILE = "fusion.json"
WEIGHTS = tuple(float(round(w, 1)) for w in np.linspace(0, 1, 11))
# fusion.json files written before weights replaced the three routes
_ROUTE_WEIGHT = {"cnn": 0.0, "embedding": 1.0, "mean": 0.5}


def logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def combine(p_cnn: np.ndarray, p_emb: np.ndarray | None, weights: list[float]) -> np.ndarray:
    """Mix CNN and embedding-head probabilities (N x L) in logit space, one weight per attribute."""
    out = p_cnn.astype(np.float64).copy()
    for j, w in enumerate(weights):
        if w == 0:
            continue
        if p_emb is None:
            raise RostroError("this model needs face embeddings for some attributes, but none were given")
        if w == 1:
            out[:, j] = p_emb[:, j]
        else:
            out[:, j] = 1 / (1 + np.exp(-((1 - w) * logit(p_cnn[:, j]) + w * logit(p_emb[:, j]))))
    return out


def mix_values(v_cnn: np.ndarray, v_partner: np.ndarray, weights: list[float]) -> np.ndarray:
    """Numeric outputs (N x V, e.g. age in years) mixed linearly, ``weights`` the partner's share of each."""
    w = np.asarray(weights, np.float64)
    return ((1 - w) * v_cnn + w * v_partner).astype(np.float32)


def route_name(weight: float) -> str:
    """How a weight reads in a table: cnn, embedding, or the embedding's share of the mix."""
    return {0.0: "cnn", 1.0: "embedding"}.get(weight, f"mix {weight:.1f}")


def route_counts(weights: list[float]) -> tuple[int, int, int]:
    """How many attributes take the CNN alone, the embedding alone, and a mix of both."""
    cnn, emb = weights.count(0.0), weights.count(1.0)
    return cnn, emb, len(weights) - cnn - emb


@dataclass
class Fusion:
    head: EmbeddingClassifier | None  # None when a partner run is mixed in instead
    weights: list[float]
    thresholds: list[float]
    validation_accuracy: dict[str, dict[str, float]]
    partner: str | None = None  # the partner run's folder, relative to the fused run's
    value_weights: list[float] | None = None  # the partner's share of each numeric output
    calibration: Calibration | None = None  # of the mixed probabilities (a partner fusion), fitted on validation

    @property
    def needs_embedding(self) -> bool:
        return self.head is not None and any(w > 0 for w in self.weights)

    def check(self, run_dir: str | Path, labels: list[str]) -> None:
        """Refuse a fusion.json that does not fit the run's labels (a weight each; the mix's calibration)."""
        found = len(self.weights), self.calibration.labels if self.calibration else labels
        if found != (len(labels), labels):
            raise RostroError(f"{Path(run_dir) / FUSION_FILE}: expected a weight and calibration for each of the "
                              f"{len(labels)} labels {labels[:3]}..., found {found[0]} weights and a calibration of "
                              f"{found[1][:3]}...; fuse the run again")  # fmt: skip

    def partner_run(self, run_dir: str | Path) -> Path | None:
        """The partner run's folder, or None for an embedding fusion."""
        if self.partner is None:
            return None
        path = (Path(run_dir) / self.partner).resolve()
        if not (path / "run.json").is_file():
            raise RostroError(f"{Path(run_dir) / FUSION_FILE}: its partner run {self.partner!r} (expected at {path}) "
                              "is missing; put that run back, or fuse again")  # fmt: skip
        return path

    def save(self, run_dir: str | Path) -> Path:
        data = {"weights": self.weights, "thresholds": self.thresholds, "validation_accuracy": self.validation_accuracy}
        if self.head is not None:
            data["embedding_head"] = self.head.to_dict()
        else:
            data.update(partner=self.partner, value_weights=self.value_weights)
            if self.calibration is not None:
                data["calibration"] = self.calibration.to_dict()
        return atomic_write_text(Path(run_dir) / FUSION_FILE, json.dumps(data))

    @classmethod
    def load(cls, run_dir: str | Path) -> Fusion | None:
        path = Path(run_dir) / FUSION_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        weights = data["weights"] if "weights" in data else [_ROUTE_WEIGHT[r] for r in data["routes"]]
        head = EmbeddingClassifier.from_dict(data["embedding_head"]) if "embedding_head" in data else None
        calibration = None
        if "calibration" in data:
            calibration = Calibration.from_dict(data["calibration"], data["calibration"]["labels"], path)
        return cls(head, weights, data["thresholds"], data["validation_accuracy"], data.get("partner"),
                   data.get("value_weights"), calibration)  # fmt: skip

    def mix(self, p_cnn: np.ndarray, p_partner: np.ndarray) -> np.ndarray:
        """A partner fusion's probabilities: mixed per label, then calibrated where the fusion is."""
        mixed = combine(p_cnn, p_partner, self.weights)
        return (mixed if self.calibration is None else self.calibration(logit(mixed))).astype(np.float32)
