"""Metrics, threshold tuning, calibration, verification and fairness: arrays in, result objects out."""

from rostro.evaluation.metrics import (
    attribute_table,
    binary_metrics,
    summarise_table,
    tune_threshold,
    tune_thresholds,
)

__all__ = ["attribute_table", "binary_metrics", "summarise_table", "tune_threshold", "tune_thresholds"]
