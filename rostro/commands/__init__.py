"""Every command as a config dataclass, a function and a result object with ``lines()``.

The CLI (``rostro.cli``) only turns flags and ``--config`` YAML into these configs and prints the
results; Python users call the same functions. Names load on first use (PEP 562), so the CLI imports
only the module of the command it runs (``rostro video`` loads neither scikit-learn nor FastAPI).
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real imports, for type checkers and IDEs
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

_EXPORTS = {
    "rostro.commands.audit": [
        "AuditConfig",
        "EmbeddingAuditResult",
        "ModelAuditConfig",
        "ModelAuditResult",
        "audit",
        "audit_model",
    ],
    "rostro.commands.cluster": ["ClusterConfig", "ClusterResult", "cluster"],
    "rostro.commands.eda": ["EdaConfig", "EdaResult", "eda"],
    "rostro.commands.embed": ["EmbedConfig", "EmbedResult", "FuseConfig", "FuseResult", "embed", "fuse"],
    "rostro.commands.evaluate": ["EvaluateConfig", "EvaluateResult", "evaluate"],
    "rostro.commands.explain": ["ExplainConfig", "ExplainResult", "explain"],
    "rostro.commands.identify": [
        "IdentifyConfig",
        "IdentifyResult",
        "SearchConfig",
        "SearchResult",
        "identify",
        "search",
    ],
    "rostro.commands.index": ["IndexConfig", "IndexResult", "index"],
    "rostro.commands.predict": [
        "AnalyzeConfig",
        "AnalyzeResult",
        "ExportConfig",
        "ExportResult",
        "PredictConfig",
        "PredictResult",
        "analyze",
        "export",
        "predict",
    ],
    "rostro.commands.synth": ["SynthConfig", "SynthResult", "synth"],
    "rostro.commands.train": ["TrainConfig", "TrainResult", "train"],
    "rostro.commands.train_multitask": ["MultiTaskConfig", "MultiTaskResult", "train_multitask"],
    "rostro.commands.tsne": ["TsneConfig", "TsneResult", "tsne"],
    "rostro.commands.verify": [
        "LfwConfig",
        "LfwResult",
        "VerifyConfig",
        "VerifyEvalConfig",
        "VerifyEvalResult",
        "VerifyResult",
        "lfw_eval",
        "verify",
        "verify_eval",
    ],
    "rostro.commands.video": ["VideoConfig", "VideoResult", "video"],
    "rostro.serve.app": ["ServeConfig", "serve"],
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

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


def __getattr__(name: str) -> Any:
    if name not in _MODULE_OF:
        raise AttributeError(f"module 'rostro.commands' has no attribute {name!r}")
    value = getattr(importlib.import_module(_MODULE_OF[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """Keeps each command's function, not its module, under the name both have (``video``, ``train``, ...).

    Importing a submodule such as ``rostro.commands.video`` binds it on this package, whoever imports
    it first; the function of that name is bound instead, as when this package imported them all.
    """

    def __setattr__(self, name: str, value: Any) -> None:
        if isinstance(value, types.ModuleType) and _MODULE_OF.get(name) == value.__name__:
            value = getattr(value, name)
        super().__setattr__(name, value)


sys.modules[__name__].__class__ = _Package
