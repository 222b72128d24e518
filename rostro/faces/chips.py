"""The face network's 150-px chip of one image file, for the decoded-image cache.

A model that reads chips (``run.json`` input ``chip``) trains and predicts on the same cut:
dlib's 5 landmarks and ``get_face_chip`` with dlib's padding. How the face is found depends on
what the file holds, so each data source names its mode.
"""

from __future__ import annotations

from functools import partial

import numpy as np

from rostro.data.images import load_image
from rostro.errors import ImageDecodeError
from rostro.faces.embedding import aligned_chips, centre_chip, find_faces
from rostro.faces.network import CHIP_SIZE, face_chips
from rostro.faces.status import NO_FACE

CHIP_MODES = ("aligned", "photo", "centre")
MODE_HELP = (
    "aligned: a CelebA-aligned crop (no detection); photo: the largest face found; centre: the face nearest "
    "the centre, or the central box when none is found (pre-cropped faces such as UTKFace's)"
)


def check_chip_mode(mode: str, name: str = "chip mode") -> None:
    if mode not in CHIP_MODES:
        raise ValueError(f"{name} must be one of {CHIP_MODES} ({MODE_HELP}); got {mode!r}")


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


def image_chip(img: np.ndarray, mode: str) -> np.ndarray | None:
    """The chip of the face an image is about, or None when ``mode='photo'`` finds no face."""
    check_chip_mode(mode)
    return find_chip(img, aligned=mode == "aligned", pick="largest" if mode == "photo" else "centre",
                     centre=mode == "centre")[1]  # fmt: skip


def chip_file(path: str, size: int, *, mode: str) -> np.ndarray:
    """``image_chip`` of a file, for ``build_cache``; a photo without a face is a row left out."""
    if size != CHIP_SIZE:
        raise ValueError(f"chips are {CHIP_SIZE} px, got size {size}")
    chip = image_chip(load_image(path), mode)
    if chip is None:
        raise ImageDecodeError(path, NO_FACE)
    return chip


def chip_cache_options(mode: str) -> dict:
    """``build_cache``'s options for chips cut as ``mode`` says: the picklable decoder and its tag."""
    check_chip_mode(mode)
    return {"decode": partial(chip_file, mode=mode), "tag": f"chip-{mode}"}
