import numpy as np
import pytest

from rostro.errors import RostroError
from rostro.search.index import HnswIndex, check_vectors, exact_top_k, normalise, recall_at_k


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


def test_hnsw_recall_on_5k_random_vectors(tmp_path):
    g, q = _unit(5000, 4), _unit(300, 5)
    truth, _ = exact_top_k(g, q, 10)
    index = HnswIndex.build(g)
    assert recall_at_k(index.search(q, 10)[0], truth) >= 0.95
    index.write(tmp_path / "i.faiss")
    again = HnswIndex.read(tmp_path / "i.faiss")
    assert len(again) == 5000 and (again.search(q[:5], 3)[0] == index.search(q[:5], 3)[0]).all()


def test_a_damaged_index_file_is_a_clear_error(tmp_path):
    (tmp_path / "i.faiss").write_bytes(b"not an index at all")
    with pytest.raises(RostroError, match="not a readable faiss index"):
        HnswIndex.read(tmp_path / "i.faiss")


def test_vectors_are_checked():
    with pytest.raises(RostroError, match="expected 128-d vectors .*found 64-d"):
        check_vectors(np.zeros((2, 64)), dim=128)
    with pytest.raises(RostroError, match="NaN or infinity"):
        check_vectors(np.full((1, 4), np.nan))
    with pytest.raises(RostroError, match="zero vector"):
        normalise(np.zeros((1, 4)))
