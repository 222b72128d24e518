"""Commands as plain functions over a config dataclass; the CLI is a thin layer over these."""

from __future__ import annotations

import json
import os
import shutil
from dataclasses import dataclass
from pathlib import Path

from rostro.config import save_config
from rostro.data import FaceDataset, detect_format, load_dataset
from rostro.data.cache import DEFAULT_CACHE_DIR
from rostro.data.sampling import ensure_splits
from rostro.data.stats import DatasetSummary, describe_dataset
from rostro.data.synthetic import write_celeba
from rostro.reports.eda import write_eda_report


@dataclass
class DataConfig:
    """How to read and split a dataset; shared by every command that reads one."""

    data: str | None = None
    format: str = "auto"
    drop_missing: bool = False
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    seed: int = 0
    synthetic_n: int = 800


@dataclass
class EdaConfig(DataConfig):
    out: str = "rostro-report/eda"
    target: str | None = None
    samples: int = 16


def synthetic_default(n: int = 800, seed: int = 0) -> Path:
    """The project's own synthetic CelebA-layout set, drawn once into the cache folder."""
    root = Path(DEFAULT_CACHE_DIR) / f"synthetic-celeba-{n}-{seed}"
    if not (root / "list_attr_celeba.txt").is_file():
        tmp = root.with_name(root.name + f".{os.getpid()}.tmp")
        write_celeba(tmp, n, seed=seed)
        if root.exists():  # another process drew it meanwhile
            shutil.rmtree(tmp)
        else:
            tmp.replace(root)
    return root


def open_data(cfg: DataConfig, *, stratify: str | None = None) -> FaceDataset:
    """Read ``cfg.data`` (the synthetic default when unset) and make sure it has three splits."""
    path = cfg.data if cfg.data is not None else synthetic_default(cfg.synthetic_n, cfg.seed)
    fmt = detect_format(path) if cfg.format == "auto" else cfg.format
    missing = "drop" if cfg.drop_missing else "error"
    split = {"fractions": cfg.fractions, "seed": cfg.seed}
    options = {"celeba": {"missing": missing}, "folders": split, "manifest": {"missing": missing, **split}}
    ds = load_dataset(path, format=fmt, **options.get(fmt, {}))
    if stratify is not None and stratify not in ds.labels:
        stratify = None
    return ensure_splits(ds, fractions=cfg.fractions, stratify=stratify, seed=cfg.seed)


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
