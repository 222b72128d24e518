"""Commands as plain functions over a config dataclass; the CLI is a thin layer over these."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rostro import __version__
from rostro.config import from_dict, save_config
from rostro.data.loading import DataConfig, open_data
from rostro.data.stats import DatasetSummary, describe_dataset
from rostro.errors import RostroError
from rostro.evaluation.metrics import EvaluationResult, evaluate_scores, tune_thresholds
from rostro.models.inference import predict_proba
from rostro.models.registry import create_model, load_weights, model_spec
from rostro.reports.eda import write_eda_report
from rostro.reports.evaluation import write_evaluation_report, write_training_curves
from rostro.training.checkpoint import load_checkpoint
from rostro.training.config import TrainConfig
from rostro.training.data import cache_dataset, prepare_dataset, split_indices
from rostro.training.fusion import Fusion, combine
from rostro.training.loop import FitResult, TrainData, fit
from rostro.training.run import RunInfo, git_commit, load_run

log = logging.getLogger(__name__)


@dataclass
class EdaConfig(DataConfig):
    out: str = "rostro-report/eda"
    target: str | None = None
    samples: int = 16


def eda(cfg: EdaConfig) -> tuple[DatasetSummary, Path]:
    """Describe a dataset's training split and write the HTML report; returns (summary, html)."""
    target = cfg.target
    ds = open_data(cfg, stratify=target or "Male")
    if target is None and "Male" in ds.labels:
        target = "Male"
    elif target is None:
        target = ds.labels[0]
    summary = describe_dataset(ds, target=target)
    out = Path(cfg.out)
    html = write_eda_report(summary, ds, out, samples=cfg.samples, seed=cfg.seed)
    save_config(cfg, out / "config.yaml")
    if ds.dropped:
        (out / "dropped.json").write_text(json.dumps(ds.dropped))
    return summary, html


def _threads(n: int | None) -> None:
    torch.set_num_threads(n or os.cpu_count() or 1)


def train(cfg: TrainConfig) -> tuple[FitResult, RunInfo, Path]:
    """Train a model as ``cfg`` says; returns the fit history, the run description and the folder.

    The run folder then holds ``config.yaml``, ``run.json`` (labels, input size, thresholds
    tuned on validation), ``best.pt``, ``last.pt``, ``history.csv`` and ``curves.png``.
    """
    run_dir = Path(cfg.out)
    if (run_dir / "last.pt").exists() and not cfg.resume:
        raise RostroError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    _threads(cfg.threads)
    ds = prepare_dataset(cfg)
    base_info = None
    if cfg.init_from:
        model, base_info = load_run(cfg.init_from)
        name, kwargs = base_info.model, dict(base_info.model_kwargs)
        size, mean, std = base_info.input_size, base_info.mean, base_info.std
        if base_info.labels != ds.labels:
            model.replace_head(len(ds.labels))
            kwargs["num_outputs"] = len(ds.labels)
    else:
        spec = model_spec(cfg.model)
        name, kwargs = cfg.model, {"num_outputs": len(ds.labels), "input_size": cfg.input_size}
        size, mean, std = cfg.input_size, spec.mean, spec.std
        model = create_model(name, **kwargs)
    cache = cache_dataset(ds, cfg, size)
    data = TrainData(
        images=cache.images,
        labels=ds.label_matrix(),
        train_idx=split_indices(ds, cache, "train"),
        val_idx=split_indices(ds, cache, "validation"),
        mean=mean,
        std=std,
    )
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")

    def curves(history: list[dict]) -> None:
        write_training_curves(history, run_dir, monitor=cfg.monitor)

    result = fit(model, data, cfg, run_dir, ds.labels, on_epoch_end=curves)
    best = run_dir / "best.pt"
    load_weights(model, load_checkpoint(best), source=str(best))
    val_probs = predict_proba(model, data.images, mean=mean, std=std, indices=data.val_idx)
    val_y = data.labels[data.val_idx]
    thresholds = tune_thresholds(val_y, val_probs, cfg.threshold_metric)
    val = evaluate_scores(val_y, val_probs, ds.labels, thresholds, split="validation")
    info = RunInfo(
        model=name,
        model_kwargs=kwargs,
        labels=list(ds.labels),
        input_size=size,
        mean=mean,
        std=std,
        thresholds=[float(t) for t in thresholds],
        threshold_metric=cfg.threshold_metric,
        data=dataclasses.asdict(cfg),
        source=ds.source,
        best_epoch=result.best_epoch,
        monitor=cfg.monitor,
        best_value=result.best_value,
        git_commit=git_commit(),
        rostro_version=__version__,
        validation=val.summary | {"images_per_second": result.images_per_second},
    )
    info.save(run_dir)
    return result, info, run_dir


@dataclass
class EvaluateConfig:
    run: str
    split: str = "test"
    data: str | None = None
    out: str | None = None
    cache_dir: str | None = None
    threads: int | None = None
    progress: bool = True
    embeddings: str | None = None


def evaluate(cfg: EvaluateConfig) -> tuple[EvaluationResult, Path]:
    """Score a run on one split of the data it was trained with (or ``cfg.data`` in the same layout)."""
    if cfg.split not in ("train", "validation", "test"):
        raise ValueError(f"split must be train, validation or test, got {cfg.split!r}")
    _threads(cfg.threads)
    model, info = load_run(cfg.run)
    overrides = {k: v for k, v in (("data", cfg.data), ("cache_dir", cfg.cache_dir)) if v is not None}
    tcfg = from_dict(TrainConfig, {**info.data, **overrides, "progress": cfg.progress, "resume": False})
    tcfg.labels = info.labels
    ds = prepare_dataset(tcfg)
    cache = cache_dataset(ds, tcfg, info.input_size)
    idx = split_indices(ds, cache, cfg.split)
    if len(idx) == 0:
        raise RostroError(f"the {cfg.split} split of {tcfg.data or 'the synthetic default'} has no readable images")
    probs = predict_proba(model, cache.images, mean=info.mean, std=info.std, indices=idx)
    thresholds = info.thresholds
    fusion = Fusion.load(cfg.run) if cfg.embeddings else None
    if fusion is not None:
        emb = pd.read_parquet(cfg.embeddings).set_index("path")
        vectors = np.asarray(emb.loc[ds.frame["path"].iloc[idx], "embedding"].tolist(), np.float32)
        probs = combine(probs, fusion.head.predict_proba(vectors), fusion.routes)
        thresholds = fusion.thresholds
    result = evaluate_scores(ds.label_matrix()[idx], probs, info.labels, thresholds, split=cfg.split)
    out = Path(cfg.out) if cfg.out else Path(cfg.run) / f"eval-{cfg.split}"
    html = write_evaluation_report(result, out, title=f"rostro evaluation: {Path(cfg.run).name}, {cfg.split}")
    return result, html
