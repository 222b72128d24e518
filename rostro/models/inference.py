"""Batched, no-grad inference on uint8 image arrays (cached crops or aligned faces)."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from rostro.data.transforms import to_float_tensor
from rostro.models.calibration import sigmoid


def predict_proba(model: nn.Module, images: np.ndarray, **options: Any) -> np.ndarray:
    """Sigmoid probabilities, N x outputs, for NHWC uint8 ``images``; ``options`` as :func:`predict_logits`."""
    return sigmoid(predict_logits(model, images, **options)).astype(np.float32)


@torch.no_grad()
def predict_logits(
    model: nn.Module,
    images: np.ndarray,
    *,
    mean: float = 0.5,
    std: float = 0.5,
    batch_size: int = 256,
    indices: np.ndarray | None = None,
) -> np.ndarray:
    """Raw outputs, N x outputs, for NHWC uint8 ``images`` (or the rows in ``indices``)."""
    model.eval()
    device = next(model.parameters()).device
    idx = np.arange(len(images)) if indices is None else np.asarray(indices)
    out = []
    for start in range(0, len(idx), batch_size):
        rows = idx[start : start + batch_size]
        x = to_float_tensor(np.ascontiguousarray(images[rows]), mean, std).to(device)
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = model(x.contiguous(memory_format=torch.channels_last))
        out.append(logits.float().cpu().numpy())
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out).astype(np.float32)


@torch.no_grad()
def extract_features(
    model: nn.Module, images: np.ndarray, *, mean: float = 0.5, std: float = 0.5, batch_size: int = 256
) -> np.ndarray:
    """The trunk's penultimate features (an embedding of the network's own) for each image."""
    model.eval()
    out = []
    for start in range(0, len(images), batch_size):
        x = to_float_tensor(np.ascontiguousarray(images[start : start + batch_size]), mean, std)
        out.append(model.features(x.contiguous(memory_format=torch.channels_last)).numpy())
    return np.concatenate(out).astype(np.float32)
