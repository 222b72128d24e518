"""``rostro train``: train an attribute model (from scratch or from a run's trunk) into a run folder."""

from __future__ import annotations

import dataclasses
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from rostro._version import __version__
from rostro.commands._base import set_threads
from rostro.config import save_config
from rostro.data.soft import StackedImages
from rostro.distributed import barrier, init_world, peer_lost
from rostro.errors import RostroError
from rostro.evaluation.metrics import evaluate_scores, tune_thresholds
from rostro.faces.dlib_resnet import CHIP_SIZE
from rostro.models.inference import predict_proba
from rostro.models.registry import create_model, load_weights, model_spec
from rostro.reports.evaluation import write_training_curves
from rostro.runs import RunInfo, git_commit, load_checkpoint, load_run, write_manifest
from rostro.training.config import TrainConfig
from rostro.training.data import cache_dataset, prepare_dataset, soft_label_data, split_indices
from rostro.training.loop import FitResult, TrainData, fit

log = logging.getLogger(__name__)


@dataclass(kw_only=True)
class TrainResult:
    """The fit's history, the run's description (labels, thresholds, validation figures) and its folder."""

    fit: FitResult
    info: RunInfo
    run_dir: Path

    def lines(self) -> list[str]:
        if int(os.environ.get("RANK", "0")) != 0:
            return []
        v = self.info.validation
        return [
            f"Best epoch {self.fit.best_epoch} ({self.info.monitor} {self.fit.best_value:.4f}); "
            f"{self.fit.images_per_second:,.0f} training images/s.",
            f"Validation at the run's thresholds: mean accuracy {v['mean_accuracy']:.4f} "
            f"(majority {v['mean_majority_baseline']:.4f}), "
            f"mean balanced accuracy {v['mean_balanced_accuracy']:.4f}",
            f"Run: {self.run_dir}",
        ]


def _transfer_size(cfg: TrainConfig, base: RunInfo) -> int:
    """The input size of a transfer: the trunk's own, or ``cfg.input_size`` where the network allows it."""
    if cfg.input_size is None or cfg.input_size == base.input_size:
        return base.input_size
    if not model_spec(base.model).any_size:
        raise ValueError(
            f"input_size {cfg.input_size}: {base.model} from {cfg.init_from} was built for {base.input_size} px "
            f"inputs (its dense layer depends on the size); leave input_size unset or set it to {base.input_size}"
        )
    return cfg.input_size


def _network(cfg: TrainConfig, labels: list[str]) -> tuple[torch.nn.Module, str, dict, int, float, float]:
    """(model, registry name, its arguments, input size, mean, std): new, or from ``cfg.init_from``'s trunk."""
    if not cfg.init_from:
        spec = model_spec(cfg.model)
        size = cfg.input_size or spec.input_size
        if cfg.chips and size != CHIP_SIZE:
            raise RostroError(f"chips are {CHIP_SIZE} px; {cfg.model} at {size} px cannot read them: leave chips unset "
                              f"or use a model that takes {CHIP_SIZE} px (dlib_resnet)")  # fmt: skip
        kwargs = {"num_outputs": len(labels), "input_size": size}
        return create_model(cfg.model, **kwargs), cfg.model, kwargs, size, spec.mean, spec.std
    model, base = load_run(cfg.init_from)
    kwargs = dict(base.model_kwargs)
    size = _transfer_size(cfg, base)
    if size != base.input_size:
        kwargs["input_size"] = size
    if base.input == "chip" and not cfg.chips:
        raise RostroError(
            f"{cfg.init_from} reads the face network's 150-px chips: set chips to aligned "
            "(CelebA-aligned crops), photo (the largest face) or centre (pre-cropped faces)"
        )
    if base.outputs != labels:
        model.replace_head(len(labels))
        kwargs["num_outputs"] = len(labels)
        if "hidden" in kwargs:  # the new head is linear, whatever hidden layer the trunk's run had
            kwargs["hidden"] = 0
    return model, base.model, kwargs, size, base.mean, base.std


def train(cfg: TrainConfig) -> TrainResult:
    """Train a model as ``cfg`` says.

    The run folder holds ``config.yaml`` and ``run.json`` (model arguments and labels) from the
    start, ``best.pt`` and the manifest that signs it from the first epoch, and ``last.pt``,
    ``history.csv`` and ``curves.png`` after every epoch, so an interrupted run can be evaluated
    (at thresholds of 0.5) and resumed; at the end ``run.json`` gains the thresholds tuned on
    validation and the validation figures.
    """
    world = init_world()
    run_dir = Path(cfg.out)
    if (run_dir / "last.pt").exists() and not cfg.resume:
        raise RostroError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    set_threads(cfg.threads)
    ds = prepare_dataset(cfg)
    torch.manual_seed(cfg.seed)  # the initial weights (and a new head) are part of the seeded run
    model, name, kwargs, size, mean, std = _network(cfg, list(ds.labels))
    if not world.main:  # rank 0 decodes the images once; the others map its cache
        barrier(world)
    show = cfg.progress and world.main
    cache = cache_dataset(ds, cfg, size, progress=show)
    soft = soft_label_data(cfg, list(ds.labels), size, progress=show) if cfg.soft_labels else None
    if world.main:
        barrier(world)
    data = TrainData(
        images=cache.images,
        labels=ds.label_matrix(),
        train_idx=split_indices(ds, cache, "train"),
        val_idx=split_indices(ds, cache, "validation"),
        mean=mean,
        std=std,
    )
    if soft is not None:  # teacher-scored images join the training split only
        extra, targets = soft
        n = len(data.images)
        data.images = StackedImages(data.images, extra)
        data.labels = np.concatenate([data.labels.astype(np.float32), targets])
        data.train_idx = np.concatenate([data.train_idx, n + np.arange(len(extra))])
        log.info("%d soft-labelled image(s) added to the training split", len(extra))
    info = RunInfo(
        model=name, model_kwargs=kwargs, labels=list(ds.labels), input_size=size, mean=mean, std=std,
        thresholds=[0.5] * len(ds.labels), threshold_metric=cfg.threshold_metric, data=dataclasses.asdict(cfg),
        source=ds.source, monitor=cfg.monitor, git_commit=git_commit(), rostro_version=__version__,
        input="chip" if cfg.chips else "crop",
    )  # fmt: skip
    if world.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")
        if not (cfg.resume and (run_dir / "run.json").is_file()):  # a resumed run keeps its thresholds till the end
            info.save(run_dir)
            write_manifest(run_dir)

    def curves(history: list[dict]) -> None:
        write_training_curves(history, run_dir, monitor=cfg.monitor)

    try:
        result = fit(model, data, cfg, run_dir, ds.labels, on_epoch_end=curves, world=world)
        barrier(world)  # best.pt is complete on every rank's view
    except (RuntimeError, torch.distributed.DistError) as exc:
        if world.distributed:
            raise peer_lost(exc) from exc
        raise
    best = run_dir / "best.pt"
    load_weights(model, load_checkpoint(best), source=str(best))
    val_probs = predict_proba(model, data.images, mean=mean, std=std, indices=data.val_idx)
    val_y = data.labels[data.val_idx]
    thresholds = tune_thresholds(val_y, val_probs, cfg.threshold_metric)
    val = evaluate_scores(val_y, val_probs, ds.labels, thresholds, split="validation")
    info = dataclasses.replace(
        info, thresholds=[float(t) for t in thresholds], best_epoch=result.best_epoch, best_value=result.best_value,
        validation=val.summary | {"images_per_second": result.images_per_second},
    )  # fmt: skip
    if world.main:
        info.save(run_dir)
        write_manifest(run_dir)
    return TrainResult(fit=result, info=info, run_dir=run_dir)
