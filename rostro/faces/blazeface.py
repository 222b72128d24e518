"""MediaPipe's BlazeFace full-range detector, run with LiteRT (``ai-edge-litert``).

dlib's HOG misses small, dark, tilted and profile faces that BlazeFace finds in a few
milliseconds, so ``detect_faces`` asks it before dlib's slow CNN detector. The model file is
vendored in ``rostro/faces/data`` (Apache-2.0, see NOTICE.md there); anchor decoding and
non-maximum suppression follow MediaPipe's ``TfLiteTensorsToDetectionsCalculator``.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import numpy as np
from PIL import Image

from rostro.errors import RostroError
from rostro.workers import thread_budget

MODEL = Path(__file__).parent / "data" / "face_detection_full_range.tflite"
SIZE = 192
GRID = 48  # one anchor per cell of a 48 x 48 grid (stride 4)
MIN_SCORE = 0.5
IOU = 0.3
KEYPOINTS = ("right_eye", "left_eye", "nose_tip", "mouth", "right_ear", "left_ear")  # the subject's right and left


@dataclass
class Detection:
    """A face in image pixels: box (left, top, right, bottom), score in [0, 1], 6 keypoints (x, y)."""

    box: tuple[float, float, float, float]
    score: float
    keypoints: np.ndarray


@contextmanager
def _quiet_stderr() -> Iterator[None]:
    try:
        saved = os.dup(2)
    except OSError:  # no file descriptor 2 (some embedded interpreters): nothing to silence
        yield
        return
    try:
        with open(os.devnull, "w") as null:
            os.dup2(null.fileno(), 2)
            yield
    finally:
        os.dup2(saved, 2)
        os.close(saved)


def _anchors() -> np.ndarray:
    centres = (np.arange(GRID, dtype=np.float32) + 0.5) / GRID
    x, y = np.meshgrid(centres, centres)
    return np.stack([x.ravel(), y.ravel()], axis=1)


class BlazeFace:
    """One interpreter per instance; ``__call__`` is serialised, LiteRT interpreters are not thread-safe."""

    def __init__(self, threads: int | None = None):
        try:
            from ai_edge_litert.interpreter import Interpreter
        except ImportError:
            raise RostroError("BlazeFace detection needs ai-edge-litert: pip install ai-edge-litert") from None
        with _quiet_stderr():  # LiteRT prints an INFO line about its CPU delegate on every load
            self._interpreter = Interpreter(model_path=str(MODEL), num_threads=threads or thread_budget())
            self._interpreter.allocate_tensors()
        self._input = self._interpreter.get_input_details()[0]["index"]
        outputs = {o["name"]: o["index"] for o in self._interpreter.get_output_details()}
        self._boxes = next(i for n, i in outputs.items() if "regressor" in n)
        self._scores = next(i for n, i in outputs.items() if "classifier" in n)
        self._anchors = _anchors()
        self._lock = threading.Lock()

    def __call__(self, img: np.ndarray, min_score: float = MIN_SCORE) -> list[Detection]:
        """Faces in an HxWx3 uint8 RGB image, best first."""
        h, w = img.shape[:2]
        side = max(h, w)
        pad_x, pad_y = (side - w) / 2, (side - h) / 2
        square = Image.new("RGB", (side, side))
        square.paste(Image.fromarray(img), (int(pad_x), int(pad_y)))
        x = np.asarray(square.resize((SIZE, SIZE), Image.BILINEAR), np.float32) / 127.5 - 1.0
        with self._lock:
            self._interpreter.set_tensor(self._input, x[None])
            self._interpreter.invoke()
            raw = self._interpreter.get_tensor(self._boxes)[0].reshape(-1, 8, 2) / SIZE
            logits = self._interpreter.get_tensor(self._scores)[0, :, 0]
        scores = 1 / (1 + np.exp(-np.clip(logits, -80, 80)))
        keep = np.flatnonzero(scores >= min_score)
        if keep.size == 0:
            return []
        raw, scores = raw[keep], scores[keep]
        anchors = self._anchors[keep][:, None, :]
        centre = raw[:, 0:1] + anchors
        half = raw[:, 1:2] / 2
        points = raw[:, 2:] + anchors
        boxes = np.concatenate([centre - half, centre + half], axis=1).reshape(-1, 4)  # x0 y0 x1 y1
        # back from the padded square (in 0..1) to image pixels
        shift = np.array([int(pad_x), int(pad_y)], np.float32)
        boxes = boxes * side - np.tile(shift, 2)
        points = points * side - shift
        out = []
        for i in _nms(boxes, scores):
            out.append(Detection(tuple(float(v) for v in boxes[i]), float(scores[i]), points[i].astype(np.float64)))
        return out


def _nms(boxes: np.ndarray, scores: np.ndarray) -> list[int]:
    order = list(np.argsort(-scores))
    kept: list[int] = []
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    while order:
        i = order.pop(0)
        kept.append(int(i))
        rest = np.array(order, dtype=int)
        if rest.size == 0:
            break
        ix0 = np.maximum(boxes[i, 0], boxes[rest, 0])
        iy0 = np.maximum(boxes[i, 1], boxes[rest, 1])
        ix1 = np.minimum(boxes[i, 2], boxes[rest, 2])
        iy1 = np.minimum(boxes[i, 3], boxes[rest, 3])
        inter = np.clip(ix1 - ix0, 0, None) * np.clip(iy1 - iy0, 0, None)
        iou = inter / (area[i] + area[rest] - inter + 1e-9)
        order = [int(j) for j, o in zip(rest, iou, strict=True) if o <= IOU]
    return kept


@cache
def blazeface() -> BlazeFace:
    """The process's detector, loaded once."""
    return BlazeFace()
