"""Datasets: readers (CelebA, folders, CSV manifests), sampling, images, transforms, cache."""

from rostro.data.celeba import read_celeba
from rostro.data.dataset import SPLITS, FaceDataset
from rostro.data.folders import read_folders
from rostro.data.loading import DataConfig, detect_format, load_dataset, open_data
from rostro.data.manifest import read_manifest

__all__ = [
    "SPLITS",
    "DataConfig",
    "FaceDataset",
    "detect_format",
    "load_dataset",
    "open_data",
    "read_celeba",
    "read_folders",
    "read_manifest",
]
