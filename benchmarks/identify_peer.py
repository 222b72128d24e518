"""Identification and clustering on photos: rostro's search against face_recognition's pipeline, on the same
celeba-wild photos (issue 29's held-out protocol, rebuilt on faces this machine holds).

    nice -n 19 python -m benchmarks.identify_peer [--shared ../shared/data] [--work benchmarks/work]

The photos and both pipelines' vectors are ``benchmarks.verify_peer``'s (v2's identity-disjoint splits:
training + validation identities, where choices are made, and test identities, reported apart). In each part,
the people are drawn (seed 0) as known or unknown in the hold-out's proportion (49 known to 10 unknown; people
with one photo are always unknown); one photo of each known person, among those where both pipelines find a
face, is their gallery photo, and every other photo is a probe. Identification figures are the mean of 10 such
draws (seeds 0-9): one draw moves them by several points. A photo where a pipeline finds no face names
nobody (wrong for a known person's probe).

* rostro: ``rostro index`` / ``rostro identify`` with their defaults: flip-averaged vectors, every probe photo
  named at once (people ranked by k-reciprocal re-ranked distances over the gallery's and the probes' faces),
  cosine similarity at the gallery's threshold (:data:`rostro.faces.embedding.DEFAULT_THRESHOLD`: too few pairs in
  a gallery of one photo a person to choose one), through ``Gallery.identify_collection``.
* face_recognition: its command's rule, the nearest known face within ``--tolerance`` 0.6 (Euclidean distance).
* rank-1: the share of known people's probes whose best match is their person (no threshold); named right: best
  match their person and accepted; false accepts: the share of unknown people's photos given a name.
* Clustering every photo of the part: ``rostro cluster``'s default (plain vectors) against dlib's Chinese
  whispers at 0.5 on face_recognition's vectors (the peer's own clustering example); BCubed F over every photo,
  a photo without a face being a cluster of its own.
"""

from __future__ import annotations

import shutil
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd

KNOWN_SHARE = 49 / 59  # the hold-out's 49 known people and 10 unknown ones
TOLERANCE = 0.6  # face_recognition's default
DRAWS = 10  # draws of known and unknown people and of gallery photos; the identification figures are their mean


def draw_people(identities: np.ndarray, both_found: np.ndarray, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(gallery photo mask, known-person mask) per photo: people drawn known in ``KNOWN_SHARE``, each known one
    enrolled with one photo where both pipelines find a face."""
    rng = np.random.default_rng(seed)
    people = np.array(sorted(set(identities)), object)
    rng.shuffle(people)
    counts = pd.Series(identities).value_counts()
    usable = [p for p in people if counts[p] >= 2 and both_found[identities == p].any()]
    known = set(usable[: round(KNOWN_SHARE * len(usable))])
    gallery = np.zeros(len(identities), bool)
    for person in sorted(known):
        gallery[rng.choice(np.flatnonzero((identities == person) & both_found))] = True
    return gallery, np.isin(identities, list(known))


def rostro_names(vectors: np.ndarray, found: np.ndarray, names: np.ndarray, gallery: np.ndarray,
                 work: Path, *, rerank: bool = True) -> tuple[np.ndarray, np.ndarray, float]:  # fmt: skip
    """(best match, accepted name or '') per photo through a gallery folder, as ``rostro identify`` names faces."""
    from rostro.search.gallery import new_meta, open_gallery

    stamp = {"network": "identify_peer benchmark", "flip": True, "jitter": 0}
    root = work / "identify_peer" / "gallery"
    shutil.rmtree(root, ignore_errors=True)
    g = np.flatnonzero(gallery)
    faces = pd.DataFrame({"name": names[g], "path": [f"g{i}" for i in g], "face": 0, "left": -1, "top": -1,
                          "right": -1, "bottom": -1, "photo_hash": [f"g{i}" for i in g]})  # fmt: skip
    best, named = np.full(len(names), "", object), np.full(len(names), "", object)
    with open_gallery(root, write=True, create=new_meta(stamp, vectors.shape[1])) as store:
        store.add(faces, vectors[g])
        threshold = store.threshold.value
        queries = np.flatnonzero(found & ~gallery)
        name = store.identify_collection if rerank else store.identify
        matches = name(vectors[queries], 1, threshold=-1.0)
        for i, match in zip(queries, matches, strict=True):
            best[i] = match[0]
            named[i] = match[0] if match[1] >= threshold else ""
    shutil.rmtree(root, ignore_errors=True)
    return best, named, threshold


def peer_names(vectors: np.ndarray, found: np.ndarray, names: np.ndarray, gallery: np.ndarray) -> tuple:
    """(best match, accepted name or '') per photo by face_recognition's rule: the nearest within the tolerance."""
    best, named = np.full(len(names), "", object), np.full(len(names), "", object)
    g = np.flatnonzero(gallery)
    for i in np.flatnonzero(found & ~gallery):
        d = np.linalg.norm(vectors[g] - vectors[i], axis=1)
        best[i] = names[g[np.argmin(d)]]
        named[i] = best[i] if d.min() <= TOLERANCE else ""
    return best, named


def scores(best: np.ndarray, named: np.ndarray, names: np.ndarray, gallery: np.ndarray, known: np.ndarray) -> dict:
    probes, strangers = known & ~gallery, ~known
    return {"rank1": float(np.mean(best[probes] == names[probes])),
            "named_right": float(np.mean(named[probes] == names[probes])),
            "false_accepts": float(np.mean(named[strangers] != ""))}  # fmt: skip


def _mean(draws: list[dict]) -> dict:
    return {k: float(np.mean([d[k] for d in draws])) for k in draws[0]}


def clusters_f(vectors: np.ndarray, found: np.ndarray, names: np.ndarray, method) -> float:
    """BCubed F over every photo, each photo without a face a cluster of its own."""
    from rostro.search.cluster import bcubed

    labels = np.arange(len(names)) + len(names)
    labels[found] = method(vectors[found])
    return bcubed(names, labels)[2]


def main() -> None:
    import dlib

    from benchmarks.verify_peer import _matrix, parse_args, peer_vectors, rostro_vectors, wild_photos
    from rostro.search.cluster import DEFAULT_METHOD, cluster_faces, default_threshold

    args = parse_args(__doc__)
    frame = wild_photos(args.shared)
    peer = peer_vectors(frame, args.work)
    flip = _matrix(rostro_vectors(frame, args.work).set_index("path").loc[frame["path"]])
    plain = _matrix(rostro_vectors(frame, args.work, flip=False).set_index("path").loc[frame["path"]])
    peer_found, ours_found = ~np.isnan(peer[:, 0]), ~np.isnan(flip[:, 0]) & ~np.isnan(plain[:, 0])

    def whispers(x: np.ndarray) -> np.ndarray:
        return np.asarray(dlib.chinese_whispers_clustering([dlib.vector(v.astype(float).tolist()) for v in x], 0.5))

    print("\nceleba-wild photos: identification (49 known to 10 unknown people) and clustering")
    print("| identities | photos / people (known, unknown) | pipeline | faces found | rank-1 | named right | "
          "unknowns' false accepts | clustering BCubed F |")  # fmt: skip
    print("|---|---|---|---:|---:|---:|---:|---:|")
    for part, sel in (("training + validation", frame["split"] != "test"), ("test", frame["split"] == "test")):
        rows = np.flatnonzero(sel.to_numpy())
        names = frame["identity"].to_numpy(object)[rows]
        draws_ours, draws_alone, draws_theirs = [], [], []
        for seed in range(DRAWS):
            gallery, known = draw_people(names, peer_found[rows] & ours_found[rows], seed)
            best, named, t = rostro_names(flip[rows], ours_found[rows], names, gallery, args.work)
            draws_ours.append(scores(best, named, names, gallery, known))
            alone = rostro_names(flip[rows], ours_found[rows], names, gallery, args.work, rerank=False)
            draws_alone.append(scores(*alone[:2], names, gallery, known))
            draws_theirs.append(scores(*peer_names(peer[rows], peer_found[rows], names, gallery), names, gallery,
                                       known))  # fmt: skip
        ours, alone, theirs = _mean(draws_ours), _mean(draws_alone), _mean(draws_theirs)
        shape = (f"{len(rows):,} / {len(set(names))} ({len(set(names[known]))}, "
                 f"{len(set(names[~known]))})")  # fmt: skip
        adapted = default_threshold(plain[rows][ours_found[rows]], DEFAULT_METHOD)  # what cluster_faces would pick
        ours_f = clusters_f(plain[rows], ours_found[rows], names, partial(cluster_faces, method=DEFAULT_METHOD,
                                                                          threshold=adapted))  # fmt: skip
        theirs_f = clusters_f(peer[rows], peer_found[rows], names, whispers)
        for label, found, s, f in (
            (f"rostro (threshold {t:.3f}; cluster {DEFAULT_METHOD} {adapted:.3f})", ours_found, ours, ours_f),
            ("rostro identify --no-rerank (each face alone)", ours_found, alone, ours_f),
            (f"face_recognition (tolerance {TOLERANCE}; dlib Chinese whispers 0.5)", peer_found, theirs, theirs_f),
        ):  # fmt: skip
            print(f"| {part} | {shape} | {label} | {found[rows].mean():.4f} | {s['rank1']:.4f} | "
                  f"{s['named_right']:.4f} | {s['false_accepts']:.4f} | {f:.4f} |")  # fmt: skip


if __name__ == "__main__":
    main()
