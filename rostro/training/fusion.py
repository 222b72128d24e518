"""Fitting the per-attribute fusion of a run's CNN with heads on dlib's embedding (see
``rostro.models.fusion`` for what it is and how inference applies it)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from rostro.errors import RostroError
from rostro.evaluation.metrics import binary_metrics, tune_threshold
from rostro.inference.embed import check_plain_vectors
from rostro.models.fusion import WEIGHTS, Fusion, combine
from rostro.models.heads import EmbeddingClassifier
from rostro.models.inference import predict_proba
from rostro.runs import load_run, write_manifest
from rostro.training.data import cache_dataset, run_dataset, split_indices


def fit_fusion(run_dir: str | Path, embeddings: str | Path, *, data: str | None = None) -> Fusion:
    """Fit embedding heads on the run's training split and choose mixing weights on its validation split."""
    check_plain_vectors(embeddings, "fusion")
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
    weights, thresholds, scores = [], [], {}
    metric = "accuracy" if info.threshold_metric == "none" else info.threshold_metric
    for j, name in enumerate(info.labels):
        best, by_weight = None, {}
        for w in WEIGHTS:  # ties keep the lower weight: the CNN alone needs no embedding
            p = combine(p_cnn[:, [j]], p_emb[:, [j]], [w])[:, 0]
            t = tune_threshold(Y[val, j], p, info.threshold_metric)
            by_weight[w] = binary_metrics(Y[val, j], p, t)[metric]
            if best is None or by_weight[w] > best[0] + 1e-9:
                best = (by_weight[w], w, t)
        weights.append(best[1])
        thresholds.append(float(best[2]))
        scores[name] = {"cnn": round(by_weight[0.0], 5), "embedding": round(by_weight[1.0], 5),
                        "fused": round(best[0], 5)}  # fmt: skip
    fusion = Fusion(head, weights, thresholds, scores)
    fusion.save(run_dir)
    write_manifest(run_dir)
    return fusion
