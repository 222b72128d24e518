"""From a training config to cached arrays: the same steps for train, evaluate and resume."""

from __future__ import annotations

import logging

import numpy as np

from rostro.data.cache import ImageCache, build_cache
from rostro.data.dataset import SPLITS, FaceDataset
from rostro.data.loading import open_data
from rostro.data.sampling import check_no_leakage, exclude_images, sample_balanced
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


def cache_dataset(ds: FaceDataset, cfg: TrainConfig, size: int) -> ImageCache:
    """Decoded images for every row; unreadable ones are logged and left out of every split."""
    cache = build_cache(ds.frame["path"].tolist(), size, cache_dir=cfg.cache_dir, progress=cfg.progress)
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
