"""Metrics, threshold tuning and (later) verification and fairness."""

from rostro.evaluation.metrics import (
    attribute_table,
    binary_metrics,
    summarise_table,
    tune_threshold,
    tune_thresholds,
)

__all__ = ["attribute_table", "binary_metrics", "summarise_table", "tune_threshold", "tune_thresholds"]
