"""128-d face embeddings from dlib's ResNet (``face-recognition-models``), offline.

The network expects a face chip cut with dlib's own landmarks, so it runs on detected
faces (any photo) or on CelebA-aligned crops, whose face box is known from the template.
"""

from __future__ import annotations

from functools import cache

import numpy as np

from rostro.faces.detection import Face, detect_faces
from rostro.faces.models import dlib_models, model_file

EMBEDDING_DIM = 128
PICKS = ("largest", "centre")
# dlib-style face box on CelebA's 178 x 218 aligned crop (eyebrows to chin, cheek to cheek)
_ALIGNED_BOX = (25, 70, 153, 198)


@cache
def _resnet():
    import dlib

    return dlib.face_recognition_model_v1(str(model_file("resnet")))


def _descriptors(img: np.ndarray, shapes: list, jitter: int, flip: bool) -> np.ndarray:
    """dlib vectors for the chips that ``shapes`` cut from ``img``; with ``flip``, the unit-length
    mean of each chip's vector and its mirror image's (measured on LFW: 98.97% -> 99.18%)."""
    net = _resnet()
    img = np.ascontiguousarray(img)
    if not flip:
        batch = dlib_models()["dlib"].full_object_detections()
        for shape in shapes:
            batch.append(shape)
        return np.array([list(v) for v in net.compute_face_descriptor(img, batch, jitter)], dtype=np.float32)
    dlib = dlib_models()["dlib"]
    chips = [dlib.get_face_chip(img, shape, size=150, padding=0.25) for shape in shapes]
    mirrored = [np.ascontiguousarray(c[:, ::-1]) for c in chips]
    vecs = np.array([list(v) for v in net.compute_face_descriptor(chips + mirrored, jitter)], dtype=np.float32)
    vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
    both = vecs[: len(chips)] + vecs[len(chips) :]
    return both / np.linalg.norm(both, axis=1, keepdims=True)


def embed_faces(img: np.ndarray, faces: list[Face], *, jitter: int = 0, flip: bool = False) -> np.ndarray:
    """One 128-d vector per detected face (F x 128 float32)."""
    if not faces:
        return np.zeros((0, EMBEDDING_DIM), np.float32)
    return _descriptors(img, [f.shape for f in faces], jitter, flip)


def embed_aligned(crops: list[np.ndarray], *, jitter: int = 0, flip: bool = False) -> np.ndarray:
    """Embeddings of CelebA-aligned crops (any size with CelebA's 178 x 218 proportions)."""
    models = dlib_models()
    dlib = models["dlib"]
    out = np.zeros((len(crops), EMBEDDING_DIM), np.float32)
    for i, crop in enumerate(crops):
        sx, sy = crop.shape[1] / 178, crop.shape[0] / 218
        box = dlib.rectangle(*(round(v * s) for v, s in zip(_ALIGNED_BOX, (sx, sy, sx, sy), strict=True)))
        crop = np.ascontiguousarray(crop)
        out[i] = _descriptors(crop, [models["shape5"](crop, box)], jitter, flip)[0]
    return out


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


def find_faces(img: np.ndarray, *, detector: str = "auto", pick: str = "largest") -> list[Face]:
    """Every face in a photo, largest first, or nearest the centre first with ``pick='centre'``."""
    if pick not in PICKS:
        raise ValueError(f"pick must be one of {PICKS}, got {pick!r}")
    faces = detect_faces(img, detector=detector)
    return nearest_centre(faces, img.shape) if pick == "centre" else faces


def embed_image(
    img: np.ndarray, *, detector: str = "auto", jitter: int = 0, flip: bool = False, pick: str = "largest"
) -> tuple[list[Face], np.ndarray]:
    """Detect every face in a photo (ordered as ``find_faces`` says) and embed each; ([], 0 x 128)
    when there is none."""
    faces = find_faces(img, detector=detector, pick=pick)
    return faces, embed_faces(img, faces, jitter=jitter, flip=flip)


def embed_centre(img: np.ndarray, *, fraction: float = 0.5, jitter: int = 0, flip: bool = False) -> np.ndarray:
    """Embedding of a face assumed at the image centre (a box ``fraction`` of the shorter side).

    For datasets of pre-cropped faces (LFW, UTKFace) where the detector misses one: the face
    is still scored, from landmarks fitted inside the central box, instead of being dropped.
    """
    models = dlib_models()
    h, w = img.shape[:2]
    side = fraction * min(h, w)
    box = models["dlib"].rectangle(round((w - side) / 2), round((h - side) / 2), round((w + side) / 2),
                                   round((h + side) / 2))  # fmt: skip
    img = np.ascontiguousarray(img)
    return _descriptors(img, [models["shape5"](img, box)], jitter, flip)[0]


# Cosine similarity at which dlib embeddings of two photos are called the same person: the
# threshold at FAR 1e-3 measured by `rostro verify-eval` on the 2,574 CelebA in-the-wild photos
# of ../shared/data with 5-point chips (0.9285; FRR there 19.0%, EER 4.6% at 0.894).
DEFAULT_THRESHOLD = 0.928


def compare_photos(img_a: np.ndarray, img_b: np.ndarray, *, threshold: float | None = None) -> dict:
    """Cosine similarity of the largest face in each photo, and the same/different decision."""
    from rostro.errors import RostroError

    vectors = []
    for name, img in (("first", img_a), ("second", img_b)):
        faces, vecs = embed_image(img)
        if not faces:
            raise RostroError(f"no face found in the {name} photo")
        vectors.append(vecs[0])
    a, b = vectors
    score = float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))
    threshold = DEFAULT_THRESHOLD if threshold is None else threshold
    return {"score": score, "threshold": threshold, "same": score >= threshold}
