"""Resizing to the training size and augmentation on batched tensors (no torchvision).

Augmentation runs on a whole batch at once with one affine grid, which is what makes it
cheap on a CPU: rotation, zoom and horizontal flip, as the seed reports used
(±10°, ±20%, flip), drawn from a seeded ``torch.Generator``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image


def resize_square(img: np.ndarray, size: int) -> np.ndarray:
    """Centre-crop an HxWx3 uint8 image to a square and resize it to ``size`` x ``size``.

    On CelebA's aligned 178x218 crops this keeps the full width and the face centred.
    """
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 image, got shape {img.shape}")
    if size < 1:
        raise ValueError(f"size must be >= 1, got {size}")
    h, w = img.shape[:2]
    side = min(h, w)
    top, left = (h - side) // 2, (w - side) // 2
    crop = img[top : top + side, left : left + side]
    if side == size:
        return np.ascontiguousarray(crop)
    return np.asarray(
        Image.fromarray(crop).resize((size, size), Image.BILINEAR, reducing_gap=2.0),
        dtype=np.uint8,
    )


def to_float_tensor(batch: np.ndarray | torch.Tensor, mean: float = 0.5, std: float = 0.5) -> torch.Tensor:
    """NHWC uint8 images to NCHW float32, scaled to [0, 1] then normalised by mean/std."""
    if isinstance(batch, np.ndarray) and not batch.flags.writeable:  # a read-only cache view: torch warns
        batch = batch.copy()
    x = torch.as_tensor(batch)
    if x.dtype != torch.uint8 or x.ndim != 4 or x.shape[-1] != 3:
        raise ValueError(f"expected an NxHxWx3 uint8 batch, got {tuple(x.shape)} {x.dtype}")
    x = x.permute(0, 3, 1, 2).float().div_(255.0)
    return x.sub_(mean).div_(std)


@dataclass(frozen=True)
class Augment:
    """Random rotation (degrees), zoom (fraction) and horizontal flip, on NCHW float batches."""

    rotation: float = 10.0
    zoom: float = 0.2
    flip: bool = True

    def __post_init__(self) -> None:
        if self.rotation < 0 or not 0 <= self.zoom < 1:
            raise ValueError(f"rotation must be >= 0 and zoom in [0, 1); got {self.rotation}, {self.zoom}")

    def __call__(
        self, x: torch.Tensor, generator: torch.Generator | None = None, *, of: tuple[int, slice] | None = None
    ) -> torch.Tensor:
        """Augment ``x``; with ``of=(n, part)``, ``x`` is ``part`` of a batch of ``n`` and gets the
        transforms that batch would: a data-parallel rank then matches one process exactly."""
        if x.ndim != 4 or not x.is_floating_point():
            raise ValueError(f"expected an NxCxHxW float batch, got {tuple(x.shape)} {x.dtype}")
        n, part = of if of is not None else (x.shape[0], slice(None))
        if x.shape[0] == 0:
            return x
        angle = (torch.rand(n, generator=generator) * 2 - 1) * math.radians(self.rotation)
        scale = 1 + (torch.rand(n, generator=generator) * 2 - 1) * self.zoom
        sign = torch.ones(n)
        if self.flip:
            sign = torch.where(torch.rand(n, generator=generator) < 0.5, -1.0, 1.0)
        angle, scale, sign = angle[part], scale[part], sign[part]
        n = x.shape[0]
        cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
        theta = torch.zeros(n, 2, 3)
        theta[:, 0, 0] = cos * sign
        theta[:, 0, 1] = -sin
        theta[:, 1, 0] = sin * sign
        theta[:, 1, 1] = cos
        grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
        return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)
