"""Faces grouped by person without labels, and BCubed precision, recall and F to score a grouping.

Three methods on the face network's raw vectors (dlib's descriptors, on which dlib's face-matching threshold is
a Euclidean distance of 0.6):

* ``whispers``: Chinese whispers (Biemann 2006) as dlib's ``chinese_whispers_clustering(descriptors,
  0.5)`` runs it: a graph with an edge between every two faces closer than the threshold (and each
  face to itself), every face starting in its own cluster, then, node by node in random order, each
  takes the label most common among its neighbours, until no label changes (at most 100 passes).
* ``agglomerative``: average-linkage agglomerative clustering (scipy), merging while the mean Euclidean
  distance between two clusters is below the threshold.
* ``reranked`` (the default): the same on a re-ranked distance (k-reciprocal encoding, Zhong et al., CVPR 2017,
  as person re-identification uses it): 0.9 x the Euclidean distance + 0.1 x the Jaccard distance between two
  faces' k-reciprocal neighbourhoods (15 neighbours, each averaged over its 6 nearest), so two faces count as
  nearer when they share neighbours and farther when they share none (1 x 0.1 added).

:data:`DEFAULT_METHOD` and the thresholds were chosen on two validation sets. On LFW (deep-funneled,
``../shared/data/lfw``): 1,047 photos of 456 people (400 drawn at random, 60 more with 4 photos or more; up to 15
photos each), the largest face of each, people split in two halves at random (seed 1); thresholds chosen on one
half, BCubed F reported on the other:

=============  =========  =====================  ====================
method         threshold  F (choosing half)      F (other half)
=============  =========  =====================  ====================
agglomerative  0.55       0.960 (P .958 R .962)  0.956 (P .968 R .944)
whispers       0.5        0.947 (P .963 R .931)  0.950 (P .986 R .917)
=============  =========  =====================  ====================

LFW holds mostly people with one or two photos; a photo collection holds many a person, and the best threshold
moves with both: on celeba-wild's training and validation identities (2,023 photos of 191 people, about 11 each)
agglomerative peaks at 0.59-0.60 (BCubed F 0.912), on all 7,701 LFW images (4,281 people, most with one photo) 0.59
merges too much (0.757 against 0.876 at 0.55). So agglomerative's default threshold adapts to the collection
(:func:`default_threshold`): it rises with the share of faces that have a neighbour closer than 0.5 (many photos
a person) and falls with the number of faces (more people, more close strangers):
``0.55 + 0.18 * share - 0.035 * log10(faces)``, clipped to 0.45-0.65. Chosen on 31 collections drawn from
identities no test holds (celeba-wild's training and validation photos and CelebA-HQ's training and validation
faces: 40 to 4,000 people, 183 to 6,785 faces, all photos a person or most people down to one): mean BCubed F 0.0032
below each collection's best threshold (worst 0.024), against 0.0153 for the best fixed one (0.57).

Reranked became the default in session 21, chosen on 16 validation collections (the six of celeba-wild's
training and validation photos and ten of CelebA-HQ's, 40 to 1,000 people; the grid k 5-20, expansion 4-10, weight
0.7-0.95, threshold the adaptive one -0.12 to +0.12): at agglomerative's adaptive threshold minus 0.02, BCubed F
0.9361 / 0.9543 (celeba-wild / CelebA-HQ means) against 0.9260 / 0.9472 for agglomerative at its own; higher on 14
of the 16, equal on one, 0.003 lower on one; the gain grows with the collection (+0.019 on 1,000 CelebA-HQ people).

Both agglomerative methods hold all pairwise distances, so above :data:`AGGLOMERATIVE_LIMIT` faces they are
refused with a pointer to ``whispers``, which keeps only the pairs closer than its threshold.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from rostro.errors import RostroError

if TYPE_CHECKING:
    from scipy import sparse

METHODS = ("whispers", "agglomerative", "reranked")
THRESHOLDS = {"whispers": 0.5}  # agglomerative's and reranked's adapt: default_threshold
ADAPTIVE = (0.55, 0.18, 0.035)  # base, per share of faces with a neighbour closer than NEAR, per log10(faces)
NEAR = 0.5
ADAPTIVE_RANGE = (0.45, 0.65)
RERANK_K, RERANK_EXPAND, RERANK_WEIGHT = 15, 6, 0.9  # k-reciprocal neighbours, query expansion, Euclidean's share
RERANK_SHIFT = -0.02  # reranked's threshold: agglomerative's adaptive one plus this
# Fewer faces than this and every face is in every other's neighbourhood (the Jaccard term falls to 0 for
# strangers too): reranked runs as agglomerative, at agglomerative's threshold.
RERANK_MIN_FACES = 4 * (RERANK_K + 1)
DEFAULT_METHOD = "reranked"
AGGLOMERATIVE_LIMIT = 20_000  # faces; n^2 / 2 float64 distances is 1.6 GB here (about 3.3 GB at the peak)
_BLOCK = 2048  # rows of the distance matrix computed at once


def _squared_distances(vectors: np.ndarray) -> Iterator[tuple[int, np.ndarray]]:
    """(first row, squared Euclidean distances of ``_BLOCK`` rows to every row), block by block, so memory stays
    at ``_BLOCK`` x N however many faces."""
    x = np.asarray(vectors, np.float64)
    sq = (x**2).sum(axis=1)
    for start in range(0, len(x), _BLOCK):
        yield start, sq[start : start + _BLOCK, None] + sq[None] - 2 * x[start : start + _BLOCK] @ x.T


def neighbour_graph(vectors: np.ndarray, threshold: float) -> tuple[np.ndarray, np.ndarray]:
    """CSR (indptr, indices) of every pair closer than ``threshold``, each node its own neighbour too."""
    indptr, indices = [0], []
    for _, d2 in _squared_distances(vectors):
        for row in d2 < threshold**2:
            near = np.flatnonzero(row)
            indices.append(near)
            indptr.append(indptr[-1] + len(near))
    return np.asarray(indptr), np.concatenate(indices) if indices else np.zeros(0, np.int64)


def nearest_distances(vectors: np.ndarray) -> np.ndarray:
    """Each face's Euclidean distance to its nearest other face (inf for a lone face)."""
    out = np.empty(len(vectors))
    for start, d2 in _squared_distances(vectors):
        d2[np.arange(len(d2)), start + np.arange(len(d2))] = np.inf
        out[start : start + len(d2)] = np.sqrt(np.maximum(d2.min(axis=1), 0))
    return out


def default_threshold(vectors: np.ndarray, method: str = DEFAULT_METHOD) -> float:
    """``method``'s threshold for this collection: whispers' fixed one; agglomerative's from the share of faces
    with a close neighbour and the number of faces (see the module's note); reranked's that plus
    :data:`RERANK_SHIFT`."""
    method = _runs_as(method, len(vectors))
    if method == "reranked":
        return default_threshold(vectors, "agglomerative") + RERANK_SHIFT
    if method != "agglomerative":
        return THRESHOLDS[method]
    base, per_share, per_decade = ADAPTIVE
    share = float(np.mean(nearest_distances(vectors) < NEAR)) if len(vectors) > 1 else 0.0
    t = base + per_share * share - per_decade * np.log10(max(len(vectors), 1))
    return float(np.clip(t, *ADAPTIVE_RANGE))


def chinese_whispers(
    vectors: np.ndarray, threshold: float = 0.5, *, iterations: int = 100, seed: int = 0
) -> np.ndarray:
    """Cluster labels 0..C-1 (largest cluster first) by Chinese whispers on the graph of pairs closer than
    ``threshold`` (Euclidean)."""
    n = len(vectors)
    indptr, indices = neighbour_graph(vectors, threshold)
    labels = np.arange(n)
    rng = np.random.default_rng(seed)
    for _ in range(iterations):
        changed = 0
        for node in rng.permutation(n):
            near = labels[indices[indptr[node] : indptr[node + 1]]]
            values, counts = np.unique(near, return_counts=True)
            best = values[np.argmax(counts)]
            if best != labels[node]:
                labels[node] = best
                changed += 1
        if not changed:
            break
    return relabel(labels)


def agglomerative(vectors: np.ndarray, threshold: float | None = None, *, reranked: bool = False) -> np.ndarray:
    """Cluster labels (largest first) by average-linkage agglomeration while the mean distance between two
    clusters is below ``threshold`` (None: :func:`default_threshold` of these vectors): Euclidean, or ``reranked``
    (:func:`reranked_distances`; Euclidean below :data:`RERANK_MIN_FACES` faces)."""
    from scipy.cluster.hierarchy import fcluster, linkage
    from scipy.spatial.distance import pdist

    if len(vectors) < 2:
        return np.zeros(len(vectors), np.int64)
    if len(vectors) > AGGLOMERATIVE_LIMIT:
        raise RostroError(f"{'reranked' if reranked else 'agglomerative'} clustering holds every pairwise distance: "
                          f"expected at most {AGGLOMERATIVE_LIMIT:,} faces, found {len(vectors):,}; use --method "
                          f"whispers")  # fmt: skip
    method = _runs_as("reranked" if reranked else "agglomerative", len(vectors))
    if threshold is None:
        threshold = default_threshold(vectors, method)
    x = np.asarray(vectors, np.float64)
    tree = linkage(reranked_distances(x) if method == "reranked" else pdist(x), "average")
    # fcluster keeps merges at distances <= t; scikit-learn's distance_threshold, used before, those < t
    return relabel(fcluster(tree, np.nextafter(threshold, 0), "distance"))


def _runs_as(method: str, faces: int) -> str:
    """The method that clusters ``faces`` faces: reranked runs as agglomerative below :data:`RERANK_MIN_FACES`."""
    return "agglomerative" if method == "reranked" and faces < RERANK_MIN_FACES else method


def condensed_index(n: int, i: np.ndarray | int, j: np.ndarray | int) -> np.ndarray | int:
    """Where the distance between faces ``i < j`` of ``n`` lies in scipy's condensed (``pdist``) order."""
    return n * i - i * (i + 1) // 2 + (j - i - 1)


def nearest_neighbours(vectors: np.ndarray, k: int) -> np.ndarray:
    """Each face's ``k`` nearest faces, nearest first, the face itself first (N x min(k, N) indices)."""
    k = min(k, len(vectors))
    out = np.empty((len(vectors), k), np.int64)
    for start, d2 in _squared_distances(vectors):
        rows = np.arange(len(d2))
        d2[rows, start + rows] = -np.inf  # the face itself first, whatever rounding says
        part = np.argpartition(d2, k - 1, axis=1)[:, :k]
        out[start : start + len(d2)] = np.take_along_axis(part, np.argsort(np.take_along_axis(d2, part, 1), 1), 1)
    return out


def reciprocal_encoding(vectors: np.ndarray, k: int, expand: int) -> sparse.csr_matrix:
    """Each face's k-reciprocal neighbours (Zhong et al. 2017: faces in each other's ``k`` nearest, widened by the
    neighbours' own ``k // 2``-reciprocal sets that mostly agree; the authors' code rounds k / 2 instead, 8 for
    k 15 where the validated setting has 7), weighted by exp(-distance) and summing to 1;
    then averaged over the face's ``expand`` nearest (query expansion). An N x N sparse matrix."""
    from scipy import sparse

    x = np.asarray(vectors, np.float64)
    n = len(x)
    near = nearest_neighbours(x, k + 1)
    half = near[:, : k // 2 + 1]
    rows, cols, vals = [], [], []
    for i in range(n):
        mine = near[i][(near[near[i]] == i).any(axis=1)]
        members = set(mine.tolist())
        for j in mine:
            theirs = half[j][(half[half[j]] == j).any(axis=1)]
            if np.isin(theirs, mine).sum() > 2 / 3 * len(theirs):
                members.update(theirs.tolist())
        m = np.fromiter(members, np.int64, len(members))
        w = np.exp(-np.linalg.norm(x[m] - x[i], axis=1))
        rows.append(np.full(len(m), i))
        cols.append(m)
        vals.append(w / w.sum())
    v = sparse.csr_matrix((np.concatenate(vals), (np.concatenate(rows), np.concatenate(cols))), shape=(n, n))
    e = min(expand, n)
    mean = sparse.csr_matrix((np.full(n * e, 1 / e), (np.repeat(np.arange(n), e), near[:, :e].ravel())), (n, n))
    return (mean @ v).tocsr()


def reranked_distances(vectors: np.ndarray, k: int = RERANK_K, expand: int = RERANK_EXPAND,
                       weight: float = RERANK_WEIGHT) -> np.ndarray:  # fmt: skip
    """Condensed pairwise distances (scipy's order): ``weight`` x Euclidean + (1 - ``weight``) x the Jaccard
    distance of the faces' k-reciprocal encodings (1 where they share no neighbour). Two photos of one person
    usually share neighbours (the person's other photos) where two close strangers do not, so the mix separates
    what the Euclidean distance alone confuses."""
    from scipy.spatial.distance import pdist

    x = np.asarray(vectors, np.float64)
    n = len(x)
    out = pdist(x)
    out *= weight
    out += 1 - weight
    v = reciprocal_encoding(x, k, expand)
    by_col = v.tocsc()
    for i in range(n):
        cs, vs = v.indices[v.indptr[i] : v.indptr[i + 1]], v.data[v.indptr[i] : v.indptr[i + 1]]
        spans = [np.arange(by_col.indptr[c], by_col.indptr[c + 1]) for c in cs]
        at = np.concatenate(spans)
        js = by_col.indices[at]
        mins = np.minimum(np.repeat(vs, [len(s) for s in spans]), by_col.data[at])
        later = js > i
        js, shared = np.unique(js[later], return_inverse=True)
        total = np.bincount(shared, mins[later], minlength=len(js))
        out[condensed_index(n, i, js)] -= (1 - weight) * total / (2 - total)
    return np.maximum(out, 0, out=out)  # rounding can leave -1e-17 between equal vectors


def cluster_faces(vectors: np.ndarray, method: str = DEFAULT_METHOD, threshold: float | None = None,
                  *, seed: int = 0) -> np.ndarray:  # fmt: skip
    """Cluster ids (0 the largest cluster) of face vectors with ``method`` at ``threshold`` (None: its default for
    these vectors, :func:`default_threshold`)."""
    if method not in METHODS:
        raise RostroError(f"method: expected one of {METHODS}, found {method!r}")
    x = np.asarray(vectors, np.float32)
    if x.ndim != 2 or not len(x):
        raise RostroError(f"cluster: expected an N x D matrix of at least one face, found shape {x.shape}")
    t = default_threshold(x, method) if threshold is None else threshold
    if t <= 0:
        raise RostroError(f"threshold: expected a distance above 0 (e.g. 0.55), found {t}")
    if method == "whispers":
        return chinese_whispers(x, t, seed=seed)
    return agglomerative(x, t, reranked=method == "reranked")


def relabel(labels: np.ndarray) -> np.ndarray:
    """Labels renumbered 0..C-1 by falling cluster size (ties: first appearance)."""
    values, first, counts = np.unique(labels, return_index=True, return_counts=True)
    order = np.lexsort((first, -counts))
    new = np.empty(len(values), np.int64)
    new[order] = np.arange(len(values))
    return new[np.searchsorted(values, labels)]


def bcubed(truth: np.ndarray, predicted: np.ndarray) -> tuple[float, float, float]:
    """BCubed (precision, recall, F): per face, the share of its cluster that is its person and of its person
    that is in its cluster, averaged over faces; F is their harmonic mean."""
    import pandas as pd

    t = pd.factorize(np.asarray(truth))[0]
    p = pd.factorize(np.asarray(predicted))[0]
    if len(t) != len(p) or not len(t):
        raise RostroError(f"bcubed: expected two equal, non-empty label lists, found {len(t)} and {len(p)}")
    both = pd.crosstab(t, p).to_numpy()  # faces of person i in cluster j
    per_face = both[t, p]
    precision = float(np.mean(per_face / both.sum(axis=0)[p]))
    recall = float(np.mean(per_face / both.sum(axis=1)[t]))
    return precision, recall, 2 * precision * recall / (precision + recall)
