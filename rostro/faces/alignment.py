"""Aligning a face to CelebA's aligned crop with a similarity transform of its landmarks.

CelebA's ``img_align_celeba`` crops (178 x 218) put, on average, the eye centres at
(69, 111) and (108, 111) and the mouth corners at (72, 152) and (105, 152). Mapping a
detected face's eyes and mouth corners onto these points reproduces the crop the attribute
models are trained on. A run may instead cut the crop from dlib's 5 landmarks (``crop_points``
5), which skips the 68-point fit (1.8 ms a face), onto where the 68-point alignment puts them.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

CELEBA_CROP = (178, 218)
CELEBA_TEMPLATE = np.array([[69.0, 111.0], [108.0, 111.0], [72.0, 152.0], [105.0, 152.0]])
# dlib's 5 landmarks (eye corners image-right then image-left, outer first; the nose's base) where the
# 68-point alignment above puts them: their mean over 1,499 celeba-wild training photos (spread 2-5 px)
CELEBA_TEMPLATE5 = np.array([[114.85, 111.16], [99.59, 112.10], [62.12, 111.46], [77.29, 112.23], [88.27, 141.13]])
CROP_POINTS = (68, 5)


def check_crop_points(points: int) -> None:
    if points not in CROP_POINTS:
        raise ValueError(f"crop_points must be one of {CROP_POINTS} (dlib's landmark set CelebA's crop is cut "
                         f"from), got {points!r}")  # fmt: skip


def shape_points(shape: object) -> np.ndarray:
    """A dlib ``full_object_detection`` as an N x 2 array of (x, y)."""
    return np.array([[p.x, p.y] for p in shape.parts()], dtype=np.float64)


def crop_landmarks(face: object, points: int) -> np.ndarray:
    """The landmarks a face's CelebA crop is cut from: its 68 points, or dlib's 5 (``face.shape``)."""
    check_crop_points(points)
    return face.landmarks if points == 68 else shape_points(face.shape)


def template_points(landmarks68: np.ndarray) -> np.ndarray:
    """Eye centres and mouth corners (image-left first) from dlib's 68 points."""
    eye_a = landmarks68[36:42].mean(axis=0)
    eye_b = landmarks68[42:48].mean(axis=0)
    return np.array([eye_a, eye_b, landmarks68[48], landmarks68[54]])


def similarity_transform(src: np.ndarray, dst: np.ndarray) -> np.ndarray:
    """The 2 x 3 rotation + uniform scale + translation that best maps ``src`` onto ``dst``
    (Umeyama's least-squares solution)."""
    src, dst = np.asarray(src, float), np.asarray(dst, float)
    mu_s, mu_d = src.mean(0), dst.mean(0)
    s, d = src - mu_s, dst - mu_d
    cov = d.T @ s / len(src)
    u, sig, vt = np.linalg.svd(cov)
    sign = np.eye(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        sign[1, 1] = -1
    rot = u @ sign @ vt
    scale = np.trace(np.diag(sig) @ sign) / s.var(0).sum()
    m = np.zeros((2, 3))
    m[:, :2] = scale * rot
    m[:, 2] = mu_d - scale * rot @ mu_s
    return m


def crop_to_image(landmarks: np.ndarray, *, size: tuple[int, int] = CELEBA_CROP) -> np.ndarray:
    """The 3 x 3 matrix taking the aligned crop's coordinates to the photo's (PIL's convention), from
    dlib's 68 landmarks or its 5."""
    scale = size[0] / CELEBA_CROP[0]
    if len(landmarks) == 5:
        m = similarity_transform(landmarks, CELEBA_TEMPLATE5 * scale)
    else:
        m = similarity_transform(template_points(landmarks), CELEBA_TEMPLATE * scale)
    return np.linalg.inv(np.vstack([m, [0, 0, 1]]))


def align_face(img: np.ndarray, landmarks: np.ndarray, *, size: tuple[int, int] = CELEBA_CROP) -> np.ndarray:
    """Warp ``img`` so the face lands on CelebA's template (from 68 landmarks or dlib's 5); returns a
    ``size`` (w, h) crop."""
    inv = crop_to_image(landmarks, size=size)[:2]
    warped = Image.fromarray(img).transform(
        size, Image.AFFINE, data=tuple(inv.ravel()), resample=Image.BILINEAR, fillcolor=(0, 0, 0)
    )
    return np.asarray(warped, dtype=np.uint8)
