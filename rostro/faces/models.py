"""Locating the offline dlib model files shipped by ``face-recognition-models``.

The package's ``__init__`` imports ``pkg_resources``, which new setuptools no longer has,
so its folder is found with importlib without importing it.
"""

from __future__ import annotations

import importlib.util
from functools import cache
from pathlib import Path

from rostro.errors import RostroError

FILES = {
    "shape5": "shape_predictor_5_face_landmarks.dat",
    "shape68": "shape_predictor_68_face_landmarks.dat",
    "cnn_detector": "mmod_human_face_detector.dat",
    "resnet": "dlib_face_recognition_resnet_model_v1.dat",
}


def model_file(name: str) -> Path:
    """Path of one of dlib's model files (``shape5``, ``shape68``, ``cnn_detector``, ``resnet``)."""
    spec = importlib.util.find_spec("face_recognition_models")
    if spec is None or not spec.submodule_search_locations:
        raise RostroError("face detection needs the offline dlib models: pip install dlib-bin face-recognition-models")
    path = Path(spec.submodule_search_locations[0]) / "models" / FILES[name]
    if not path.is_file():
        raise RostroError(f"dlib model file missing: {path}")
    return path


@cache
def dlib_models() -> dict:
    """Load dlib's detectors and predictors once per process."""
    try:
        import dlib
    except ImportError:
        raise RostroError("face detection needs dlib: pip install dlib-bin face-recognition-models") from None
    return {
        "dlib": dlib,
        "hog": dlib.get_frontal_face_detector(),
        "shape68": dlib.shape_predictor(str(model_file("shape68"))),
        "shape5": dlib.shape_predictor(str(model_file("shape5"))),
    }


@cache
def cnn_detector():
    import dlib

    return dlib.cnn_face_detection_model_v1(str(model_file("cnn_detector")))
