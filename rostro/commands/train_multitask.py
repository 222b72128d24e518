"""``rostro train-multitask``: heads for attributes and age on dlib's face network, on several sets at once."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from rostro.training.multitask import MultiTaskConfig, pack_inputs
from rostro.training.multitask import train_multitask as _fit

__all__ = ["MultiTaskConfig", "MultiTaskResult", "train_multitask"]


@dataclass(kw_only=True)
class MultiTaskResult:
    run_dir: Path
    validation: dict

    def lines(self) -> list[str]:
        v = self.validation
        if not v:
            return [f"Training pack written (training and validation rows, no test rows): {self.run_dir}"]
        age = f", age MAE {v['age_mae']:.2f} years" if "age_mae" in v else ""
        return [f"Validation mean accuracy {v['mean_accuracy']:.4f}{age}. Run: {self.run_dir}"]


def train_multitask(cfg: MultiTaskConfig) -> MultiTaskResult:
    """Train as ``cfg`` says (sources, splits, schedule); the run folder is ``cfg.out``. With ``pack_to``,
    write the training pack instead (the result's ``run_dir`` is the pack, ``validation`` empty)."""
    if cfg.pack_to:
        return MultiTaskResult(run_dir=pack_inputs(cfg), validation={})
    run_dir = _fit(cfg)
    return MultiTaskResult(run_dir=run_dir, validation=json.loads((run_dir / "run.json").read_text())["validation"])
