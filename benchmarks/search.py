"""Gallery search speed and recall: exact (matrix product) against faiss's HNSW graph, on synthetic unit vectors.

    nice -n 19 python benchmarks/search.py                      # 10k and 100k, both kinds of data
    nice -n 19 python benchmarks/search.py --sizes 1000000 --data uniform

Two kinds of 128-d data: ``uniform`` (random unit vectors: no structure at all, the hardest case
for any approximate search) and ``faces`` (identities: a random centre per person and 5 faces
around it at the within-person spread of dlib's vectors, cosine about 0.93 to the centre; queries
are new faces of gallery people). For each size: build time, exact queries/s, and for each
``efSearch`` the HNSW queries/s and recall@10 against the exact top-10. One table is printed.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from rostro.search.index import HNSW_EF_CONSTRUCTION, HNSW_M, HnswIndex, exact_top_k, normalise, recall_at_k

DIM = 128
PER_PERSON = 5
SPREAD = 0.032  # per-coordinate noise around a person's unit centre: cosine ~0.93 to it


def make_data(kind: str, n: int, n_queries: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "uniform":
        return (normalise(rng.standard_normal((n, DIM), np.float32)),
                normalise(rng.standard_normal((n_queries, DIM), np.float32)))  # fmt: skip
    centres = normalise(rng.standard_normal((n // PER_PERSON + 1, DIM), np.float32))
    person = np.arange(n) // PER_PERSON
    gallery = normalise(centres[person] + SPREAD * rng.standard_normal((n, DIM), np.float32))
    asked = rng.integers(0, len(centres) - 1, n_queries)
    return gallery, normalise(centres[asked] + SPREAD * rng.standard_normal((n_queries, DIM), np.float32))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--data", nargs="+", default=["faces", "uniform"], choices=["faces", "uniform"])
    parser.add_argument("--queries", type=int, default=2000)
    parser.add_argument("--ef", type=int, nargs="+", default=[32, 64, 128, 256])
    parser.add_argument("--m", type=int, default=HNSW_M)
    parser.add_argument("--ef-construction", type=int, default=HNSW_EF_CONSTRUCTION)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    rows = []
    for kind in args.data:
        for n in args.sizes:
            gallery, queries = make_data(kind, n, args.queries)
            start = time.perf_counter()
            truth, _ = exact_top_k(gallery, queries, 10)
            exact_qps = len(queries) / (time.perf_counter() - start)
            start = time.perf_counter()
            index = HnswIndex.build(gallery, m=args.m, ef_construction=args.ef_construction, threads=args.threads)
            build = time.perf_counter() - start
            for ef in args.ef:
                start = time.perf_counter()
                found, _ = index.search(queries, 10, ef_search=ef)
                qps = len(queries) / (time.perf_counter() - start)
                rows.append((kind, n, exact_qps, build, ef, qps, recall_at_k(found, truth)))
            print(f"# done {kind} {n:,}", flush=True)
    print(f"\nHNSW M={args.m}, efConstruction={args.ef_construction}; {args.queries:,} queries of top-10, 128-d")
    print("| data | gallery | exact q/s | HNSW build s | efSearch | HNSW q/s | recall@10 |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for kind, n, exact_qps, build, ef, qps, recall in rows:
        print(f"| {kind} | {n:,} | {exact_qps:,.0f} | {build:.1f} | {ef} | {qps:,.0f} | {recall:.3f} |")


if __name__ == "__main__":
    main()
