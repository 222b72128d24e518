"""From a training config to cached arrays: the same steps for train, evaluate and resume."""

from __future__ import annotations

import logging

import numpy as np

from rostro.config import from_dict
from rostro.data.cache import ImageCache, build_cache
from rostro.data.dataset import SPLITS, FaceDataset
from rostro.data.loading import open_data
from rostro.data.sampling import check_no_leakage, exclude_images, sample_balanced
from rostro.data.soft import read_soft_labels
from rostro.errors import RostroError
from rostro.runs import RunInfo
from rostro.training.config import TrainConfig

log = logging.getLogger(__name__)


def prepare_dataset(cfg: TrainConfig) -> FaceDataset:
    """Read, split (identity-disjoint), select labels, exclude and sample, as ``cfg`` says."""
    stratify = cfg.balance_on or (cfg.labels[0] if cfg.labels else "Male")
    ds = open_data(cfg, stratify=stratify)
    if cfg.labels:
        ds = ds.select_labels(cfg.labels)
    if cfg.exclude:
        before = len(ds)
        ds = exclude_images(ds, cfg.exclude)
        log.info("excluded %d images (and their identities)", before - len(ds))
    if cfg.balance_on is not None:
        sizes = dict(zip(SPLITS, cfg.sample_sizes or (14000, 6000, 6000), strict=True))
        ds = sample_balanced(ds, cfg.balance_on, sizes, seed=cfg.seed)
    check_no_leakage(ds)
    return ds


def run_dataset(
    info: RunInfo, *, data: str | None = None, cache_dir: str | None = None, progress: bool = False
) -> tuple[FaceDataset, TrainConfig]:
    """The dataset a run was trained on, split exactly as training split it.

    The run's own configuration is replayed unchanged (only paths and the progress bar may
    differ): the split is seeded and stratified on what that configuration names, so any
    other change, such as setting ``labels``, would move identities across splits.
    """
    overrides = {k: v for k, v in (("data", data), ("cache_dir", cache_dir)) if v is not None}
    cfg = from_dict(TrainConfig, {**info.data, **overrides, "progress": progress, "resume": False})
    ds = prepare_dataset(cfg)
    if ds.labels != info.labels:
        raise RostroError(f"the data now has labels {ds.labels[:5]}..., the run was trained on {info.labels[:5]}...")
    return ds, cfg


def cache_dataset(ds: FaceDataset, cfg: TrainConfig, size: int, *, progress: bool | None = None) -> ImageCache:
    """Decoded images for every row; unreadable ones are logged and left out of every split."""
    progress = cfg.progress if progress is None else progress
    chips = {}
    if cfg.chips:
        from rostro.faces.chips import chip_cache_options

        chips = chip_cache_options(cfg.chips)
    cache = build_cache(ds.frame["path"].tolist(), size, cache_dir=cfg.cache_dir, progress=progress, **chips)
    if cache.errors:
        first = min(cache.errors)
        log.warning(
            "%d unreadable image(s) left out, e.g. %s: %s",
            len(cache.errors),
            cache.paths[first],
            cache.errors[first],
        )
    return cache


def split_indices(ds: FaceDataset, cache: ImageCache, split: str) -> np.ndarray:
    """Row indices of ``split`` whose images decoded."""
    return np.flatnonzero((ds.frame["split"] == split).to_numpy() & cache.valid)


def soft_label_data(
    cfg: TrainConfig, labels: list[str], size: int, *, progress: bool = False
) -> tuple[np.ndarray, np.ndarray]:
    """Decoded images and float targets (N x labels) of ``cfg.soft_labels``; unreadable images are
    logged and left out."""
    table = read_soft_labels(cfg.soft_labels, labels)
    cache = build_cache(table["path"].tolist(), size, cache_dir=cfg.cache_dir, progress=progress)
    if cache.errors:
        log.warning("%d unreadable soft-labelled image(s) left out", len(cache.errors))
    targets = table[labels].to_numpy(np.float32)
    if not cache.errors:  # keep the memory map rather than copy it
        return cache.images, targets
    ok = np.flatnonzero(cache.valid)
    return cache.images[ok], targets[ok]
