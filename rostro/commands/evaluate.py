"""``rostro evaluate``: score a run on a split; metrics.json and an HTML report with plots."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rostro.commands._base import set_threads
from rostro.config import load_config, save_config
from rostro.errors import RostroError
from rostro.evaluation.metrics import EvaluationResult, evaluate_scores
from rostro.models.calibration import Calibration
from rostro.models.fusion import Fusion, combine
from rostro.models.inference import predict_logits
from rostro.reports.evaluation import write_evaluation_report
from rostro.runs import RunInfo, load_run, split_outputs
from rostro.training.data import cache_dataset, run_dataset, split_indices

SPLITS = ("train", "validation", "test")


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
    explain_faces: int = 64  # validation faces whose maps show where the model looks (0: none)

    def __post_init__(self) -> None:
        if self.explain_faces < 0:
            raise ValueError(f"explain_faces counts validation faces: expected >= 0, got {self.explain_faces}")


@dataclass(kw_only=True)
class EvaluateResult:
    metrics: EvaluationResult
    html: Path

    def lines(self) -> list[str]:
        m = self.metrics
        columns = ["accuracy", "majority_baseline", "balanced_accuracy", "f1", "roc_auc"]
        table = m.table[columns].head(12).rename(columns={"majority_baseline": "majority"})
        s = m.summary
        return [
            f"{m.split}: {m.n:,} images, worst attributes first",
            table.to_string(float_format=lambda x: f"{x:.4f}"),
            f"Mean accuracy {s['mean_accuracy']:.4f} (majority {s['mean_majority_baseline']:.4f}); "
            f"mean balanced accuracy {s['mean_balanced_accuracy']:.4f}",
            f"Report: {self.html}",
        ]


def evaluate(cfg: EvaluateConfig) -> EvaluateResult:
    """Score a run on one split of the data it was trained with (or ``cfg.data`` in the same layout)."""
    if cfg.split not in SPLITS:
        raise ValueError(f"split must be train, validation or test, got {cfg.split!r}")
    set_threads(cfg.threads)
    model, info = load_run(cfg.run)
    evaluate_split = _evaluate_multitask if "multitask" in info.data else _evaluate_single
    result, (images, truth) = evaluate_split(cfg, model, info)
    attention = _attention(cfg, model, info, images, truth) if len(images) else None
    out = Path(cfg.out) if cfg.out else Path(cfg.run) / f"eval-{cfg.split}"
    html = write_evaluation_report(result, out, title=f"rostro evaluation: {Path(cfg.run).name}, {cfg.split}",
                                   attention=attention)  # fmt: skip
    save_config(cfg, out / "config.yaml")
    return EvaluateResult(metrics=result, html=html)


def _sample(images: np.ndarray, truth: np.ndarray, rows: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Up to ``n`` validation faces (a fixed draw), for the maps of where the model looks."""
    rows = np.sort(np.random.default_rng(0).permutation(rows)[:n])
    return np.asarray(images[rows]), truth[rows]


def _attention(
    cfg: EvaluateConfig, model: torch.nn.Module, info: RunInfo, images: np.ndarray, truth: np.ndarray
) -> dict:
    """Mean maps over the validation faces the run got right and wrong (the network's own output, unfused)."""
    from rostro.inference.explain import maps_by_outcome

    logits = predict_logits(model, images, mean=info.mean, std=info.std)
    probs = split_outputs(info, logits, Calibration.load(cfg.run, info.labels))[0]
    return maps_by_outcome(model, images, truth.astype(float), probs, info.thresholds, info.labels, mean=info.mean,
                           std=info.std)  # fmt: skip


def _evaluate_single(cfg: EvaluateConfig, model: torch.nn.Module, info: RunInfo) -> tuple:
    """A ``train`` run on its own dataset's split, fused with dlib embeddings where ``cfg.embeddings`` is given;
    and up to ``cfg.explain_faces`` validation faces with their labels."""
    ds, tcfg = run_dataset(info, data=cfg.data, cache_dir=cfg.cache_dir, progress=cfg.progress)
    cache = cache_dataset(ds, tcfg, info.input_size)
    idx = split_indices(ds, cache, cfg.split)
    if len(idx) == 0:
        raise RostroError(f"the {cfg.split} split of {tcfg.data or 'the synthetic default'} has no readable images")
    logits = predict_logits(model, cache.images, mean=info.mean, std=info.std, indices=idx)
    probs = split_outputs(info, logits, Calibration.load(cfg.run, info.labels))[0]
    thresholds = info.thresholds
    fusion = Fusion.load(cfg.run) if cfg.embeddings else None
    if fusion is not None:
        from rostro.inference.embed import check_plain_vectors

        check_plain_vectors(cfg.embeddings, "a fused run's evaluation")
        emb = pd.read_parquet(cfg.embeddings).set_index("path")
        vectors = np.asarray(emb.loc[ds.frame["path"].iloc[idx], "embedding"].tolist(), np.float32)
        probs = combine(probs, fusion.head.predict_proba(vectors), fusion.weights)
        thresholds = fusion.thresholds
    result = evaluate_scores(ds.label_matrix()[idx], probs, info.labels, thresholds, split=cfg.split)
    val = split_indices(ds, cache, "validation")
    return result, _sample(cache.images, ds.label_matrix(), val, cfg.explain_faces)


def _evaluate_multitask(cfg: EvaluateConfig, model: torch.nn.Module, info: RunInfo) -> tuple:
    """A ``train-multitask`` run: the attribute table on the faces that carry every label, then Male
    over every source and age MAE where ages are known; and up to ``cfg.explain_faces`` validation faces."""
    from rostro.training.multitask import MultiTaskConfig, load_chips, multitask_table

    config = Path(cfg.run) / "config.yaml"  # every multitask run holds its own, wherever it was moved
    mcfg = load_config(MultiTaskConfig, config, progress=False)
    table, labels = multitask_table(mcfg)
    chips, ok = load_chips(table, mcfg.parsed, cache_dir=cfg.cache_dir or mcfg.cache_dir, progress=cfg.progress,
                           input=info.input, size=info.input_size, points=info.crop_points)  # fmt: skip
    idx = np.flatnonzero((table["split"] == cfg.split).to_numpy() & ok)
    if len(idx) == 0:
        raise RostroError(f"the {cfg.split} split of {config} has no faces with a chip")
    logits = predict_logits(model, chips, mean=info.mean, std=info.std, indices=idx)
    probs, values = split_outputs(info, logits, Calibration.load(cfg.run, info.labels))
    y = table.iloc[idx][labels].to_numpy()
    full = ~np.isnan(y).any(axis=1)
    result = evaluate_scores(y[full].astype(int), probs[full], labels, info.thresholds, split=cfg.split)
    if "Male" in labels:
        male = labels.index("Male")
        known = ~np.isnan(y[:, male])
        right = (probs[known, male] >= info.thresholds[male]) == (y[known, male] > 0.5)
        result.summary["male_accuracy_every_source"] = float(right.mean())
    if "age" in info.regression:
        age = table.iloc[idx]["age"].to_numpy()
        has = ~np.isnan(age)
        predicted = values[has, list(info.regression).index("age")]
        result.summary["age_mae"] = float(np.abs(predicted - age[has]).mean())
    val = np.flatnonzero(
        (table["split"] == "validation").to_numpy() & ok & table[labels].notna().all(axis=1).to_numpy()
    )
    return result, _sample(chips, table[labels].to_numpy(float), val, cfg.explain_faces)
