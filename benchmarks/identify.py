"""Identification and clustering on LFW: closed-set rank-1, open-set identification rate at a false-accept
rate, and clustering of every image by the shipped default against dlib's own Chinese whispers.

    nice -n 19 python -m benchmarks.identify [--shared ../shared/data] [--work benchmarks/work]

The 7,701 deep-funneled LFW images (a folder per person) are embedded once with ``rostro embed``'s
machinery (the face nearest the centre, the centre itself when none is found, as ``rostro verify
--lfw`` does; without flip-averaging, dlib's plain vectors) into ``WORK/identify/lfw_embeddings_centre.parquet``;
several minutes on 2 cores.

* Closed set: of each person with two photos or more, one photo (drawn with seed 0) is the gallery and
  the others are probes; rank-1 is the share of probes whose best gallery match is their person. Probes and
  unknowns are named as one collection (``Gallery.identify_collection``, the path ``rostro identify`` takes by
  default: people ranked by k-reciprocal re-ranked distances over the gallery and the collection) and each alone
  (``Gallery.identify``, ``--no-rerank``).
* Open set: the same gallery; the people with a single photo are the unknowns. The threshold is the
  best-match similarity that the given share of unknowns reaches (their false accepts); the
  identification rate is the share of probes of gallery people matched to their person at or above it.
* Clustering of all images (raw vectors, as ``rostro cluster`` reads a Parquet): the default method at
  its default threshold against ``dlib.chinese_whispers_clustering(descriptors, 0.5)``; pairwise F (over
  pairs of faces: same cluster against same person) and BCubed F (per face).
"""

from __future__ import annotations

import argparse
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
FARS = (1e-2, 1e-3)


def lfw_embeddings(shared: Path, work: Path) -> pd.DataFrame:
    """``rostro embed``'s rows for every LFW image, computed once and cached under ``work``."""
    from rostro.data.dataset import FaceDataset
    from rostro.inference.embed import embed_dataset

    root = shared / "lfw" / "lfw"
    paths = sorted(str(p) for p in root.glob("*/*.jpg"))
    if not paths:
        raise SystemExit(f"{root}: expected LFW's folders of people (PERSON/PERSON_NNNN.jpg), found none")
    frame = pd.DataFrame({"image_id": [Path(p).name for p in paths], "path": paths, "split": "test",
                          "identity": [Path(p).parent.name for p in paths]})  # fmt: skip
    ds = FaceDataset(frame=frame, labels=[], source="lfw", root=root)
    out = work / "identify" / "lfw_embeddings_centre.parquet"
    out.parent.mkdir(parents=True, exist_ok=True)
    # dlib's plain vectors: the clustering thresholds are distances between them (and the cache was made so)
    return embed_dataset(ds, out, centre_fallback=True, pick="centre", flip=False, workers=2, progress=False)


def lfw_faces(shared: Path, work: Path, *, unit: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, person of each) of the LFW images with a vector, unit length unless ``unit`` is False."""
    from rostro.search.index import normalise

    rows = lfw_embeddings(shared, work)
    rows = rows[rows["face_found"]].sort_values("path")
    vectors = np.stack(rows["embedding"].to_numpy()).astype(np.float32)
    people = rows["path"].map(lambda p: Path(p).parent.name).to_numpy(object)
    return (normalise(vectors) if unit else vectors), people


def identification(vectors: np.ndarray, people: np.ndarray, work: Path, *, rerank: bool = True) -> dict:
    """Closed-set rank-1 and open-set identification rates through a gallery folder of one photo a person; the
    probes and unknowns named as one collection (``rostro identify``'s default) or each alone (``--no-rerank``)."""
    from rostro.search.gallery import new_meta, open_gallery

    rng = np.random.default_rng(0)
    counts = pd.Series(people).value_counts()
    known = np.isin(people, counts.index[counts >= 2])
    first = {}
    for i in rng.permutation(np.flatnonzero(known)):
        first.setdefault(people[i], i)
    in_gallery = np.zeros(len(people), bool)
    in_gallery[list(first.values())] = True
    probes, unknowns = known & ~in_gallery, ~known
    root = work / "identify" / "gallery"
    shutil.rmtree(root, ignore_errors=True)
    stamp = {"network": "lfw benchmark", "flip": False, "jitter": 0}
    faces = pd.DataFrame({"name": people[in_gallery], "path": [f"g{i}" for i in range(in_gallery.sum())], "face": 0,
                          "left": -1, "top": -1, "right": -1, "bottom": -1,
                          "photo_hash": [f"g{i}" for i in range(in_gallery.sum())]})  # fmt: skip
    with open_gallery(root, write=True, create=new_meta(stamp, vectors.shape[1])) as gallery:
        gallery.add(faces, vectors[in_gallery])
        asked = probes | unknowns
        name = gallery.identify_collection if rerank else gallery.identify
        answers = dict(zip(np.flatnonzero(asked), name(vectors[asked], 1, threshold=-1.0), strict=True))
        found = [answers[i] for i in np.flatnonzero(probes)]
        strangers = [answers[i] for i in np.flatnonzero(unknowns)]
    shutil.rmtree(root, ignore_errors=True)
    right = np.array([f[0] for f in found], object) == people[probes]
    best = np.array([f[1] for f in found])
    stranger_best = np.sort([f[1] for f in strangers])[::-1]
    out = {"gallery": int(in_gallery.sum()), "probes": int(probes.sum()), "unknowns": int(unknowns.sum()),
           "rank1": float(right.mean())}  # fmt: skip
    for far in FARS:
        accepted = max(int(np.floor(far * len(stranger_best))), 0)  # false accepts allowed
        t = np.nextafter(stranger_best[accepted], np.inf)  # above the first unknown that must be refused
        out[far] = (float(np.mean(right & (best >= t))), float(t), accepted)
    return out


def pairwise_f(truth: np.ndarray, predicted: np.ndarray) -> float:
    """F of the pairs put together: precision over pairs in one cluster, recall over pairs of one person."""
    both = pd.crosstab(pd.factorize(truth)[0], pd.factorize(predicted)[0]).to_numpy().astype(np.float64)
    pairs = lambda c: float((c * (c - 1) / 2).sum())  # noqa: E731
    together = pairs(both)
    precision, recall = together / max(pairs(both.sum(axis=0)), 1), together / max(pairs(both.sum(axis=1)), 1)
    return 2 * precision * recall / (precision + recall) if together else 0.0


def clustering(raw: np.ndarray, people: np.ndarray) -> list[tuple[str, float, float, str, float]]:
    """(method, pairwise F, BCubed F, what the clusters are, seconds) for the shipped default and dlib's own."""
    import dlib

    from rostro.search.cluster import DEFAULT_METHOD, bcubed, cluster_faces, default_threshold

    out = []
    start = time.perf_counter()
    threshold = default_threshold(raw, DEFAULT_METHOD)
    ours = cluster_faces(raw, DEFAULT_METHOD, threshold)
    seconds = time.perf_counter() - start
    out.append((f"rostro {DEFAULT_METHOD} (the default; its threshold for this collection {threshold:.3f})",
                pairwise_f(people, ours),
                bcubed(people, ours)[2], _describe(ours, people), seconds))  # fmt: skip
    descriptors = [dlib.vector(v.astype(np.float64).tolist()) for v in raw]
    start = time.perf_counter()
    theirs = np.asarray(dlib.chinese_whispers_clustering(descriptors, 0.5))
    seconds = time.perf_counter() - start
    out.append(("dlib chinese_whispers_clustering 0.5", pairwise_f(people, theirs), bcubed(people, theirs)[2],
                _describe(theirs, people), seconds))  # fmt: skip
    return out


def _describe(labels: np.ndarray, people: np.ndarray) -> str:
    """Clusters, and the largest: pairwise F falls apart when one cluster swallows many people."""
    values, counts = np.unique(labels, return_counts=True)
    largest = labels == values[np.argmax(counts)]
    return f"{len(values):,} clusters, the largest {int(largest.sum())} faces of {len(set(people[largest]))} people"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--work", type=Path, default=ROOT / "benchmarks" / "work")
    args = parser.parse_args()
    unit, people = lfw_faces(args.shared, args.work)
    raw, _ = lfw_faces(args.shared, args.work, unit=False)
    ident = identification(unit, people, args.work)
    plain = identification(unit, people, args.work, rerank=False)
    clusters = clustering(raw, people)
    print(f"\nLFW deep-funneled, {len(people):,} faces of {len(set(people)):,} people; gallery {ident['gallery']:,} "
          f"people (one photo each), {ident['probes']:,} probes of them, {ident['unknowns']:,} unknowns "
          f"(people with one photo)")  # fmt: skip
    print("| measure | method | value | note |")
    print("|---|---|---:|---|")
    for label, figures in (("re-ranked with the collection (default)", ident), ("cosine alone (--no-rerank)", plain)):
        print(f"| closed-set rank-1 | identify, {label} | {figures['rank1']:.4f} | |")
        for far in FARS:
            rate, t, accepted = figures[far]
            print(f"| open-set identification rate at FAR {far:g} | identify, {label} | {rate:.4f} | "
                  f"threshold {t:.4f} ({accepted} of {figures['unknowns']:,} unknowns accepted) |")  # fmt: skip
    for method, pf, bf, described, seconds in clusters:
        print(f"| clustering pairwise F | {method} | {pf:.4f} | {described}; {seconds:.1f} s |")
        print(f"| clustering BCubed F | {method} | {bf:.4f} | |")


if __name__ == "__main__":
    main()
