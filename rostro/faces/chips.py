"""A model's input cut from one image file, for the decoded-image cache.

A model that reads chips (``run.json`` input ``chip``) trains and predicts on the same cut:
dlib's 5 landmarks and ``get_face_chip`` with dlib's padding. A model that reads CelebA's crop
(input ``crop``) gets the face warped onto CelebA's aligned layout from dlib's 68 landmarks (or its 5,
with the run's ``crop_points``), as prediction on photos cuts it. How the face is found depends on
what the file holds, so each data source names its mode.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

import numpy as np

from rostro.data.images import load_image
from rostro.data.transforms import resize_square
from rostro.errors import ImageDecodeError
from rostro.faces.alignment import align_face, check_crop_points, crop_landmarks, shape_points
from rostro.faces.embedding import aligned_chips, centre_chip, find_faces
from rostro.faces.models import dlib_models
from rostro.faces.network import CHIP_SIZE, face_chips
from rostro.faces.status import NO_FACE

CHIP_MODES = ("aligned", "photo", "centre", "box")
MODE_HELP = (
    "aligned: a CelebA-aligned crop (no detection); photo: the largest face found; centre: the face nearest "
    "the centre, or the central box when none is found (pre-cropped faces such as UTKFace's); box: landmarks "
    "fitted in a fixed box, as fractions of the image (left, top, right, bottom), for a set of faces all framed "
    "alike (CelebA-HQ, detector crops), with no detection at all"
)
INPUTS = ("chip", "crop")


def check_chip_mode(mode: str, name: str = "chip mode", box: Sequence[float] | None = None) -> None:
    if mode not in CHIP_MODES:
        raise ValueError(f"{name} must be one of {CHIP_MODES} ({MODE_HELP}); got {mode!r}")
    if (mode == "box") != (box is not None):
        raise ValueError(f"{name}: a box (left, top, right, bottom fractions) goes with mode 'box' and only with it; "
                         f"got mode {mode!r} and box {box!r}")  # fmt: skip
    if box is not None and (len(box) != 4 or not 0 < box[2] - box[0] <= 2 or not 0 < box[3] - box[1] <= 2):
        raise ValueError(f"{name}: box must be 4 fractions (left, top, right, bottom) with left < right and "
                         f"top < bottom, got {box!r}")  # fmt: skip


def box_shapes(img: np.ndarray, box: Sequence[float], *, landmarks68: bool = True) -> tuple[object, np.ndarray | None]:
    """dlib's 5 and (with ``landmarks68``) 68 landmarks fitted in ``box`` (fractions of the image): the
    face every image of a uniformly framed set holds, found without a detector."""
    models = dlib_models()
    h, w = img.shape[:2]
    rect = models["dlib"].rectangle(round(box[0] * w), round(box[1] * h), round(box[2] * w), round(box[3] * h))
    img = np.ascontiguousarray(img)
    pts = shape_points(models["shape68"](img, rect)) if landmarks68 else None
    return models["shape5"](img, rect), pts


def find_chip(img: np.ndarray, *, aligned: bool, pick: str, centre: bool) -> tuple[str, np.ndarray | None]:
    """(how the face was found, its chip): 'aligned' for an aligned crop, else the detector of the
    face ``pick`` chooses, else 'centre' (with ``centre``) for the central box; ('', None) when
    there is none. Only dlib's 5 landmarks are fitted: the chip needs no more."""
    if aligned:
        return "aligned", aligned_chips([img])[0]
    faces = find_faces(img, pick=pick, landmarks68=False)
    if faces:
        return faces[0].detector, face_chips(img, [faces[0].shape])[0]
    return ("centre", centre_chip(img)) if centre else ("", None)


def image_chip(img: np.ndarray, mode: str, box: Sequence[float] | None = None) -> np.ndarray | None:
    """The chip of the face an image is about, or None when ``mode='photo'`` finds no face."""
    check_chip_mode(mode, box=box)
    if box is not None:
        return face_chips(img, [box_shapes(img, box, landmarks68=False)[0]])[0]
    return find_chip(img, aligned=mode == "aligned", pick="largest" if mode == "photo" else "centre",
                     centre=mode == "centre")[1]  # fmt: skip


def image_crop(
    img: np.ndarray, size: int, mode: str, box: Sequence[float] | None = None, points: int = 68
) -> np.ndarray | None:
    """The face an image is about in CelebA's aligned layout (cut from dlib's ``points`` landmarks),
    squared to ``size`` px as prediction squares it; None when ``mode='photo'`` finds no face."""
    check_chip_mode(mode, box=box)
    check_crop_points(points)
    if mode == "aligned":
        return resize_square(img, size)
    if box is not None:
        shape5, pts68 = box_shapes(img, box, landmarks68=points == 68)
        landmarks = pts68 if points == 68 else shape_points(shape5)
    else:
        faces = find_faces(img, pick="largest" if mode == "photo" else "centre", landmarks68=points == 68)
        if not faces:
            if mode == "photo":
                return None
            side = 0.25  # the central box, as ``centre_chip`` takes it
            return image_crop(img, size, "box", (side, side, 1 - side, 1 - side), points)
        landmarks = crop_landmarks(faces[0], points)
    return resize_square(align_face(img, landmarks), size)


def chip_file(
    path: str, size: int, *, mode: str, box: Sequence[float] | None = None, input: str = "chip", points: int = 68
) -> np.ndarray:
    """``image_chip`` (or ``image_crop``) of a file, for ``build_cache``; a photo without a face is a
    row left out."""
    img = load_image(path)
    if input == "crop":
        out = image_crop(img, size, mode, box, points)
    elif size != CHIP_SIZE:
        raise ValueError(f"chips are {CHIP_SIZE} px, got size {size}")
    else:
        out = image_chip(img, mode, box)
    if out is None:
        raise ImageDecodeError(path, NO_FACE)
    return out


def chip_cache_options(mode: str, box: Sequence[float] | None = None, input: str = "chip", points: int = 68) -> dict:
    """``build_cache``'s options for inputs cut as ``mode`` says (crops from dlib's ``points``
    landmarks): the picklable decoder and its tag."""
    check_chip_mode(mode, box=box)
    check_crop_points(points)
    if input not in INPUTS:
        raise ValueError(f"input must be one of {INPUTS}, got {input!r}")
    where = "" if box is None else "-" + ",".join(f"{v:g}" for v in box)
    cut = "5" if input == "crop" and points == 5 and mode != "aligned" else ""  # 68: the tag caches already have
    return {"decode": partial(chip_file, mode=mode, box=box, input=input, points=points),
            "tag": f"{input}{cut}-{mode}{where}"}  # fmt: skip
