"""Datasets: readers (CelebA, folders, CSV manifests), sampling, images, transforms, cache."""

from __future__ import annotations

from pathlib import Path

from rostro.data.celeba import read_celeba
from rostro.data.dataset import SPLITS, FaceDataset
from rostro.data.folders import read_folders
from rostro.data.manifest import read_manifest
from rostro.errors import DataFormatError

FORMATS = ("auto", "celeba", "folders", "manifest")


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
    if path.is_dir():
        return "folders"
    raise DataFormatError("expected a dataset folder or a CSV manifest", file=path)


def load_dataset(path: str | Path, *, format: str = "auto", **options) -> FaceDataset:
    """Read any supported dataset; ``options`` go to the matching reader."""
    if format not in FORMATS:
        raise ValueError(f"format must be one of {FORMATS}, got {format!r}")
    fmt = detect_format(path) if format == "auto" else format
    reader = {"celeba": read_celeba, "folders": read_folders, "manifest": read_manifest}[fmt]
    return reader(path, **options)


__all__ = [
    "SPLITS",
    "FaceDataset",
    "detect_format",
    "load_dataset",
    "read_celeba",
    "read_folders",
    "read_manifest",
]
