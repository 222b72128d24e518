"""Verification on photos: rostro's embedding pipeline against face_recognition's, on the same pairs.

    nice -n 19 python -m benchmarks.verify_peer [--shared ../shared/data] [--work benchmarks/work]

The photos are celeba-wild's (v2's identity-disjoint splits: training and validation identities, where
choices are made, and test identities, reported apart). face_recognition's pipeline is reproduced with
dlib as the package runs it: ``face_locations`` (HOG with one upsampling step), the largest box,
``face_encodings`` (the 5-point model, ``compute_face_descriptor`` with ``num_jitters=1``). rostro's
side is ``rostro embed`` with its defaults (its detector chain, the largest face, flip-averaging; ``--no-flip``
is scored too, as dlib's plain vectors compare with face_recognition's like for like). Both are scored on
the photos where face_recognition finds a face: every genuine pair and every impostor pair.

Landmarks on other detectors' boxes: for the photos where rostro's face comes from BlazeFace or the CNN
detector and face_recognition's from HOG, the cosine between the two pipelines' vectors of the same
face (1 means the same chip); the spread between two HOG boxes of one face is the yardstick.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]


def face_recognition_vectors(paths: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """face_recognition's vector of the largest face of each photo (NaN rows where it finds none)."""
    from PIL import Image

    from rostro.faces.models import dlib_models, model_file

    models = dlib_models()
    dlib = models["dlib"]
    describe = dlib.face_recognition_model_v1(str(model_file("resnet")))
    out = np.full((len(paths), 128), np.nan, np.float32)
    for i, path in enumerate(paths):
        img = np.ascontiguousarray(np.asarray(Image.open(path).convert("RGB")))
        boxes = models["hog"](img, 1)
        if len(boxes):
            box = max(boxes, key=lambda r: r.width() * r.height())
            out[i] = np.asarray(describe.compute_face_descriptor(img, models["shape5"](img, box), 1))
    return out, ~np.isnan(out[:, 0])


def rostro_vectors(frame: pd.DataFrame, work: Path, *, flip: bool = True) -> pd.DataFrame:
    """``rostro embed``'s rows (default options; ``flip=False``: ``--no-flip``) for the photos, cached in ``work``."""
    from rostro.data.dataset import FaceDataset
    from rostro.inference.embed import embed_dataset

    ds = FaceDataset(frame=frame, labels=[], source="celeba-wild", root=Path(frame["path"].iloc[0]).parent)
    name = "rostro_flip.parquet" if flip else "rostro.parquet"  # rostro.parquet: made before flip was the default
    return embed_dataset(ds, work / "verify_peer" / name, flip=flip, workers=2, progress=False)


def _matrix(rows: pd.DataFrame) -> np.ndarray:
    """The rows' vectors, NaN where no face was found."""
    return np.stack([np.asarray(e, np.float32) if f else np.full(128, np.nan, np.float32)
                     for e, f in zip(rows["embedding"], rows["face_found"], strict=True)])  # fmt: skip


def eer(vectors: np.ndarray, identities: np.ndarray) -> tuple[float, int, int]:
    from rostro.evaluation.verification import make_pairs, verification_curves

    pairs = make_pairs(vectors, identities, seed=0, max_impostor=None)
    res = verification_curves(pairs.scores, pairs.genuine)
    return res.eer, res.n_genuine, res.n_impostor


def wild_photos(shared: Path) -> pd.DataFrame:
    """celeba-wild's photos (path, image_id, identity) with the split of v2's identity-disjoint splits."""
    from benchmarks.heldout import test_table

    parts = []
    for split in ("train", "validation", "test"):
        table, _, _ = test_table(shared, split=split)
        wild = table[table["path"].str.contains("celeba-wild")]
        parts.append(pd.DataFrame({"path": wild["path"], "image_id": wild["path"].map(lambda p: Path(p).name),
                                   "identity": wild["identity"].astype(str), "split": split}))  # fmt: skip
    return pd.concat(parts, ignore_index=True)


def peer_vectors(frame: pd.DataFrame, work: Path) -> np.ndarray:
    """face_recognition's vectors of ``wild_photos``' rows (NaN where it finds no face), cached in ``work``."""
    cached = work / "verify_peer" / "face_recognition.npy"
    if cached.exists():
        return np.load(cached)
    cached.parent.mkdir(parents=True, exist_ok=True)
    peer, _ = face_recognition_vectors(frame["path"].tolist())
    np.save(cached, peer)
    return peer


def parse_args(doc: str) -> argparse.Namespace:
    """``--shared`` and ``--work``, as this benchmark and ``benchmarks.identify_peer`` take them."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work")
    return parser.parse_args()


def main() -> None:
    args = parse_args(__doc__)
    frame = wild_photos(args.shared)
    peer = peer_vectors(frame, args.work)
    peer_found = ~np.isnan(peer[:, 0])
    ours = rostro_vectors(frame, args.work).set_index("path").loc[frame["path"]]
    plain = rostro_vectors(frame, args.work, flip=False).set_index("path").loc[frame["path"]]
    found = ours["face_found"].to_numpy(bool) & plain["face_found"].to_numpy(bool)
    mine, mine_plain = _matrix(ours), _matrix(plain)
    by = plain["found_by"].to_numpy(object)
    ids = frame["identity"].to_numpy()
    print("\nceleba-wild photos; pairs over the photos where face_recognition's pipeline finds a face")
    print("| identities | photos (found by face_recognition) | pipeline | EER | genuine / impostor pairs |")
    print("|---|---:|---|---:|---:|")
    for part, sel in (("training + validation", frame["split"] != "test"), ("test", frame["split"] == "test")):
        keep = sel.to_numpy() & peer_found & found
        for name, vecs in (("face_recognition (HOG up 1, 5 points, dlib)", peer),
                           ("rostro embed --no-flip", mine_plain),
                           ("rostro embed (defaults: flip-averaged)", mine)):  # fmt: skip
            e, g, i = eer(vecs[keep], ids[keep])
            print(f"| {part} | {sel.sum():,} ({keep.sum():,}) | {name} | {e:.4f} | {g:,} / {i:,} |")
    other = peer_found & found & (by != "hog")
    unit = mine_plain / np.linalg.norm(mine_plain, axis=1, keepdims=True)  # like for like: no flip on either side
    peer_unit = peer / np.linalg.norm(peer, axis=1, keepdims=True)
    cos = np.sum(unit * peer_unit, axis=1)
    hog = peer_found & found & (by == "hog")
    print("\n| rostro's face found by | photos | cosine to face_recognition's vector: median | 10th percentile |")
    print("|---|---:|---:|---:|")
    for name, sel in (("HOG (the yardstick)", hog), ("BlazeFace or CNN", other)):
        print(f"| {name} | {sel.sum():,} | {np.median(cos[sel]):.4f} | {np.percentile(cos[sel], 10):.4f} |")


if __name__ == "__main__":
    main()
