"""rostro: face-attribute recognition you can train, evaluate, audit and serve, offline.

The public API is small: read a dataset, split and sample it, decode and cache images,
describe it, and run every command from its config dataclass (``rostro.commands`` holds the
result objects too).
"""

from rostro._version import __version__
from rostro.commands import (
    AnalyzeConfig,
    AuditConfig,
    EdaConfig,
    EmbedConfig,
    EvaluateConfig,
    ExportConfig,
    FuseConfig,
    LfwConfig,
    ModelAuditConfig,
    MultiTaskConfig,
    PredictConfig,
    ServeConfig,
    SynthConfig,
    TsneConfig,
    VerifyConfig,
    VerifyEvalConfig,
    analyze,
    audit,
    audit_model,
    eda,
    embed,
    evaluate,
    export,
    fuse,
    lfw_eval,
    predict,
    serve,
    synth,
    train,
    train_multitask,
    tsne,
    verify,
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
from rostro.runs import load_run
from rostro.training.config import TrainConfig

__all__ = [
    "__version__",
    "AnalyzeConfig",
    "AttributePredictor",
    "AuditConfig",
    "DataFormatError",
    "DatasetSummary",
    "EdaConfig",
    "EmbedConfig",
    "EmbeddingClassifier",
    "EvaluateConfig",
    "ExportConfig",
    "FaceDataset",
    "FuseConfig",
    "ImageCache",
    "ImageDecodeError",
    "LfwConfig",
    "MissingImagesError",
    "ModelAuditConfig",
    "MultiTaskConfig",
    "PredictConfig",
    "RostroError",
    "ServeConfig",
    "SynthConfig",
    "TrainConfig",
    "TsneConfig",
    "VerifyConfig",
    "VerifyEvalConfig",
    "analyze",
    "attribute_table",
    "audit",
    "audit_model",
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
    "embed",
    "embed_dataset",
    "embed_image",
    "ensure_splits",
    "evaluate",
    "export",
    "fuse",
    "identity_overlap",
    "lfw_eval",
    "list_models",
    "load_config",
    "load_dataset",
    "load_image",
    "load_run",
    "make_pairs",
    "predict",
    "read_celeba",
    "read_folders",
    "read_manifest",
    "sample_balanced",
    "save_config",
    "serve",
    "split_dataset",
    "synth",
    "train",
    "train_multitask",
    "tsne",
    "tune_thresholds",
    "verification_curves",
    "verify",
    "verify_eval",
]
