"""Which pixels made each attribute: Grad-CAM maps, carried from the network's input back to the photo.

Grad-CAM weighs a convolutional block's channels by the mean gradient of one attribute's logit
and keeps the positive part: where the evidence for the attribute lies. The map lives on the
network's input (the CelebA crop, or the face network's chip); each input is a known warp of the
photo, so the map is warped back onto the photo and is zero outside the face.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from torch import nn

from rostro.data.transforms import resize_square, to_float_tensor
from rostro.errors import RostroError
from rostro.faces.alignment import CELEBA_CROP, align_face, crop_to_image
from rostro.faces.embedding import aligned_shape, find_faces
from rostro.faces.network import chip_to_image, face_chips
from rostro.inference.predict import AttributePredictor
from rostro.models.inference import predict_logits
from rostro.runs import split_outputs

LAYERS = ("last", "auto")


def _units(model: nn.Module) -> list[nn.Module]:
    """The trunk's blocks in order (the units that freeze and thaw); a group's last module stands for it."""
    return [u[-1] if isinstance(u, nn.ModuleList) else u for u in model.trunk_blocks()]


def candidate_layers(model: nn.Module, size: int) -> list[tuple[nn.Module, int]]:
    """The trunk's blocks whose output is a spatial map (2 px or more a side), with that side."""
    found: list[tuple[nn.Module, int]] = []
    hooks = [u.register_forward_hook(lambda m, i, o: found.append((m, o.shape[-1])) if o.ndim == 4 else None)
             for u in _units(model)]  # fmt: skip
    try:
        with torch.no_grad():
            model.eval()(torch.zeros(1, 3, size, size))
    finally:
        for h in hooks:
            h.remove()
    return [(m, side) for m, side in found if side >= 2]


def pick_layer(model: nn.Module, size: int, layer: str | int = "auto") -> nn.Module:
    """``last``: the last convolutional block (Grad-CAM's choice); ``auto``: the last block at least
    1/12 of the input a side, so a deep trunk's map is not a few coarse cells; an int indexes
    :func:`candidate_layers`.

    ``auto`` was chosen by measurement: on dlib's network (150 px) the 17-px blocks' maps beat the
    35-, 8- and 2-px ones in the deletion test on validation faces (``benchmarks/explain.py``), and
    on attr_net (64 px) the 8-px block put more of the map on planted glasses than the last, 4-px one.
    """
    layers = candidate_layers(model, size)
    if isinstance(layer, str) and layer.lstrip("-").isdigit():  # an index given on the command line or in YAML
        layer = int(layer)
    if not layers:
        raise RostroError(f"{type(model).__name__} has no convolutional block with a spatial output to explain")
    if isinstance(layer, int):
        return layers[layer][0]
    if layer not in LAYERS:
        raise ValueError(f"layer must be one of {LAYERS} or an index, got {layer!r}")
    fine = [m for m, side in layers if side >= size / 12]
    return layers[-1][0] if layer == "last" or not fine else fine[-1]


def gradcam(
    model: nn.Module,
    images: np.ndarray,
    outputs: Sequence[int],
    *,
    mean: float,
    std: float,
    layer: str | int | nn.Module = "auto",
    batch_size: int = 64,
) -> np.ndarray:
    """N x K x S x S non-negative maps for NHWC uint8 ``images`` (S x S) and ``outputs`` (K logit indices).

    Each face is repeated once per output, so one backward pass gives every output's map. ``layer``
    is :func:`pick_layer`'s choice, or the block itself (a caller that explains often picks it once).
    """
    n, size, k = len(images), images.shape[1], len(outputs)
    maps = np.zeros((n, k, size, size), np.float32)
    if n == 0 or k == 0:
        return maps
    target = layer if isinstance(layer, nn.Module) else pick_layer(model, size, layer)
    model.eval()
    taken: list[torch.Tensor] = []
    hook = target.register_forward_hook(lambda m, i, o: taken.append(o))
    pick = torch.as_tensor(list(outputs))
    per_step = max(1, batch_size // k)
    try:
        for start in range(0, n, per_step):
            x = to_float_tensor(np.ascontiguousarray(images[start : start + per_step]), mean, std)
            x = x.repeat_interleave(k, dim=0).requires_grad_(True)
            taken.clear()
            with torch.enable_grad():
                logits = model(x)
                chosen = logits[torch.arange(len(x)), pick.repeat(len(x) // k)]
                (grad,) = torch.autograd.grad(chosen.sum(), taken[-1])
            act = taken[-1].detach()
            cam = F.relu((grad.mean(dim=(2, 3), keepdim=True) * act).sum(dim=1, keepdim=True))
            cam = F.interpolate(cam, size=(size, size), mode="bilinear", align_corners=False)
            maps[start : start + per_step] = cam.reshape(-1, k, size, size).numpy()
    finally:
        hook.remove()
    return maps


def maps_by_outcome(
    model: nn.Module,
    images: np.ndarray,
    truth: np.ndarray,
    probs: np.ndarray,
    thresholds: Sequence[float],
    names: Sequence[str],
    *,
    mean: float,
    std: float,
    layer: str | int = "auto",
) -> dict:
    """Per output, the mean map over the faces it got right and over those it got wrong (each face's
    map scaled to its own maximum first; NaN labels are left out), with the mean face beneath."""
    maps = gradcam(model, images, range(len(names)), mean=mean, std=std, layer=layer)
    maps /= np.maximum(maps.max(axis=(2, 3), keepdims=True), 1e-12)
    known = ~np.isnan(truth)
    right = (probs >= np.asarray(thresholds)) == (np.nan_to_num(truth) > 0.5)
    size = images.shape[1]
    correct, wrong = (np.full((len(names), size, size), np.nan, np.float32) for _ in range(2))
    counts = np.zeros((len(names), 2), int)
    for k in range(len(names)):
        for j, (out, rows) in enumerate(((correct, known[:, k] & right[:, k]), (wrong, known[:, k] & ~right[:, k]))):
            counts[k, j] = rows.sum()
            if rows.any():
                out[k] = maps[rows, k].mean(axis=0)
    return {"mean_face": images.mean(axis=0), "correct": correct, "wrong": wrong, "counts": counts,
            "names": list(names), "faces": len(images)}  # fmt: skip


def to_image(cam: np.ndarray, input_to_image: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """A map on the network's input warped onto the photo (H x W float32), zero outside the input."""
    inverse = np.linalg.inv(input_to_image)  # PIL asks, for each photo pixel, where it lies on the input
    warped = Image.fromarray(np.ascontiguousarray(cam, np.float32), mode="F").transform(
        (shape[1], shape[0]), Image.AFFINE, data=tuple(inverse[:2].ravel()), resample=Image.BILINEAR, fillcolor=0.0
    )
    return np.maximum(np.asarray(warped, np.float32), 0)


def _square_to_crop(size: int, crop: tuple[int, int] = CELEBA_CROP) -> np.ndarray:
    """``resize_square``'s warp backwards: the S x S input's coordinates to the crop's."""
    w, h = crop
    side = min(w, h)
    scale = side / size
    return np.array([[scale, 0, (w - side) // 2], [0, scale, (h - side) // 2], [0, 0, 1]], float)


@dataclass(kw_only=True)
class FaceMaps:
    """One face: its box (None for an aligned crop), the network's own probabilities, and a map per
    attribute on the network's input, warped onto the photo on demand (one at a time: a full-size
    float map of a large photo is tens of megabytes)."""

    box: tuple[int, int, int, int] | None
    probabilities: dict[str, float]
    positive: list[str]
    input_maps: dict[str, np.ndarray] = field(repr=False)
    to_photo: np.ndarray = field(repr=False)  # 3 x 3: the input's coordinates to the photo's
    shape: tuple[int, int]  # the photo's height and width

    def on_photo(self, attribute: str, *, scale: float = 1.0) -> np.ndarray:
        """The attribute's map on the photo (H x W float32, zero outside the face), or on the photo
        resized by ``scale``."""
        resize = np.diag([scale, scale, 1.0])
        height, width = (max(1, round(v * scale)) for v in self.shape)
        return to_image(self.input_maps[attribute], resize @ self.to_photo, (height, width))


class Explainer:
    """Saliency maps for a run's attributes (the shipped model by default), on photos or aligned crops."""

    def __init__(self, run: str | Path | None = None, *, layer: str | int = "auto", predictor=None):
        self.predictor = predictor or AttributePredictor(run, runtime="torch", use_fusion=False)
        self.model, self.info = self.predictor.model, self.predictor.info
        self.labels = self.predictor.labels
        self.layer = pick_layer(self.model, self.info.input_size, layer)  # once: picking runs the network

    def check(self, attributes: Sequence[str]) -> list[str]:
        """The attributes asked for, refused by name when the model does not predict one."""
        from rostro.validation import suggest

        for a in attributes:
            if a not in self.labels:
                raise ValueError(f"the model does not predict {a!r}.{suggest(a, self.labels)} It predicts: "
                                 f"{', '.join(self.labels)}")  # fmt: skip
        return list(attributes) or list(self.labels)

    def inputs(self, img: np.ndarray, *, aligned: bool = False) -> tuple[tuple | None, np.ndarray, np.ndarray] | None:
        """(box, the network's input, input-to-photo matrix) of the largest face; None when there is none."""
        size = self.info.input_size
        if aligned and self.info.input == "chip":
            img = np.ascontiguousarray(img)
            shape = aligned_shape(img)
            return None, face_chips(img, [shape])[0], chip_to_image(shape)
        if aligned:
            return None, resize_square(img, size), _square_to_crop(size, (img.shape[1], img.shape[0]))
        faces = find_faces(img, detector=self.predictor.detector, landmarks68=self.predictor.needs_landmarks68)
        if not faces:
            return None
        face = faces[0]
        if self.info.input == "chip":
            return face.box, face_chips(img, [face.shape])[0], chip_to_image(face.shape)
        points = self.predictor.crop_landmarks(face)
        return face.box, resize_square(align_face(img, points), size), crop_to_image(points) @ _square_to_crop(size)

    def explain(self, images: Sequence[np.ndarray], attributes: Sequence[str], *, aligned: bool = False) -> list:
        """One :class:`FaceMaps` per image (None where no face is found).

        Probabilities are the network's own (calibrated where the run is), not a fusion with the
        embedding head: the maps explain the network's logits.
        """
        names = self.check(attributes)
        found = [self.inputs(img, aligned=aligned) for img in images]
        kept = [i for i, f in enumerate(found) if f is not None]
        if not kept:
            return [None] * len(images)
        batch = np.stack([found[i][1] for i in kept])
        outputs = [self.labels.index(a) for a in names]
        cams = gradcam(self.model, batch, outputs, mean=self.info.mean, std=self.info.std, layer=self.layer)
        logits = predict_logits(self.model, batch, mean=self.info.mean, std=self.info.std)
        probs = split_outputs(self.info, logits, self.predictor.calibration)[0]
        out: list[FaceMaps | None] = [None] * len(images)
        for j, i in enumerate(kept):
            box, _, matrix = found[i]
            p = {n: float(x) for n, x in zip(self.labels, probs[j], strict=True)}
            positive = [n for n, t in zip(self.labels, self.info.thresholds, strict=True) if p[n] >= t]
            out[i] = FaceMaps(box=box, probabilities=p, positive=positive, to_photo=matrix, shape=images[i].shape[:2],
                              input_maps={a: cams[j, k] for k, a in enumerate(names)})  # fmt: skip
        return out


def overlay(img: np.ndarray, saliency: np.ndarray, *, alpha: float = 0.5) -> Image.Image:
    """The photo with the map drawn over it in a heat colour scale (the map scaled to its own maximum)."""
    from matplotlib import colormaps

    peak = float(saliency.max())
    norm = saliency / peak if peak > 0 else saliency
    heat = (colormaps["jet"](norm)[..., :3] * 255).astype(np.float32)
    weight = (alpha * np.clip(norm * 2, 0, 1))[..., None]  # cool, weak areas leave the photo visible
    blended = img.astype(np.float32) * (1 - weight) + heat * weight
    return Image.fromarray(np.clip(blended, 0, 255).astype(np.uint8))
