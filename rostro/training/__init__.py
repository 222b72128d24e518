"""Training: config, loop with callbacks, checkpoints and run folders."""

from rostro.training.config import TrainConfig
from rostro.training.loop import FitResult, TrainData, fit
from rostro.training.run import RunInfo, load_run, read_run_info

__all__ = ["FitResult", "RunInfo", "TrainConfig", "TrainData", "fit", "load_run", "read_run_info"]
