"""Fusing a pixel CNN with heads on dlib's identity embedding, attribute by attribute.

dlib's embedding carries sex and age well but discards expression, hair and accessories;
the CNN sees those. For each attribute the route (CNN, embedding head, or the mean of both
logits) is chosen by validation accuracy, and its threshold tuned on validation, so the
test split never informs a choice.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.errors import RostroError
from rostro.evaluation.metrics import binary_metrics, tune_threshold
from rostro.models.heads import EmbeddingClassifier
from rostro.models.inference import predict_proba
from rostro.training.checkpoint import atomic_write_text
from rostro.training.data import cache_dataset, run_dataset, split_indices
from rostro.training.run import load_run, write_manifest

FUSION_FILE = "fusion.json"
ROUTES = ("cnn", "embedding", "mean")


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def combine(p_cnn: np.ndarray, p_emb: np.ndarray | None, routes: list[str]) -> np.ndarray:
    """Apply each attribute's route to CNN and embedding-head probabilities (N x L)."""
    out = p_cnn.astype(np.float64).copy()
    for j, route in enumerate(routes):
        if route == "cnn":
            continue
        if p_emb is None:
            raise RostroError("this model needs face embeddings for some attributes, but none were given")
        if route == "embedding":
            out[:, j] = p_emb[:, j]
        else:
            out[:, j] = 1 / (1 + np.exp(-(_logit(p_cnn[:, j]) + _logit(p_emb[:, j])) / 2))
    return out


@dataclass
class Fusion:
    head: EmbeddingClassifier
    routes: list[str]
    thresholds: list[float]
    validation_accuracy: dict[str, dict[str, float]]

    @property
    def needs_embedding(self) -> bool:
        return any(r != "cnn" for r in self.routes)

    def save(self, run_dir: str | Path) -> Path:
        data = {
            "routes": self.routes,
            "thresholds": self.thresholds,
            "validation_accuracy": self.validation_accuracy,
            "embedding_head": self.head.to_dict(),
        }
        return atomic_write_text(Path(run_dir) / FUSION_FILE, json.dumps(data))

    @classmethod
    def load(cls, run_dir: str | Path) -> Fusion | None:
        path = Path(run_dir) / FUSION_FILE
        if not path.is_file():
            return None
        data = json.loads(path.read_text())
        return cls(EmbeddingClassifier.from_dict(data["embedding_head"]), data["routes"], data["thresholds"],
                   data["validation_accuracy"])  # fmt: skip


def fit_fusion(run_dir: str | Path, embeddings: str | Path, *, data: str | None = None) -> Fusion:
    """Fit embedding heads on the run's training split and choose routes on its validation split."""
    model, info = load_run(run_dir)
    ds, cfg = run_dataset(info, data=data)
    cache = cache_dataset(ds, cfg, info.input_size)
    emb = pd.read_parquet(embeddings).set_index("path")
    missing = ~ds.frame["path"].isin(emb.index)
    if missing.any():
        raise RostroError(f"{embeddings}: {int(missing.sum())} images of the run's data have no embedding")
    found = emb.loc[ds.frame["path"], "face_found"].to_numpy(bool)
    vectors = np.zeros((len(ds), 128), np.float32)
    vectors[found] = np.asarray(emb.loc[ds.frame["path"][found], "embedding"].tolist(), np.float32)
    Y = ds.label_matrix()
    train = np.intersect1d(split_indices(ds, cache, "train"), np.flatnonzero(found))
    val = np.intersect1d(split_indices(ds, cache, "validation"), np.flatnonzero(found))
    head = EmbeddingClassifier("logistic", C=0.5).fit(vectors[train], Y[train])
    p_cnn = predict_proba(model, cache.images, mean=info.mean, std=info.std, indices=val)
    p_emb = head.predict_proba(vectors[val])
    routes, thresholds, scores = [], [], {}
    for j, name in enumerate(info.labels):
        best = None
        scores[name] = {}
        for route in ROUTES:
            p = combine(p_cnn[:, [j]], p_emb[:, [j]], [route])[:, 0]
            t = tune_threshold(Y[val, j], p, info.threshold_metric)
            acc = binary_metrics(Y[val, j], p, t)[info.threshold_metric]
            scores[name][route] = round(acc, 5)
            if best is None or acc > best[0] + 1e-9:
                best = (acc, route, t)
        routes.append(best[1])
        thresholds.append(float(best[2]))
    fusion = Fusion(head, routes, thresholds, scores)
    fusion.save(run_dir)
    write_manifest(run_dir)
    return fusion
