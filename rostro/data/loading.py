"""From a path or a config to a dataset with three splits: format detection and the default data."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from rostro.data.celeba import read_celeba
from rostro.data.dataset import FaceDataset
from rostro.data.folders import read_folders, read_images
from rostro.data.manifest import read_manifest
from rostro.data.sampling import ensure_splits
from rostro.data.synthetic import write_celeba
from rostro.data.utkface import UTK_NAME, read_utkface
from rostro.errors import DataFormatError
from rostro.files import atomic_path, user_cache_dir

FORMATS = ("auto", "celeba", "folders", "manifest", "utkface")


def detect_format(path: str | Path) -> str:
    """Guess a dataset's layout: a CSV file is a manifest, a folder with CelebA's label file
    is CelebA, any other folder is a folder per class."""
    path = Path(path)
    if path.is_file() and path.suffix.lower() == ".csv":
        return "manifest"
    if not path.exists():
        raise DataFormatError("dataset path does not exist", file=path)
    if path.is_dir() and any((path / f"list_attr_celeba{e}").is_file() for e in (".txt", ".csv")):
        return "celeba"
    if path.is_dir() and any(UTK_NAME.match(p.name) for p in itertools.islice(path.iterdir(), 50)):
        return "utkface"
    if path.is_dir():
        return "folders"
    raise DataFormatError("expected a dataset folder or a CSV manifest", file=path)


def load_dataset(path: str | Path, *, format: str = "auto", **options) -> FaceDataset:
    """Read any supported dataset; ``options`` go to the matching reader."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    fmt = detect_format(path) if format == "auto" else format
    reader = {"celeba": read_celeba, "folders": read_folders, "manifest": read_manifest, "utkface": read_utkface}[fmt]
    return reader(path, **options)


@dataclass
class DataConfig:
    """How to read and split a dataset; shared by every command that reads one."""

    data: str | None = None
    format: str = "auto"
    drop_missing: bool = False
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    seed: int = 0
    synthetic_n: int = 800


def synthetic_default(n: int = 800, seed: int = 0) -> Path:
    """The project's own synthetic CelebA-layout set, drawn once into the cache folder."""
    root = user_cache_dir(f"synthetic-celeba-{n}-{seed}")
    if not (root / "list_attr_celeba.txt").is_file():
        try:
            with atomic_path(root) as tmp:
                write_celeba(tmp, n, seed=seed)
        except OSError:
            if not (root / "list_attr_celeba.txt").is_file():  # else another process drew it meanwhile
                raise
    return root


def open_data(cfg: DataConfig, *, stratify: str | None = None, labels_optional: bool = False) -> FaceDataset:
    """Read ``cfg.data`` (the synthetic default when unset) and make sure it has three splits.

    With ``labels_optional``, a folder that is not a labelled dataset (plain photos, or a single
    class folder) is read as unlabelled images, kept in one split.
    """
    path = cfg.data if cfg.data is not None else synthetic_default(cfg.synthetic_n, cfg.seed)
    fmt = detect_format(path) if cfg.format == "auto" else cfg.format
    missing = "drop" if cfg.drop_missing else "error"
    split = {"fractions": cfg.fractions, "seed": cfg.seed}
    options = {"celeba": {"missing": missing}, "folders": split, "manifest": {"missing": missing, **split},
               "utkface": split}  # fmt: skip
    try:
        ds = load_dataset(path, format=fmt, **options.get(fmt, {}))
    except DataFormatError:
        if not (labels_optional and fmt == "folders"):
            raise
        return read_images(path)
    if stratify is not None and stratify not in ds.labels:
        stratify = None
    return ensure_splits(ds, fractions=cfg.fractions, stratify=stratify, seed=cfg.seed)
