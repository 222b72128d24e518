"""Every command as a config dataclass, a function and a result object with ``lines()``.

The CLI (``rostro.cli``) only turns flags and ``--config`` YAML into these configs and prints the
results; Python users call the same functions.
"""

from rostro.commands.audit import (
    AuditConfig,
    EmbeddingAuditResult,
    ModelAuditConfig,
    ModelAuditResult,
    audit,
    audit_model,
)
from rostro.commands.cluster import ClusterConfig, ClusterResult, cluster
from rostro.commands.eda import EdaConfig, EdaResult, eda
from rostro.commands.embed import EmbedConfig, EmbedResult, FuseConfig, FuseResult, embed, fuse
from rostro.commands.evaluate import EvaluateConfig, EvaluateResult, evaluate
from rostro.commands.explain import ExplainConfig, ExplainResult, explain
from rostro.commands.identify import IdentifyConfig, IdentifyResult, SearchConfig, SearchResult, identify, search
from rostro.commands.index import IndexConfig, IndexResult, index
from rostro.commands.predict import (
    AnalyzeConfig,
    AnalyzeResult,
    ExportConfig,
    ExportResult,
    PredictConfig,
    PredictResult,
    analyze,
    export,
    predict,
)
from rostro.commands.synth import SynthConfig, SynthResult, synth
from rostro.commands.train import TrainConfig, TrainResult, train
from rostro.commands.train_multitask import MultiTaskConfig, MultiTaskResult, train_multitask
from rostro.commands.tsne import TsneConfig, TsneResult, tsne
from rostro.commands.verify import (
    LfwConfig,
    LfwResult,
    VerifyConfig,
    VerifyEvalConfig,
    VerifyEvalResult,
    VerifyResult,
    lfw_eval,
    verify,
    verify_eval,
)
from rostro.commands.video import VideoConfig, VideoResult, video
from rostro.serve.app import ServeConfig, serve

__all__ = [
    "AnalyzeConfig",
    "AnalyzeResult",
    "AuditConfig",
    "ClusterConfig",
    "ClusterResult",
    "EdaConfig",
    "EdaResult",
    "EmbedConfig",
    "EmbedResult",
    "EmbeddingAuditResult",
    "EvaluateConfig",
    "EvaluateResult",
    "ExplainConfig",
    "ExplainResult",
    "ExportConfig",
    "ExportResult",
    "FuseConfig",
    "FuseResult",
    "IdentifyConfig",
    "IdentifyResult",
    "IndexConfig",
    "IndexResult",
    "LfwConfig",
    "LfwResult",
    "ModelAuditConfig",
    "ModelAuditResult",
    "MultiTaskConfig",
    "MultiTaskResult",
    "PredictConfig",
    "PredictResult",
    "SearchConfig",
    "SearchResult",
    "ServeConfig",
    "SynthConfig",
    "SynthResult",
    "TrainConfig",
    "TrainResult",
    "TsneConfig",
    "TsneResult",
    "VerifyConfig",
    "VerifyEvalConfig",
    "VerifyEvalResult",
    "VerifyResult",
    "VideoConfig",
    "VideoResult",
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
    "serve",
    "synth",
    "train",
    "train_multitask",
    "tsne",
    "verify",
    "verify_eval",
    "video",
]
