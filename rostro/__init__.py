"""rostro: face-attribute recognition you can train, evaluate, audit and serve, offline.

The public API is small: read a dataset, split and sample it, decode and cache images,
describe it, and run commands from their config dataclasses.
"""

__version__ = "0.1.0"

from rostro.api import EdaConfig, eda  # noqa: E402
from rostro.config import load_config, save_config  # noqa: E402
from rostro.data import (  # noqa: E402
    FaceDataset,
    load_dataset,
    read_celeba,
    read_folders,
    read_manifest,
)
from rostro.data.cache import ImageCache, build_cache  # noqa: E402
from rostro.data.images import load_image  # noqa: E402
from rostro.data.sampling import (  # noqa: E402
    check_no_leakage,
    ensure_splits,
    identity_overlap,
    sample_balanced,
    split_dataset,
)
from rostro.data.stats import DatasetSummary, describe_dataset  # noqa: E402
from rostro.errors import DataFormatError, ImageDecodeError, MissingImagesError, RostroError  # noqa: E402

__all__ = [
    "DataFormatError",
    "DatasetSummary",
    "EdaConfig",
    "FaceDataset",
    "ImageCache",
    "ImageDecodeError",
    "MissingImagesError",
    "RostroError",
    "build_cache",
    "check_no_leakage",
    "describe_dataset",
    "eda",
    "ensure_splits",
    "identity_overlap",
    "load_config",
    "load_dataset",
    "load_image",
    "read_celeba",
    "read_folders",
    "read_manifest",
    "sample_balanced",
    "save_config",
    "split_dataset",
]
