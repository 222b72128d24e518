"""128-d face embeddings from dlib's ResNet (``face-recognition-models``), offline.

The network expects a face chip cut with dlib's own landmarks, so it runs on detected
faces (any photo) or on CelebA-aligned crops, whose face box is known from the template.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from rostro.errors import RostroError
from rostro.evaluation.verification import similarity
from rostro.faces.detection import Face, detect_faces
from rostro.faces.models import dlib_models
from rostro.faces.network import CHIP_SIZE, EMBEDDING_DIM, face_chips, face_network

PICKS = ("largest", "centre")
# dlib-style face box on CelebA's 178 x 218 aligned crop (eyebrows to chin, cheek to cheek)
_ALIGNED_BOX = (25, 70, 153, 198)


def embed_faces(
    img: np.ndarray, faces: list[Face], *, jitter: int = 0, flip: bool = True, backend: str = "onnx"
) -> np.ndarray:
    """One 128-d vector per detected face (F x 128 float32): flip-averaged (each face's unit vector and its
    mirror image's, their mean made unit length) unless ``flip=False``, which gives dlib's own descriptor."""
    if not faces:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    return face_network(backend).describe(face_chips(img, [f.shape for f in faces]), jitter=jitter, flip=flip)


def aligned_shape(crop: np.ndarray) -> object:
    """dlib's 5 landmarks of a CelebA-aligned crop (any size with CelebA's 178 x 218 proportions),
    fitted inside the template's face box; ``crop`` must be C-contiguous."""
    models = dlib_models()
    sx, sy = crop.shape[1] / 178, crop.shape[0] / 218
    box = models["dlib"].rectangle(*(round(v * s) for v, s in zip(_ALIGNED_BOX, (sx, sy, sx, sy), strict=True)))
    return models["shape5"](crop, box)


def aligned_chips(crops: list[np.ndarray]) -> np.ndarray:
    """The face network's chips of CelebA-aligned crops."""
    chips = np.zeros((len(crops), CHIP_SIZE, CHIP_SIZE, 3), np.uint8)
    for i, crop in enumerate(crops):
        crop = np.ascontiguousarray(crop)
        chips[i] = face_chips(crop, [aligned_shape(crop)])[0]
    return chips


def embed_aligned(crops: list[np.ndarray], *, jitter: int = 0, flip: bool = True, backend: str = "onnx") -> np.ndarray:
    """Embeddings of CelebA-aligned crops, in one batch (flip-averaged unless ``flip=False``)."""
    return face_network(backend).describe(aligned_chips(crops), jitter=jitter, flip=flip)


def nearest_centre(faces: list[Face], shape: tuple[int, ...]) -> list[Face]:
    """The faces ordered by the distance of their box centre from the image centre.

    For pre-cropped sets (LFW, UTKFace) the labelled face is the central one, which is not
    always the largest (LFW: 37 of 7,701 images).
    """
    h, w = shape[:2]

    def dist(f: Face) -> float:
        left, top, right, bottom = f.box
        return ((left + right) / 2 - w / 2) ** 2 + ((top + bottom) / 2 - h / 2) ** 2

    return sorted(faces, key=dist)


def find_faces(
    img: np.ndarray, *, detector: str = "auto", pick: str = "largest", landmarks68: bool = True
) -> list[Face]:
    """Every face in a photo, largest first, or nearest the centre first with ``pick='centre'``."""
    if pick not in PICKS:
        raise ValueError(f"pick must be one of {PICKS}, got {pick!r}")
    faces = detect_faces(img, detector=detector, landmarks68=landmarks68)
    return nearest_centre(faces, img.shape) if pick == "centre" else faces


def embed_image(
    img: np.ndarray,
    *,
    detector: str = "auto",
    jitter: int = 0,
    flip: bool = True,
    pick: str = "largest",
    backend: str = "onnx",
) -> tuple[list[Face], np.ndarray]:
    """Detect every face in a photo (ordered as ``find_faces`` says) and embed each; ([], 0 x 128)
    when there is none. Vectors are flip-averaged (see :func:`embed_faces`) unless ``flip=False``."""
    faces = find_faces(img, detector=detector, pick=pick)
    return faces, embed_faces(img, faces, jitter=jitter, flip=flip, backend=backend)


def centre_chip(img: np.ndarray, *, fraction: float = 0.5) -> np.ndarray:
    """The chip of a face assumed at the image centre (a box ``fraction`` of the shorter side).

    For datasets of pre-cropped faces (LFW, UTKFace) where the detector misses one: the face
    is still scored, from landmarks fitted inside the central box, instead of being dropped.
    """
    models = dlib_models()
    h, w = img.shape[:2]
    side = fraction * min(h, w)
    box = models["dlib"].rectangle(round((w - side) / 2), round((h - side) / 2), round((w + side) / 2),
                                   round((h + side) / 2))  # fmt: skip
    img = np.ascontiguousarray(img)
    return face_chips(img, [models["shape5"](img, box)])[0]


def embed_centre(
    img: np.ndarray, *, fraction: float = 0.5, jitter: int = 0, flip: bool = True, backend: str = "onnx"
) -> np.ndarray:
    """Embedding of the face assumed at the image centre (see :func:`centre_chip`; flip-averaged unless
    ``flip=False``)."""
    return face_network(backend).describe(centre_chip(img, fraction=fraction)[None], jitter=jitter, flip=flip)[0]


# Cosine similarity at which the flip-averaged embeddings of two photos (the default) are called the same
# person: the threshold at FAR 1e-3 measured by `rostro embed` (flip on) and `rostro verify-eval` on the 2,574
# CelebA in-the-wild photos of ../shared/data (2,573 with a face; 13,474 genuine, 200,000 impostor pairs):
# 0.9326, FRR there 18.3%; EER 4.51% at 0.898 (at 0.933: FAR 0.94e-3, FRR 18.7%).
DEFAULT_THRESHOLD = 0.933
# The same for dlib's plain vectors (``flip=False``, the default before flip-averaging): 0.9285 when it was
# set (FRR 19.0%, EER 4.6% at 0.894); measured again beside the flip-averaged figures above: 0.9292, FRR 20.5%,
# EER 4.78% at 0.894. Kept, so galleries and scripts made with plain vectors decide as they did.
UNFLIPPED_THRESHOLD = 0.928


def default_threshold(flip: bool = True) -> float:
    """The verification threshold measured for vectors made with (the default) or without ``flip``."""
    return DEFAULT_THRESHOLD if flip else UNFLIPPED_THRESHOLD


@dataclass(frozen=True, kw_only=True)
class Verdict:
    """Whether two photos show one person: the cosine similarity of their largest faces against
    ``threshold``; ``score`` and ``same`` are None, and ``message`` names the photo, when one has no face."""

    score: float | None
    threshold: float
    same: bool | None
    faces_a: list[Face]
    faces_b: list[Face]
    message: str


def verify_faces(
    a: tuple[list[Face], np.ndarray],
    b: tuple[list[Face], np.ndarray],
    *,
    threshold: float | None = None,
    names: tuple[str, str] = ("a", "b"),
    flip: bool = True,
) -> Verdict:
    """The same-person decision from each photo's faces and embeddings (as ``embed_image`` returns
    them): one rule for ``rostro verify`` and the service's /verify. ``names`` name the photos in
    the message; ``threshold`` defaults to the one measured for vectors made as ``flip`` says
    (:func:`default_threshold`: :data:`DEFAULT_THRESHOLD` for flip-averaged ones)."""
    (faces_a, vecs_a), (faces_b, vecs_b) = a, b
    threshold = default_threshold(flip) if threshold is None else threshold
    missing = [name for name, faces in zip(names, (faces_a, faces_b), strict=True) if not faces]
    if missing:
        return Verdict(score=None, threshold=threshold, same=None, faces_a=faces_a, faces_b=faces_b,
                       message=f"no face found in {' and '.join(missing)}")  # fmt: skip
    score = float(similarity(vecs_a[:1], vecs_b[:1], "cosine")[0])
    return Verdict(score=score, threshold=threshold, same=score >= threshold, faces_a=faces_a, faces_b=faces_b,
                   message="")  # fmt: skip


def compare_photos(img_a: np.ndarray, img_b: np.ndarray, *, threshold: float | None = None, flip: bool = True) -> dict:
    """Cosine similarity of the largest face in each photo (flip-averaged vectors unless ``flip=False``), and
    the same/different decision at ``threshold`` (default: the one measured for such vectors);
    :class:`RostroError` when a photo has no face."""
    verdict = verify_faces(embed_image(img_a, flip=flip), embed_image(img_b, flip=flip), threshold=threshold,
                           names=("the first photo", "the second photo"), flip=flip)  # fmt: skip
    if verdict.score is None:
        raise RostroError(verdict.message)
    return {"score": verdict.score, "threshold": verdict.threshold, "same": verdict.same}
