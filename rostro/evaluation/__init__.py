"""Metrics, threshold tuning, calibration, verification and fairness: arrays in, result objects out.

Names load on first use (PEP 562), so a module that needs only verification (face embedding, and
through it ``rostro video``) does not load scikit-learn, which the metrics use.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the real imports, for type checkers and IDEs
    from rostro.evaluation.metrics import (
        attribute_table,
        binary_metrics,
        summarise_table,
        tune_threshold,
        tune_thresholds,
    )

__all__ = ["attribute_table", "binary_metrics", "summarise_table", "tune_threshold", "tune_thresholds"]


def __getattr__(name: str) -> Any:
    if name not in __all__:
        raise AttributeError(f"module 'rostro.evaluation' has no attribute {name!r}")
    value = getattr(importlib.import_module("rostro.evaluation.metrics"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
