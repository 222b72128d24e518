"""Aligning a face to CelebA's aligned crop with a similarity transform of its landmarks.

CelebA's ``img_align_celeba`` crops (178 x 218) put, on average, the eye centres at
(69, 111) and (108, 111) and the mouth corners at (72, 152) and (105, 152). Mapping a
detected face's eyes and mouth corners onto these points reproduces the crop the attribute
models are trained on.
"""

from __future__ import annotations

import numpy as np
from PIL import Image

CELEBA_CROP = (178, 218)
CELEBA_TEMPLATE = np.array([[69.0, 111.0], [108.0, 111.0], [72.0, 152.0], [105.0, 152.0]])


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


def crop_to_image(landmarks68: np.ndarray, *, size: tuple[int, int] = CELEBA_CROP) -> np.ndarray:
    """The 3 x 3 matrix taking the aligned crop's coordinates to the photo's (PIL's convention)."""
    scale = size[0] / CELEBA_CROP[0]
    m = similarity_transform(template_points(landmarks68), CELEBA_TEMPLATE * scale)
    return np.linalg.inv(np.vstack([m, [0, 0, 1]]))


def align_face(img: np.ndarray, landmarks68: np.ndarray, *, size: tuple[int, int] = CELEBA_CROP) -> np.ndarray:
    """Warp ``img`` so the face lands on CelebA's template; returns a ``size`` (w, h) crop."""
    inv = crop_to_image(landmarks68, size=size)[:2]
    warped = Image.fromarray(img).transform(
        size, Image.AFFINE, data=tuple(inv.ravel()), resample=Image.BILINEAR, fillcolor=(0, 0, 0)
    )
    return np.asarray(warped, dtype=np.uint8)
