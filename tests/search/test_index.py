import numpy as np
import pytest

from rostro.errors import RostroError
from rostro.search.index import IvfIndex, check_vectors, exact_top_k, ivf_lists, ivf_nprobe, normalise, recall_at_k
from tests.search.conftest import people_vectors


def _unit(n, seed):
    return normalise(np.random.default_rng(seed).standard_normal((n, 128)).astype(np.float32))


def test_exact_top_k_is_brute_force():
    g, q = _unit(3000, 0), _unit(70, 1)
    rows, sims = exact_top_k(g, q, 10)
    brute = np.argsort(-(q @ g.T), axis=1)[:, :10]
    assert (rows == brute).all()
    assert np.allclose(sims, np.take_along_axis(q @ g.T, brute, axis=1), atol=1e-6)
    assert (np.diff(sims, axis=1) <= 0).all()
    rows, sims = exact_top_k(g[:4], q, 10)  # k above the gallery's size: all of it, best first
    assert rows.shape == (70, 4) and sorted(rows[0]) == [0, 1, 2, 3]


def test_exact_top_k_in_blocks(monkeypatch):
    import rostro.search.index as I

    g, q = _unit(500, 2), _unit(40, 3)
    whole = exact_top_k(g, q, 5)
    monkeypatch.setattr(I, "_BLOCK", 500 * 7)  # 7 queries at a time
    assert (exact_top_k(g, q, 5)[0] == whole[0]).all()


def test_ivf_settings():
    assert ivf_lists(1_000_000) == 4000 and ivf_lists(20_001) == 566
    assert ivf_nprobe(4000) == 253 and ivf_nprobe(566) == 95 and ivf_nprobe(36) == 24 and ivf_nprobe(4) == 4


def test_ivf_recall_on_clustered_faces(tmp_path):
    """People as blobs (12 faces each): a query's 10 nearest are its own person's, whose cell is probed."""
    vecs, names = people_vectors(500, 13, seed=4, spread=0.03)
    vecs = normalise(vecs)
    mine = np.arange(len(vecs)) % 13 == 0  # one face of each person asks, the other 12 are the gallery
    g, q = vecs[~mine], vecs[mine]
    truth, _ = exact_top_k(g, q, 10)
    index = IvfIndex.build(g)
    assert index.nlist == ivf_lists(6000) == 310
    found = index.search(q, 10)[0]
    assert recall_at_k(found, truth) >= 0.95
    assert recall_at_k(index.search(q, 10, nprobe=310)[0], truth) == 1.0  # every cell, re-ranked exactly: exact
    index.write(tmp_path / "i.faiss")
    again = IvfIndex.read(tmp_path / "i.faiss")
    assert len(again) == 6000 and (again.search(q[:5], 3)[0] == index.search(q[:5], 3)[0]).all()


def test_a_damaged_or_foreign_index_file_is_a_clear_error(tmp_path):
    import faiss

    (tmp_path / "i.faiss").write_bytes(b"not an index at all")
    with pytest.raises(RostroError, match="not a readable faiss index"):
        IvfIndex.read(tmp_path / "i.faiss")
    faiss.write_index(faiss.IndexHNSWFlat(8, 4), str(tmp_path / "hnsw.faiss"))  # an older gallery's graph
    with pytest.raises(RostroError, match="expected a faiss IVF index with exact re-ranking .*found IndexHNSWFlat"):
        IvfIndex.read(tmp_path / "hnsw.faiss")


def test_vectors_are_checked():
    with pytest.raises(RostroError, match="expected 128-d vectors .*found 64-d"):
        check_vectors(np.zeros((2, 64)), dim=128)
    with pytest.raises(RostroError, match="NaN or infinity"):
        check_vectors(np.full((1, 4), np.nan))
    with pytest.raises(RostroError, match="zero vector"):
        normalise(np.zeros((1, 4)))
