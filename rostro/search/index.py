"""Nearest faces by cosine similarity: exact (a matrix product and ``argpartition``) or approximate
(faiss's HNSW graph on inner products), for unit vectors.

:data:`EXACT_LIMIT` is where a gallery stops being searched exactly: ``benchmarks/search.py``
measured both on 2 cores (see the README's "Face search"), and below it the exact search is as
fast as the graph and needs no build. :data:`HNSW_M`, :data:`HNSW_EF_CONSTRUCTION` and
:data:`HNSW_EF_SEARCH` were chosen there too, for recall@10 at or above 0.95 against the exact search.
"""

from __future__ import annotations

import numpy as np

from rostro.errors import RostroError

EXACT_LIMIT = 20_000  # faces; a larger gallery is searched through the HNSW graph
HNSW_M = 32  # graph neighbours per node
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128
_BLOCK = 2**24  # similarities computed at once by the exact search (64 MB of float32)


def check_vectors(x: np.ndarray, *, dim: int | None = None, what: str = "vectors") -> np.ndarray:
    """``x`` as a C-contiguous N x D float32 matrix of finite values (D = ``dim`` when given)."""
    x = np.asarray(x, np.float32)
    if x.ndim == 1:
        x = x[None]
    if x.ndim != 2:
        raise RostroError(f"{what}: expected an N x D matrix, found shape {x.shape}")
    if dim is not None and x.shape[1] != dim:
        raise RostroError(f"{what}: expected {dim}-d vectors (the gallery's), found {x.shape[1]}-d; index and "
                          f"search with the same face network")  # fmt: skip
    if not np.isfinite(x).all():
        raise RostroError(f"{what}: {int((~np.isfinite(x)).any(axis=1).sum())} vector(s) hold NaN or infinity")
    return np.ascontiguousarray(x)


def normalise(x: np.ndarray, *, what: str = "vectors") -> np.ndarray:
    """Rows scaled to unit length (cosine similarity becomes an inner product); a zero row is refused."""
    x = check_vectors(x, what=what)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    if (norms == 0).any():
        raise RostroError(f"{what}: {int((norms == 0).sum())} zero vector(s), which have no direction to compare")
    return x / norms


def exact_top_k(gallery: np.ndarray, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """(rows Q x k, similarities Q x k) of the ``k`` gallery rows with the highest inner product with each
    query, best first (k is capped at the gallery's size). Queries go in blocks so that no more than
    :data:`_BLOCK` similarities are held at once."""
    n = len(gallery)
    k = min(k, n)
    rows = np.zeros((len(queries), k), np.int64)
    sims = np.zeros((len(queries), k), np.float32)
    if k == 0:
        return rows, sims
    step = max(1, _BLOCK // max(n, 1))
    for start in range(0, len(queries), step):
        s = queries[start : start + step] @ gallery.T
        top = np.argpartition(-s, k - 1, axis=1)[:, :k] if k < n else np.broadcast_to(np.arange(n), s.shape)
        top_s = np.take_along_axis(s, top, axis=1)
        order = np.argsort(-top_s, axis=1, kind="stable")
        rows[start : start + step] = np.take_along_axis(top, order, axis=1)
        sims[start : start + step] = np.take_along_axis(top_s, order, axis=1)
    return rows, sims


class HnswIndex:
    """faiss's ``IndexHNSWFlat`` on inner products over unit vectors, saved to and read from one file."""

    def __init__(self, index) -> None:
        self.index = index

    @classmethod
    def build(cls, vectors: np.ndarray, *, m: int = HNSW_M, ef_construction: int = HNSW_EF_CONSTRUCTION,
              threads: int | None = None) -> HnswIndex:  # fmt: skip
        faiss = _faiss(threads)
        index = faiss.IndexHNSWFlat(vectors.shape[1], m, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = ef_construction
        index.add(np.ascontiguousarray(vectors, np.float32))
        return cls(index)

    @classmethod
    def read(cls, path) -> HnswIndex:
        """The index in ``path``; :class:`RostroError` when faiss cannot read it (truncated or not an index)."""
        faiss = _faiss()
        try:
            return cls(faiss.read_index(str(path)))
        except RuntimeError as exc:
            raise RostroError(f"{path}: not a readable faiss index ({str(exc).splitlines()[0]})") from None

    def write(self, path) -> None:
        _faiss().write_index(self.index, str(path))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int, *, ef_search: int = HNSW_EF_SEARCH) -> tuple[np.ndarray, np.ndarray]:
        """Like :func:`exact_top_k`, approximately; missing neighbours (a tiny graph) are dropped."""
        k = min(k, len(self))
        self.index.hnsw.efSearch = max(ef_search, k)
        sims, rows = self.index.search(np.ascontiguousarray(queries, np.float32), k)
        return rows.astype(np.int64), sims


def _faiss(threads: int | None = None):
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - a dependency
        raise RostroError(f"approximate search needs faiss-cpu ({exc}); pip install faiss-cpu") from None
    if threads is not None:
        faiss.omp_set_num_threads(threads)
    return faiss


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each query's true top-k rows that the approximate search found."""
    hits = [len(np.intersect1d(f, t)) / max(len(t), 1) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits)) if hits else float("nan")
