"""Synthetic face vectors: people as tight blobs of unit vectors, and an embeddings file of them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

DIM = 128


def people_vectors(n_people: int, per_person: int, *, seed: int = 0, spread: float = 0.02) -> tuple[np.ndarray, list]:
    """(vectors, names): ``per_person`` vectors around each of ``n_people`` random directions."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((n_people, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    vecs = np.repeat(centres, per_person, axis=0) + spread * rng.standard_normal((n_people * per_person, DIM))
    return vecs.astype(np.float32), [f"person_{i:03d}" for i in range(n_people) for _ in range(per_person)]


def faces_frame(names: list, *, prefix: str = "p") -> pd.DataFrame:
    n = len(names)
    return pd.DataFrame(
        {
            "name": names,
            "path": [f"{prefix}{i}.jpg" for i in range(n)],
            "face": 0,
            "left": -1,
            "top": -1,
            "right": -1,
            "bottom": -1,
            "photo_hash": [f"{prefix}{i}" for i in range(n)],
        }
    )


def write_embeddings(path: Path, vecs: np.ndarray, names: list, **signature) -> Path:
    """An embeddings file as `rostro embed` writes it (stamp included), one face per image."""
    from rostro.inference.embed import _write, embedding_signature

    sig = {"aligned": False, "run": None, "centre_fallback": False, "pick": "largest", "flip": False, "jitter": 0}
    frame = pd.DataFrame({"path": [f"/photos/{n}_{i}.jpg" for i, n in enumerate(names)], "image_id": names,
                          "face_found": True, "found_by": "hog", "error": "",
                          "embedding": [v.tolist() for v in vecs]})  # fmt: skip
    _write(frame, path, embedding_signature(**{**sig, **signature}))
    return path


@pytest.fixture(scope="session")
def stamp() -> dict:
    from rostro.search.gallery import photo_stamp

    return photo_stamp()
