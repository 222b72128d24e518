"""Training: config, and the loop with callbacks; run folders live in ``rostro.runs``."""

from rostro.runs import RunInfo, load_run, read_run_info
from rostro.training.config import TrainConfig
from rostro.training.loop import FitResult, TrainData, fit

__all__ = ["FitResult", "RunInfo", "TrainConfig", "TrainData", "fit", "load_run", "read_run_info"]
