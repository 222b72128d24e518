"""rostro: face-attribute recognition you can train, evaluate, audit and serve, offline.

The public API is small: read a dataset, split and sample it, decode and cache images,
describe it, and run commands from their config dataclasses.
"""

from rostro._version import __version__
from rostro.api import (
    AuditConfig,
    EdaConfig,
    EvaluateConfig,
    TsneConfig,
    VerifyEvalConfig,
    audit,
    eda,
    evaluate,
    train,
    tsne,
    verify_eval,
)
from rostro.config import load_config, save_config
from rostro.data import (
    FaceDataset,
    load_dataset,
    read_celeba,
    read_folders,
    read_manifest,
)
from rostro.data.cache import ImageCache, build_cache
from rostro.data.images import load_image
from rostro.data.sampling import (
    check_no_leakage,
    ensure_splits,
    identity_overlap,
    sample_balanced,
    split_dataset,
)
from rostro.data.stats import DatasetSummary, describe_dataset
from rostro.errors import DataFormatError, ImageDecodeError, MissingImagesError, RostroError
from rostro.evaluation import attribute_table, binary_metrics, tune_thresholds
from rostro.evaluation.fairness import audit_predictions, cross_group_matrix
from rostro.evaluation.verification import make_pairs, verification_curves
from rostro.faces.detection import detect_faces
from rostro.faces.embedding import compare_photos, embed_image
from rostro.inference.embed import embed_dataset
from rostro.inference.predict import AttributePredictor
from rostro.models import create_model, list_models
from rostro.models.heads import EmbeddingClassifier
from rostro.training import TrainConfig, load_run

__all__ = [
    "__version__",
    "AttributePredictor",
    "AuditConfig",
    "DataFormatError",
    "DatasetSummary",
    "EdaConfig",
    "EmbeddingClassifier",
    "EvaluateConfig",
    "FaceDataset",
    "ImageCache",
    "ImageDecodeError",
    "MissingImagesError",
    "RostroError",
    "TrainConfig",
    "TsneConfig",
    "VerifyEvalConfig",
    "attribute_table",
    "audit",
    "audit_predictions",
    "binary_metrics",
    "build_cache",
    "check_no_leakage",
    "compare_photos",
    "create_model",
    "cross_group_matrix",
    "describe_dataset",
    "detect_faces",
    "eda",
    "embed_dataset",
    "embed_image",
    "ensure_splits",
    "evaluate",
    "identity_overlap",
    "list_models",
    "load_config",
    "load_dataset",
    "load_image",
    "load_run",
    "make_pairs",
    "read_celeba",
    "read_folders",
    "read_manifest",
    "sample_balanced",
    "save_config",
    "split_dataset",
    "train",
    "tsne",
    "tune_thresholds",
    "verification_curves",
    "verify_eval",
]
