"""Nearest faces by cosine similarity: exact (a matrix product and ``argpartition``) or approximate
(faiss's inverted lists, IVF, on inner products, re-ranked exactly), for unit vectors.

``benchmarks/search.py`` measured both on 2 cores, on vectors drawn like dlib's (see the README's
"Face search"): up to :data:`EXACT_LIMIT` the exact search keeps 2,000 queries/s and needs no build;
beyond it an IVF index, built in about a minute at a million faces (k-means on a sample, then one
assignment per vector) where faiss's HNSW graph took over a minute at 100,000. Its cells hold 4-bit
codes scanned with SIMD look-ups (4 times IVF-SQ8's queries/s at 1M) and each query's best are ranked
again on the exact vectors, which lifts recall@10 from 0.84 (codes alone) to 0.95 and above.
:data:`IVF_CODE`, :data:`IVF_RERANK` and :data:`IVF_PROBE_FACTOR` were chosen there for recall@10 at
or above 0.95 against the exact search at 100k and 1M faces."""

from __future__ import annotations

import os

import numpy as np

from rostro.errors import RostroError

# faiss's OpenMP threads sleep rather than spin when idle (read once, when faiss loads its OpenMP; a value
# already set is kept): spinning threads on a machine busy with other work made an index of 6,000 vectors
# take 28 s to build instead of 1.4 s, each small parallel step waiting for a thread pushed off its core.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

EXACT_LIMIT = 20_000  # faces; a larger gallery is searched through the IVF index
IVF_CODE = "PQ128x4fs"  # 4 bits a coordinate, scanned with SIMD table look-ups: 4 times SQ8's speed at 1M
IVF_RERANK = 80  # of each query's best by the 4-bit codes, ranked again on the exact vectors (a flat copy)
IVF_TRAIN = 100_000  # vectors sampled for the k-means of the cells
IVF_NITER = 10  # k-means iterations
IVF_PROBE_FACTOR = 4.0  # a query scans factor x sqrt(nlist) cells (253 of 4,000 at 1M: 6%)
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


class IvfIndex:
    """faiss's IVF index on inner products over unit vectors (``nlist`` k-means cells; a query scans the
    compressed vectors of its ``nprobe`` nearest cells), its best candidates ranked again on the exact
    vectors (``IndexRefineFlat``); saved to and read from one file."""

    def __init__(self, index) -> None:
        self.index = index
        self.ivf = _faiss().extract_index_ivf(index)

    @classmethod
    def build(cls, vectors: np.ndarray, *, nlist: int | None = None, code: str = IVF_CODE, threads: int | None = None,
              seed: int = 0) -> IvfIndex:  # fmt: skip
        """Cells by k-means (and the code's quantiser) on at most :data:`IVF_TRAIN` sampled vectors (a larger
        sample costs build time and gains no recall), then every vector filed under its cell. ``code``: faiss's
        name of how a cell stores its vectors (``Flat``, ``SQ8``, ``PQ128x4fs``...)."""
        faiss = _faiss(threads)
        n, dim = vectors.shape
        nlist = nlist or ivf_lists(n)
        index = faiss.index_factory(dim, f"IVF{nlist},{code},RFlat", faiss.METRIC_INNER_PRODUCT)
        ivf = faiss.extract_index_ivf(index)
        ivf.cp.niter = IVF_NITER
        ivf.cp.seed = seed
        ivf.cp.min_points_per_centroid = 5  # faiss warns below 39 a cell; 25 (100k for 4,000) trains as well
        sample = vectors
        if n > IVF_TRAIN:
            sample = vectors[np.sort(np.random.default_rng(seed).choice(n, IVF_TRAIN, replace=False))]
        index.train(np.ascontiguousarray(sample, np.float32))
        index.add(np.ascontiguousarray(vectors, np.float32))
        return cls(index)

    @classmethod
    def read(cls, path) -> IvfIndex:
        """The index in ``path``; :class:`RostroError` when faiss cannot read it (truncated, not an index) or
        it is not a re-ranked IVF index (an older gallery's HNSW graph)."""
        faiss = _faiss()
        try:
            index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise RostroError(f"{path}: not a readable faiss index ({str(exc).splitlines()[0]})") from None
        if not isinstance(index, faiss.IndexRefine):
            raise RostroError(f"{path}: expected a faiss IVF index with exact re-ranking (IndexRefineFlat), found "
                              f"{type(index).__name__}")  # fmt: skip
        return cls(index)

    def write(self, path) -> None:
        _faiss().write_index(self.index, str(path))

    def __len__(self) -> int:
        return int(self.index.ntotal)

    @property
    def nlist(self) -> int:
        return int(self.ivf.nlist)

    def search(self, queries: np.ndarray, k: int, *, nprobe: int | None = None, threads: int | None = None
               ) -> tuple[np.ndarray, np.ndarray]:  # fmt: skip
        """Like :func:`exact_top_k`, approximately, for the whole batch in one faiss call (its threads share
        the queries); missing neighbours (cells too small to hold k) come back as row -1."""
        faiss = _faiss(threads)
        k = min(k, len(self))
        probe = faiss.SearchParametersIVF(nprobe=min(nprobe or ivf_nprobe(self.nlist), self.nlist))
        params = faiss.IndexRefineSearchParameters(k_factor=max(2.0, IVF_RERANK / max(k, 1)), base_index_params=probe)
        sims, rows = self.index.search(np.ascontiguousarray(queries, np.float32), k, params=params)
        return rows.astype(np.int64), sims


def ivf_lists(n: int) -> int:
    """Cells for ``n`` vectors: 4 sqrt(n) (4,096 at a million), faiss's usual rule."""
    return max(1, int(round(4 * np.sqrt(n))))


def ivf_nprobe(nlist: int) -> int:
    """Cells a query scans: :data:`IVF_PROBE_FACTOR` x sqrt(nlist). A fixed share would not do: the share
    needed for the same recall falls as the gallery grows (8% at 100k faces, 6% at 1M)."""
    return min(nlist, max(1, int(round(IVF_PROBE_FACTOR * np.sqrt(nlist)))))


def _faiss(threads: int | None = None):
    """faiss, its OpenMP threads set to ``threads`` (default: the process's budget, 1 in a pool worker)."""
    try:
        import faiss
    except ImportError as exc:  # pragma: no cover - a dependency
        raise RostroError(f"approximate search needs faiss-cpu ({exc}); pip install faiss-cpu") from None
    from rostro.workers import thread_budget

    faiss.omp_set_num_threads(threads or thread_budget())
    return faiss


def recall_at_k(found: np.ndarray, truth: np.ndarray) -> float:
    """Mean share of each query's true top-k rows that the approximate search found."""
    hits = [len(np.intersect1d(f, t)) / max(len(t), 1) for f, t in zip(found, truth, strict=True)]
    return float(np.mean(hits)) if hits else float("nan")
