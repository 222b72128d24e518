"""The training command's configuration: one dataclass, loadable from YAML, saved in the run."""

from __future__ import annotations

from dataclasses import dataclass

from rostro.data.loading import DataConfig
from rostro.evaluation.metrics import THRESHOLD_METRICS

SCHEDULES = ("onecycle", "cosine", "constant")
IMBALANCE = ("none", "pos_weight", "balanced")
MONITORS = ("val_loss", "val_mean_accuracy", "val_mean_balanced_accuracy", "val_mean_roc_auc")


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
        if self.epochs < 1 or self.batch_size < 1 or self.lr <= 0:
            raise ValueError(
                f"TrainConfig needs epochs >= 1, batch_size >= 1 and lr > 0; got {self.epochs}, "
                f"{self.batch_size}, {self.lr}"
            )
        if self.input_size is not None and self.input_size < 16:
            raise ValueError(f"TrainConfig.input_size must be at least 16 px (or unset), got {self.input_size}")
        if self.chips is not None:
            from rostro.faces.chips import check_chip_mode

            check_chip_mode(self.chips, "TrainConfig.chips")
        if self.sample_sizes is not None and self.balance_on is None:
            raise ValueError("TrainConfig.sample_sizes needs balance_on (the label to balance)")
