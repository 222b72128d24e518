"""The training command's configuration: one dataclass, loadable from YAML, saved in the run."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from rostro.data.loading import DataConfig
from rostro.evaluation.metrics import THRESHOLD_METRICS

if TYPE_CHECKING:
    from rostro.training.multitask import MultiTaskConfig

SCHEDULES = ("onecycle", "cosine", "constant")
IMBALANCE = ("none", "pos_weight", "balanced")
MONITORS = ("val_loss", "val_mean_accuracy", "val_mean_balanced_accuracy", "val_mean_roc_auc")


def check_schedule(cfg: TrainConfig | MultiTaskConfig) -> None:
    """Refuse a schedule that cannot train (no epoch, empty batches, no step size) before any work."""
    if cfg.epochs < 1 or cfg.batch_size < 1 or cfg.lr <= 0:
        raise ValueError(f"{type(cfg).__name__} needs epochs >= 1, batch_size >= 1 and lr > 0; got {cfg.epochs}, "
                         f"{cfg.batch_size}, {cfg.lr}")  # fmt: skip


@dataclass
class TrainConfig(DataConfig):
    out: str = "runs/default"
    labels: list[str] | None = None
    model: str = "attr_net"
    input_size: int | None = None  # the model's default size, or the trunk's with init_from
    epochs: int = 15
    steps_per_epoch: int | None = None
    batch_size: int = 64
    lr: float = 3e-3
    weight_decay: float = 5e-4
    schedule: str = "onecycle"
    rotation: float = 10.0
    zoom: float = 0.2
    flip: bool = True
    augment: bool = True
    imbalance: str = "pos_weight"
    monitor: str = "val_mean_balanced_accuracy"
    patience: int = 5
    threshold_metric: str = "balanced_accuracy"
    init_from: str | None = None
    freeze_trunk: bool = False
    unfreeze_after: int | None = None
    unfreeze_blocks: int = 2
    trunk_lr_scale: float = 0.1
    balance_on: str | None = None
    sample_sizes: tuple[int, int, int] | None = None
    exclude: list[str] | None = None
    soft_labels: str | None = None
    chips: str | None = None  # train on the face network's chips (aligned, photo or centre; see rostro.faces.chips)
    resume: bool = False
    sync_batchnorm: bool = False
    compile: bool = False
    threads: int | None = None
    cache_dir: str | None = None
    progress: bool = True

    def __post_init__(self) -> None:
        for name, value, allowed in (
            ("schedule", self.schedule, SCHEDULES),
            ("imbalance", self.imbalance, IMBALANCE),
            ("monitor", self.monitor, MONITORS),
            ("threshold_metric", self.threshold_metric, THRESHOLD_METRICS),
        ):
            if value not in allowed:
                raise ValueError(f"TrainConfig.{name} must be one of {allowed}, got {value!r}")
        check_schedule(self)
        if self.input_size is not None and self.input_size < 16:
            raise ValueError(f"TrainConfig.input_size must be at least 16 px (or unset), got {self.input_size}")
        if self.chips is not None:
            from rostro.faces.chips import check_chip_mode

            check_chip_mode(self.chips, "TrainConfig.chips")
        if self.sample_sizes is not None and self.balance_on is None:
            raise ValueError("TrainConfig.sample_sizes needs balance_on (the label to balance)")
