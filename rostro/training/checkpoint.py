"""Checkpoints written atomically (temporary file, fsync, rename) and read with weights_only."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import torch

from rostro.files import atomic_write_bytes


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
