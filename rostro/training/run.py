"""A run folder: everything needed to evaluate or predict with nothing else.

``run.json`` names the model and its arguments, the label list, input size, normalisation,
tuned thresholds, the data configuration and the code version; ``best.pt`` holds weights.
"""

from __future__ import annotations

import dataclasses
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from rostro.errors import RostroError
from rostro.models.cnn import TrunkHeadNet
from rostro.models.registry import create_model, load_weights
from rostro.training.checkpoint import atomic_write_text, load_checkpoint

RUN_FILE = "run.json"
WEIGHTS_FILE = "best.pt"


@dataclass
class RunInfo:
    model: str
    model_kwargs: dict
    labels: list[str]
    input_size: int
    mean: float
    std: float
    thresholds: list[float]
    threshold_metric: str = "balanced_accuracy"
    data: dict = field(default_factory=dict)
    source: str = ""
    best_epoch: int = -1
    monitor: str = ""
    best_value: float = float("nan")
    git_commit: str | None = None
    rostro_version: str = ""
    validation: dict = field(default_factory=dict)

    def save(self, run_dir: str | Path) -> Path:
        return atomic_write_text(Path(run_dir) / RUN_FILE, json.dumps(dataclasses.asdict(self), indent=2))


def git_commit() -> str | None:
    """The commit of the code that trained a run, when it runs from a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def read_run_info(run_dir: str | Path) -> RunInfo:
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise RostroError(f"{run_dir}: not a rostro run folder (no {RUN_FILE})")
    try:
        raw = json.loads(path.read_text())
        return RunInfo(**raw)
    except (json.JSONDecodeError, TypeError) as exc:
        raise RostroError(f"{path}: unreadable run description ({exc})") from None


def load_run(run_dir: str | Path) -> tuple[TrunkHeadNet, RunInfo]:
    """The trained model (best weights, eval mode) and its description."""
    info = read_run_info(run_dir)
    model = create_model(info.model, **info.model_kwargs)
    weights = Path(run_dir) / WEIGHTS_FILE
    if not weights.is_file():
        raise RostroError(f"{run_dir}: no {WEIGHTS_FILE}; the run has not finished an epoch")
    load_weights(model, load_checkpoint(weights), source=str(weights))
    return model.eval(), info
