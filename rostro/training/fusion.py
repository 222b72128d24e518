"""Fitting the per-attribute fusion of a run's CNN with heads on dlib's embedding, or with a partner
chip run (see ``rostro.models.fusion`` for what it is and how inference applies it)."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.errors import RostroError
from rostro.evaluation.calibration import fit_calibration
from rostro.evaluation.metrics import binary_metrics, tune_threshold
from rostro.inference.embed import check_plain_vectors
from rostro.models.calibration import Calibration
from rostro.models.fusion import WEIGHTS, Fusion, combine, logit, mix_values
from rostro.models.heads import EmbeddingClassifier
from rostro.models.inference import predict_proba
from rostro.runs import load_run, read_run_info, split_outputs, write_manifest
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
    fusion = Fusion(head, *choose_weights(Y[val], p_cnn, head.predict_proba(vectors[val]), info.labels,
                                          info.threshold_metric, other="embedding"))  # fmt: skip
    fusion.save(run_dir)
    write_manifest(run_dir)
    return fusion


def choose_weights(
    Y: np.ndarray, p_cnn: np.ndarray, p_other: np.ndarray, labels: list[str], threshold_metric: str, *, other: str
) -> tuple[list[float], list[float], dict]:
    """Per label, the other model's share (``WEIGHTS``) and the threshold that score best on validation
    rows that know the label (NaN cells are unknown); the scores of each route, for the record."""
    weights, thresholds, scores = [], [], {}
    metric = "accuracy" if threshold_metric == "none" else threshold_metric
    for j, name in enumerate(labels):
        known = ~np.isnan(Y[:, j])
        y, best, by_weight = Y[known, j], None, {}
        for w in WEIGHTS:  # ties keep the lower weight: the CNN alone needs nothing else
            p = combine(p_cnn[known][:, [j]], p_other[known][:, [j]], [w])[:, 0]
            t = tune_threshold(y, p, threshold_metric)
            by_weight[w] = binary_metrics(y, p, t)[metric]
            if best is None or by_weight[w] > best[0] + 1e-9:
                best = (by_weight[w], w, t)
        weights.append(best[1])
        thresholds.append(float(best[2]))
        scores[name] = {"cnn": round(by_weight[0.0], 5), other: round(by_weight[1.0], 5), "fused": round(best[0], 5)}
    return weights, thresholds, scores


def _refuse_partner_training_faces(partner, validation: pd.DataFrame) -> None:
    """A partner that trained on some of the run's validation faces would look better than it is there."""
    if partner.info.source != "train-multitask":
        return
    from rostro.config import load_config
    from rostro.training.multitask import MultiTaskConfig, multitask_table

    table, _ = multitask_table(load_config(MultiTaskConfig, partner.run / "config.yaml", progress=False))
    trained = {str(Path(p).resolve()) for p in table.loc[table["split"] == "train", "path"]}
    seen = sum(str(Path(p).resolve()) in trained for p in validation["path"])
    if seen:
        raise RostroError(f"{partner.run} trained on {seen} of the run's {len(validation)} validation faces: expected "
                          "none; fuse runs trained on the same split (split_from the same run)")  # fmt: skip


def fit_partner_fusion(run_dir: str | Path, partner: str | Path, *, progress: bool = True) -> Fusion:
    """Mix a ``train-multitask`` crop run with a partner chip run (e.g. v3): per label the partner's share
    and per numeric output (age) its linear share, chosen on the run's validation rows (the outputs
    kept from its best epoch, calibrated as prediction calibrates them)."""
    from rostro.config import load_config
    from rostro.inference.predict import AttributePredictor, partner_columns
    from rostro.training.multitask import MultiTaskConfig, load_chips, multitask_table, predictor_outputs

    run_dir, partner = Path(run_dir), Path(partner).resolve()
    info = read_run_info(run_dir)
    kept = run_dir / "validation_outputs.npz"
    if info.source != "train-multitask" or info.input != "crop" or not kept.is_file():
        raise RostroError(f"{run_dir}: expected a train-multitask run on crops with its validation_outputs.npz, found "
                          f"a {info.source} run on {info.input} inputs; fuse a run of train-multitask --input crop")
    other = AttributePredictor(partner, use_fusion=False)
    partner_columns(other, info.labels, list(info.regression))
    cfg = load_config(MultiTaskConfig, run_dir / "config.yaml")
    table, labels = multitask_table(cfg)
    saved = np.load(kept)
    rows = saved["rows"]
    if rows.max(initial=-1) >= len(table) or (table["split"].to_numpy()[rows] != "validation").any():
        raise RostroError(f"{kept}: its rows are not the validation split of {run_dir}/config.yaml's sources now "
                          "(a source changed since training); retrain, or restore the sources")  # fmt: skip
    _refuse_partner_training_faces(other, table.iloc[rows])
    p_cnn, v_cnn = split_outputs(info, saved["outputs"], Calibration.load(run_dir, info.labels))
    chips, ok = load_chips(table, cfg.parsed, cache_dir=cfg.cache_dir, progress=progress, input="chip",
                           size=other.info.input_size, rows=rows)  # fmt: skip
    if not ok.all():
        raise RostroError(f"{partner}: {int((~ok).sum())} validation faces of {run_dir} have no chip")
    p_other, v_other = predictor_outputs(other, chips, np.arange(len(rows)), info.labels, progress=progress)
    Y = table.iloc[rows][info.labels].to_numpy(np.float64)
    weights, _, scores = choose_weights(Y, p_cnn, p_other, info.labels, info.threshold_metric, other="partner")
    value_weights = []
    for k, name in enumerate(info.regression):
        truth = table.iloc[rows][name].to_numpy(np.float64)
        known = ~np.isnan(truth)
        errors = {w: np.abs(mix_values(v_cnn[known, k], v_other[known, k], [w]) - truth[known]).mean() for w in WEIGHTS}
        value_weights.append(min(WEIGHTS, key=lambda w: (errors[w], w)))
        scores[name] = {"cnn_mae": round(errors[0.0], 4), "partner_mae": round(errors[1.0], 4),
                        "fused_mae": round(errors[value_weights[-1]], 4)}  # fmt: skip
    calibration, _ = fit_calibration(logit(combine(p_cnn, p_other, weights)), Y, info.labels, seed=0)
    fusion = Fusion(None, weights, [], scores, os.path.relpath(partner, run_dir.resolve()), value_weights, calibration)
    shown, known = fusion.mix(p_cnn, p_other), ~np.isnan(Y)  # thresholds apply to what prediction shows
    for j, name in enumerate(info.labels):
        y, p = Y[known[:, j], j], shown[known[:, j], j]
        fusion.thresholds.append(tune_threshold(y, p, info.threshold_metric))
        scores[name]["shipped"] = round(float(((p >= fusion.thresholds[j]) == (y > 0.5)).mean()), 5)
    fusion.save(run_dir)
    write_manifest(run_dir)
    return fusion
