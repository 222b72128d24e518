"""rostro: face-attribute recognition you can train, evaluate, audit and serve, offline.

The public API is small: read a dataset, split and sample it, decode and cache images,
describe it, and run every command from its config dataclass (``rostro.commands`` holds the
result objects, and ``serve``). Names load on first use, so ``import rostro`` stays light and a
module that needs only inference never loads training.
"""

from __future__ import annotations

import importlib
from typing import Any

from rostro._version import __version__

_EXPORTS = {
    "rostro.commands": [
        "AnalyzeConfig",
        "AuditConfig",
        "ClusterConfig",
        "EdaConfig",
        "EmbedConfig",
        "EvaluateConfig",
        "ExplainConfig",
        "ExportConfig",
        "FuseConfig",
        "IdentifyConfig",
        "IndexConfig",
        "LfwConfig",
        "ModelAuditConfig",
        "MultiTaskConfig",
        "PredictConfig",
        "SearchConfig",
        "SynthConfig",
        "TsneConfig",
        "VerifyConfig",
        "VerifyEvalConfig",
        "analyze",
        "audit",
        "audit_model",
        "cluster",
        "eda",
        "embed",
        "evaluate",
        "explain",
        "export",
        "fuse",
        "identify",
        "index",
        "lfw_eval",
        "predict",
        "search",
        "synth",
        "train",
        "train_multitask",
        "tsne",
        "verify",
        "verify_eval",
    ],
    "rostro.config": ["load_config", "save_config"],
    "rostro.data": ["FaceDataset", "load_dataset", "read_celeba", "read_folders", "read_manifest"],
    "rostro.data.cache": ["ImageCache", "build_cache"],
    "rostro.data.images": ["load_image"],
    "rostro.data.sampling": [
        "check_no_leakage",
        "ensure_splits",
        "identity_overlap",
        "sample_balanced",
        "split_dataset",
    ],
    "rostro.data.stats": ["DatasetSummary", "describe_dataset"],
    "rostro.errors": ["DataFormatError", "ImageDecodeError", "MissingImagesError", "RostroError"],
    "rostro.evaluation": ["attribute_table", "binary_metrics", "tune_thresholds"],
    "rostro.evaluation.fairness": ["audit_predictions", "cross_group_matrix"],
    "rostro.evaluation.verification": ["make_pairs", "verification_curves"],
    "rostro.faces.detection": ["detect_faces"],
    "rostro.faces.embedding": ["compare_photos", "embed_image"],
    "rostro.inference.embed": ["embed_dataset"],
    "rostro.inference.predict": ["AttributePredictor"],
    "rostro.models": ["create_model", "list_models"],
    "rostro.models.heads": ["EmbeddingClassifier"],
    "rostro.runs": ["load_run"],
    "rostro.search": ["open_gallery"],
    "rostro.training.config": ["TrainConfig"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = ["__version__", *sorted(_MODULE_OF)]


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'rostro' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
