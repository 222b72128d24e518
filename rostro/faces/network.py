"""dlib's face network run on batches of 150-px chips: onnxruntime by default, PyTorch, or dlib itself.

dlib runs its network on one thread at about 8 faces/s; the same weights read into PyTorch
(``dlib_resnet``) and exported to ONNX run batched on every core, with descriptors equal to
dlib's within 1e-5. ``backend='dlib'`` keeps dlib's own path for checking that claim.
"""

from __future__ import annotations

import os
import tempfile
import threading
from functools import cache
from pathlib import Path

import numpy as np

from rostro.errors import RostroError
from rostro.faces.dlib_resnet import CHIP_SIZE, EMBEDDING_DIM
from rostro.faces.models import dlib_models, model_file
from rostro.files import user_cache_dir
from rostro.workers import thread_budget

BACKENDS = ("onnx", "torch", "dlib")
CHIP_PADDING = 0.25  # dlib's default for compute_face_descriptor, which the network was trained with


def face_chips(img: np.ndarray, shapes: list) -> np.ndarray:
    """The 150-px chips dlib's network expects, cut from ``img`` with dlib's 5-point ``shapes``
    (N x 150 x 150 x 3 uint8)."""
    if not shapes:
        return np.zeros((0, CHIP_SIZE, CHIP_SIZE, 3), np.uint8)
    dlib = dlib_models()["dlib"]
    batch = dlib.full_object_detections()
    for shape in shapes:
        batch.append(shape)
    chips = dlib.get_face_chips(np.ascontiguousarray(img), batch, size=CHIP_SIZE, padding=CHIP_PADDING)
    return np.stack([np.asarray(c, np.uint8) for c in chips])


def chip_to_image(shape: object) -> np.ndarray:
    """The 3 x 3 matrix taking a chip's pixel coordinates to the photo's, for dlib's 5-point ``shape``.

    In PIL's convention (pixel centres at +0.5), so warping the photo with it reproduces dlib's chip
    exactly, and its inverse carries anything drawn on the chip (a saliency map) back to the photo.
    """
    details = dlib_models()["dlib"].get_face_chip_details(shape, size=CHIP_SIZE, padding=CHIP_PADDING)
    r, angle = details.rect, details.angle
    centre = np.array([(r.left() + r.right()) / 2, (r.top() + r.bottom()) / 2])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    corners = np.array([[r.left(), r.top()], [r.right(), r.top()], [r.left(), r.bottom()]])
    to = (corners - centre) @ rot.T + centre  # where dlib puts the chip's corners in the photo
    last = CHIP_SIZE - 1
    chip = np.array([[0, 0, 1], [last, 0, 1], [0, last, 1]], float)
    m = np.vstack([np.linalg.solve(chip, to).T, [0, 0, 1]])  # dlib's convention: pixel centres on integers
    half = np.array([[1, 0, 0.5], [0, 1, 0.5], [0, 0, 1]])
    return half @ m @ np.linalg.inv(half)


def _onnx_file(path: Path) -> Path:
    """The network's ONNX export, made once per weights file in the user's cache folder (a private
    temporary file where that cannot be written)."""
    from rostro.faces.dlib_resnet import load_face_network, weights_digest
    from rostro.models.export import export_onnx

    file = user_cache_dir("dlib", f"{weights_digest(path.resolve())}.onnx")
    if file.is_file():
        return file
    try:
        file.parent.mkdir(parents=True, exist_ok=True)
        return export_onnx(load_face_network(path), file, input_size=CHIP_SIZE)
    except OSError:
        fd, name = tempfile.mkstemp(suffix=".onnx")
        os.close(fd)
        return export_onnx(load_face_network(path), Path(name), input_size=CHIP_SIZE)


class FaceNetwork:
    """128-d descriptors for N x 150 x 150 x 3 uint8 chips, in batches; safe to share between threads."""

    def __init__(self, backend: str = "onnx", *, threads: int | None = None, path: str | Path | None = None):
        if backend not in BACKENDS:
            raise ValueError(f"face network backend must be one of {BACKENDS}, got {backend!r}")
        self.backend = backend
        self.path = Path(path) if path is not None else model_file("resnet")
        self.threads = threads or thread_budget()
        self._lock = threading.Lock()  # dlib's network and a torch module are not safe to call concurrently
        if backend == "onnx":
            import onnxruntime as ort

            opts = ort.SessionOptions()
            opts.intra_op_num_threads = self.threads
            opts.inter_op_num_threads = 1
            self._session = ort.InferenceSession(str(_onnx_file(self.path)), opts, providers=["CPUExecutionProvider"])
            self._input = self._session.get_inputs()[0].name
        elif backend == "torch":
            from rostro.faces.dlib_resnet import load_face_network

            self._module = load_face_network(self.path)
        else:
            self._dlib = dlib_models()["dlib"].face_recognition_model_v1(str(self.path))

    def __call__(self, chips: np.ndarray, *, batch_size: int = 32) -> np.ndarray:
        """Descriptors of ``chips``, exactly as dlib's ``compute_face_descriptor`` gives them (not normalised)."""
        chips = np.asarray(chips)
        if chips.ndim != 4 or chips.shape[1:] != (CHIP_SIZE, CHIP_SIZE, 3) or chips.dtype != np.uint8:
            raise ValueError(f"expected N x {CHIP_SIZE} x {CHIP_SIZE} x 3 uint8 chips, got {chips.shape} {chips.dtype}")
        out = np.zeros((len(chips), EMBEDDING_DIM), np.float32)
        for start in range(0, len(chips), batch_size):
            out[start : start + batch_size] = self._run(chips[start : start + batch_size])
        return out

    def _run(self, chips: np.ndarray) -> np.ndarray:
        if self.backend == "dlib":
            with self._lock:
                vecs = self._dlib.compute_face_descriptor([np.ascontiguousarray(c) for c in chips])
            return np.array(vecs, np.float32)
        x = np.ascontiguousarray(chips.transpose(0, 3, 1, 2), dtype=np.float32)
        if self.backend == "onnx":
            return self._session.run(None, {self._input: x})[0]
        import torch

        with self._lock, torch.inference_mode():
            return self._module(torch.from_numpy(x)).numpy()

    def describe(self, chips: np.ndarray, *, jitter: int = 0, flip: bool = False) -> np.ndarray:
        """Descriptors with dlib's test-time options: ``jitter`` > 1 averages that many randomly
        jittered copies of each chip (dlib's crops, see :func:`jitter_chips`); ``flip`` gives the
        unit-length mean of each chip's unit vector and its mirror image's (measured on LFW:
        98.97% -> 99.18%)."""
        if len(chips) == 0:
            return np.zeros((0, EMBEDDING_DIM), np.float32)
        views = [chips, chips[:, :, ::-1]] if flip else [chips]
        vecs = [self._jittered(v, jitter) if jitter > 1 else self(v) for v in views]
        if not flip:
            return vecs[0]
        a, b = (v / np.linalg.norm(v, axis=1, keepdims=True) for v in vecs)
        both = a + b
        return (both / np.linalg.norm(both, axis=1, keepdims=True)).astype(np.float32)

    def _jittered(self, chips: np.ndarray, jitter: int) -> np.ndarray:
        """Each chip's mean over ``jitter`` copies, every chip jittered from a fresh generator: the
        vector dlib's ``compute_face_descriptor(chip, jitter)`` gives on a freshly loaded model,
        whatever came before it (dlib's own generator runs on from call to call, so its vectors
        depend on the order images are seen in; these do not, which keeps resumed and sharded
        runs identical). dlib's own path keeps dlib's behaviour."""
        if self.backend == "dlib":
            with self._lock:
                return np.array([self._dlib.compute_face_descriptor(np.ascontiguousarray(c), jitter) for c in chips],
                                np.float32)  # fmt: skip
        from rostro.faces.dlib_resnet import DlibRand, jitter_chips

        return np.stack([self(jitter_chips(np.ascontiguousarray(c), jitter, DlibRand())).mean(axis=0) for c in chips])


@cache
def face_network(backend: str = "onnx") -> FaceNetwork:
    """The process's face network for ``backend``, loaded once."""
    try:
        return FaceNetwork(backend)
    except ImportError as exc:
        raise RostroError(f"the {backend} face network needs {exc.name}: pip install {exc.name}") from None
