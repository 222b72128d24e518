"""A run folder: everything needed to evaluate or predict with nothing else, and its checkpoints
(written atomically, read with weights_only). Training writes runs; inference only reads them.

``run.json`` names the model and its arguments, the label list, input size, normalisation,
tuned thresholds, the data configuration and the code version; ``best.pt`` holds weights.
"""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rostro.errors import RostroError
from rostro.files import atomic_write_bytes, atomic_write_text
from rostro.models.calibration import Calibration, sigmoid
from rostro.models.cnn import TrunkHeadNet
from rostro.models.registry import create_model, load_weights

RUN_FILE = "run.json"
WEIGHTS_FILE = "best.pt"
MANIFEST_FILE = "manifest.json"
SIGNED_FILES = (RUN_FILE, WEIGHTS_FILE, "fusion.json", "calibration.json")


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
    input: str = "crop"  # "crop": the CelebA-aligned crop resized; "chip": the face network's 150-px chip
    crop_points: int = 68  # "crop": cut from dlib's 68 landmarks, or its 5
    # outputs after the labels that are numbers, not probabilities:
    # name -> {"offset", "scale"}, the value being offset + scale * output
    regression: dict = field(default_factory=dict)

    @property
    def outputs(self) -> list[str]:
        """Every output of the network, in order: the labels, then the regression outputs."""
        return [*self.labels, *self.regression]

    def save(self, run_dir: str | Path) -> Path:
        return atomic_write_text(Path(run_dir) / RUN_FILE, json.dumps(dataclasses.asdict(self), indent=2))


def regression_values(regression: dict, raw: np.ndarray) -> np.ndarray:
    """N x len(``regression``) values from the raw regression outputs: ``offset + scale * output`` each."""
    if not regression:
        return np.zeros((len(raw), 0), np.float32)
    return np.stack([s["offset"] + s["scale"] * raw[:, i] for i, s in enumerate(regression.values())], 1).astype(
        np.float32
    )


def split_outputs(info: RunInfo, logits: np.ndarray, calibration: Calibration | None) -> tuple[np.ndarray, np.ndarray]:
    """A run's raw outputs as its labels' probabilities (calibrated where the run carries a
    calibration) and its numeric outputs (age in years), in ``info.outputs`` order."""
    n = len(info.labels)
    head = logits[:, :n]
    probs = calibration(head) if calibration is not None else sigmoid(head).astype(np.float32)
    return probs, regression_values(info.regression, logits[:, n:])


def git_commit() -> str | None:
    """The commit of the code that trained a run, when it runs from a git checkout."""
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5, cwd=Path(__file__).parent
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def run_fingerprint(run_dir: str | Path, extra: bytes = b"") -> str:
    """A short id of a run's weights (its signed manifest), plus ``extra`` options that change outputs;
    stored beside resumable outputs so another model's rows are never mixed in."""
    return hashlib.sha256((Path(run_dir) / MANIFEST_FILE).read_bytes() + extra).hexdigest()[:16]


def write_manifest(run_dir: str | Path) -> Path:
    """Record the SHA-256 and size of the files a run is loaded from (``manifest.json``)."""
    run_dir = Path(run_dir)
    files = {n: {"sha256": _sha256(run_dir / n), "bytes": (run_dir / n).stat().st_size}
             for n in SIGNED_FILES if (run_dir / n).is_file()}  # fmt: skip
    return atomic_write_text(run_dir / MANIFEST_FILE, json.dumps({"files": files}, indent=2))


def verify_manifest(run_dir: str | Path) -> None:
    """Refuse a run whose files differ from its manifest (tampered, truncated, swapped or added)."""
    run_dir = Path(run_dir)
    path = run_dir / MANIFEST_FILE
    if not path.is_file():
        raise RostroError(f"{run_dir}: no {MANIFEST_FILE}, so its files cannot be verified; training writes it after "
                          "every epoch (re-sign a run you trust with rostro.runs.write_manifest)")  # fmt: skip
    try:
        files = json.loads(path.read_text())["files"]
    except (json.JSONDecodeError, KeyError, TypeError) as exc:
        raise RostroError(f"{path}: unreadable manifest ({exc})") from None
    for name in SIGNED_FILES:
        f = run_dir / name
        if name not in files:
            if f.is_file():
                raise RostroError(f"{f}: not listed in {MANIFEST_FILE}; the run was changed after it was signed")
            continue
        if not f.is_file():
            raise RostroError(f"{f}: listed in {MANIFEST_FILE} but missing")
        size = f.stat().st_size
        if size != files[name]["bytes"]:
            raise RostroError(f"{f}: {size:,} bytes where the manifest says {files[name]['bytes']:,} (truncated or "
                              "replaced); refusing to load it")  # fmt: skip
        if _sha256(f) != files[name]["sha256"]:
            raise RostroError(f"{f}: SHA-256 differs from {MANIFEST_FILE} (the file was modified); refusing to load it")


def _run_file(run_dir: str | Path) -> Path:
    path = Path(run_dir) / RUN_FILE
    if not path.is_file():
        raise RostroError(f"{run_dir}: not a rostro run folder (no {RUN_FILE})")
    return path


def read_run_info(run_dir: str | Path) -> RunInfo:
    path = _run_file(run_dir)
    try:
        raw = json.loads(path.read_text())
        return RunInfo(**raw)
    except (json.JSONDecodeError, TypeError) as exc:
        raise RostroError(f"{path}: unreadable run description ({exc})") from None


def load_run(run_dir: str | Path) -> tuple[TrunkHeadNet, RunInfo]:
    """The trained model (best weights, eval mode) and its description, after checking the manifest."""
    _run_file(run_dir)  # a plain folder gets this message, not "no manifest"
    verify_manifest(run_dir)
    info = read_run_info(run_dir)
    model = create_model(info.model, **info.model_kwargs)
    weights = Path(run_dir) / WEIGHTS_FILE
    if not weights.is_file():
        raise RostroError(f"{run_dir}: no {WEIGHTS_FILE}; the run has not finished an epoch")
    # a pretrained model's checkpoint may hold only what training changed (a head on a frozen trunk)
    load_weights(model, load_checkpoint(weights), source=str(weights), strict=not info.model_kwargs.get("pretrained"))
    return model.eval(), info


def save_checkpoint(obj: Any, path: str | Path) -> Path:
    """``torch.save`` through :func:`atomic_write_bytes`."""
    buf = io.BytesIO()
    torch.save(obj, buf)
    return atomic_write_bytes(path, buf.getvalue())


def load_checkpoint(path: str | Path) -> Any:
    """Load tensors and plain containers only: a checkpoint can never run code on load."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint not found")
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a torn or foreign file
        raise ValueError(f"{path}: not a readable rostro checkpoint ({type(exc).__name__}: {exc})") from None
