"""rostro: face-attribute recognition you can train, evaluate, audit and serve, offline.

The public API is small: read a dataset, split and sample it, decode and cache images,
describe it, and run commands from their config dataclasses.
"""

__version__ = "0.1.0"

from rostro.api import (  # noqa: E402
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
from rostro.embed import embed_dataset  # noqa: E402
from rostro.errors import DataFormatError, ImageDecodeError, MissingImagesError, RostroError  # noqa: E402
from rostro.evaluation import attribute_table, binary_metrics, tune_thresholds  # noqa: E402
from rostro.evaluation.fairness import audit_predictions, cross_group_matrix  # noqa: E402
from rostro.evaluation.verification import make_pairs, verification_curves  # noqa: E402
from rostro.faces.detection import detect_faces  # noqa: E402
from rostro.faces.embedding import compare_photos, embed_image  # noqa: E402
from rostro.models import create_model, list_models  # noqa: E402
from rostro.models.heads import EmbeddingClassifier  # noqa: E402
from rostro.predict import AttributePredictor  # noqa: E402
from rostro.training import TrainConfig, load_run  # noqa: E402

__all__ = [
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
