import numpy as np
import pytest

from rostro.errors import RostroError
from rostro.search.cluster import (
    ADAPTIVE_RANGE,
    RERANK_MIN_FACES,
    RERANK_SHIFT,
    bcubed,
    chinese_whispers,
    cluster_faces,
    default_threshold,
    nearest_distances,
    nearest_neighbours,
    reciprocal_encoding,
    relabel,
    reranked_distances,
)
from tests.search.conftest import people_vectors


@pytest.mark.parametrize("method", ["whispers", "agglomerative", "reranked"])
def test_well_separated_people_are_recovered(method):
    vecs, names = people_vectors(12, 6, seed=3, spread=0.02)  # within a person ~0.3 apart, people ~1.4
    order = np.random.default_rng(0).permutation(len(names))
    labels = cluster_faces(vecs[order], method)
    assert bcubed(np.array(names)[order], labels) == (1.0, 1.0, 1.0)
    assert labels.max() == 11 and (np.bincount(labels) == 6).all()


def test_whispers_joins_only_faces_closer_than_the_threshold():
    pts = np.array([[0, 0], [0.3, 0], [0.15, 0.2], [5, 5]], float)
    assert chinese_whispers(pts, 0.35).tolist() == [0, 0, 0, 1]
    assert chinese_whispers(pts, 0.1).tolist() == [0, 1, 2, 3]


def test_bcubed_by_hand():
    p, r, f = bcubed(np.array(["a", "a", "b", "b"]), np.array([0, 0, 0, 1]))
    assert p == pytest.approx((2 / 3 + 2 / 3 + 1 / 3 + 1) / 4) and r == pytest.approx((1 + 1 + 0.5 + 0.5) / 4)
    assert f == pytest.approx(2 * p * r / (p + r))


def test_relabel_and_bad_input():
    assert relabel(np.array([7, 3, 3, 9, 3])).tolist() == [1, 0, 0, 2, 0]
    with pytest.raises(RostroError, match="method: expected one of"):
        cluster_faces(np.ones((3, 4)), "kmeans")
    with pytest.raises(RostroError, match="at least one face"):
        cluster_faces(np.ones((0, 4)))


def test_nearest_distances_by_hand():
    pts = np.array([[0, 0], [0.3, 0], [0, 0.4], [5, 5]], float)
    assert nearest_distances(pts) == pytest.approx([0.3, 0.3, 0.4, np.hypot(5, 4.6)])
    assert nearest_distances(pts[:1]).tolist() == [np.inf]


def test_agglomerative_threshold_follows_the_collection():
    """0.55 + 0.18 * (share of faces with a neighbour closer than 0.5) - 0.035 * log10(faces), clipped."""
    rng = np.random.default_rng(0)
    far = rng.normal(size=(300, 128)) * 3  # 300 strangers: no close neighbour
    assert default_threshold(far, "agglomerative") == pytest.approx(0.55 - 0.035 * np.log10(300))
    pairs = np.repeat(far[:150], 2, axis=0) + rng.normal(size=(300, 128)) * 0.01  # every face has a twin
    assert default_threshold(pairs, "agglomerative") == pytest.approx(0.55 + 0.18 - 0.035 * np.log10(300))
    assert default_threshold(np.concatenate([far, far + 50, far + 100, far - 50]), "agglomerative") == ADAPTIVE_RANGE[0]
    twins = pairs[:2]  # two faces, each the other's close neighbour: 0.55 + 0.18 - 0.0105, clipped
    assert default_threshold(twins, "agglomerative") == ADAPTIVE_RANGE[1]
    assert default_threshold(far, "whispers") == 0.5
    assert default_threshold(far, "reranked") == pytest.approx(default_threshold(far, "agglomerative") + RERANK_SHIFT)
    # more strangers, a lower threshold: the default merges less as the collection grows
    assert default_threshold(np.concatenate([pairs, far]), "agglomerative") < default_threshold(pairs, "agglomerative")


def _two_trios() -> np.ndarray:
    """Two people, three faces each, 0.1-0.2 apart within a person and 10 apart between them."""
    trio = np.array([[0, 0], [0.1, 0], [0, 0.2]], float)
    return np.concatenate([trio, trio + 10])


def test_nearest_neighbours_by_hand():
    near = nearest_neighbours(_two_trios(), 3)
    assert near.tolist() == [[0, 1, 2], [1, 0, 2], [2, 0, 1], [3, 4, 5], [4, 3, 5], [5, 3, 4]]
    assert nearest_neighbours(_two_trios()[:2], 5).shape == (2, 2)


def test_reciprocal_encoding_keeps_to_each_person():
    """With k = 2 every face's reciprocal set is its own trio; weights exp(-distance), each row summing to 1."""
    v = reciprocal_encoding(_two_trios(), 2, 1).toarray()
    assert v.sum(axis=1) == pytest.approx(np.ones(6))
    assert (v[:3, 3:] == 0).all() and (v[3:, :3] == 0).all() and (v[:3, :3] > 0).all()
    w = np.exp(-np.array([0, 0.1, 0.2]))
    assert v[0, :3] == pytest.approx(w / w.sum())


def test_reranked_distances_mix_euclidean_and_jaccard():
    """weight x Euclidean + (1 - weight) x Jaccard distance: faces that share no neighbour get the whole (1 -
    weight); a face's own trio shares most neighbours, so its distances fall below the Euclidean mix."""
    from scipy.spatial.distance import pdist, squareform

    x = _two_trios()
    d = squareform(reranked_distances(x, k=2, expand=1, weight=0.9))
    e = squareform(pdist(x))
    assert d[0, 3] == pytest.approx(0.9 * e[0, 3] + 0.1) and d[2, 5] == pytest.approx(0.9 * e[2, 5] + 0.1)
    assert (d[:3, :3][~np.eye(3, dtype=bool)] < 0.9 * e[:3, :3][~np.eye(3, dtype=bool)] + 0.1).all()
    v = reciprocal_encoding(x, 2, 1).toarray()
    shared = np.minimum(v[0], v[1]).sum()
    assert d[0, 1] == pytest.approx(0.9 * 0.1 + 0.1 * (1 - shared / (2 - shared)))
    assert reranked_distances(x[:2]).shape == (1,)


def test_reranking_parts_people_who_share_no_neighbours():
    """Two people 0.58 apart, each face's 15 nearest all of its own person: average linkage on Euclidean distance
    joins them at 0.6; the reranked distance (0.9 x 0.58 + 0.1 x a Jaccard distance of 1) keeps them apart."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 8)) * 0.02
    x = np.concatenate([a, a[::-1] + np.eye(8)[0] * 0.58])
    truth = np.repeat([0, 1], 40)
    assert bcubed(truth, cluster_faces(x, "agglomerative", 0.6))[0] == 0.5
    assert bcubed(truth, cluster_faces(x, "reranked", 0.6)) == (1.0, 1.0, 1.0)


def test_few_faces_are_clustered_as_agglomerative():
    """Below RERANK_MIN_FACES every face is in every other's neighbourhood, strangers included: reranked falls
    back to Euclidean distances at agglomerative's threshold, so ten strangers 0.53 apart stay ten people."""
    strangers = np.eye(10) * 0.53 / np.sqrt(2)
    assert len(strangers) < RERANK_MIN_FACES
    assert cluster_faces(strangers, "reranked").tolist() == list(range(10))
    assert default_threshold(strangers, "reranked") == default_threshold(strangers, "agglomerative")


def test_merges_stop_below_the_threshold():
    """Two faces exactly the threshold apart stay apart (merges happen below it), as scikit-learn's did."""
    pts = np.array([[0.0], [0.5]])
    assert cluster_faces(pts, "agglomerative", 0.5).tolist() == [0, 1]
    assert cluster_faces(pts, "agglomerative", 0.5001).tolist() == [0, 0]


def test_nearest_neighbours_put_the_face_first_among_duplicates():
    x = np.array([[1.0, 1.0], [1.0, 1.0], [1.0, 1.0], [3.0, 3.0]])
    assert nearest_neighbours(x, 1).ravel().tolist() == [0, 1, 2, 3]


def _reference_distances(x: np.ndarray, k: int, expand: int, weight: float) -> np.ndarray:
    """Zhong et al.'s re-ranking written out densely, step by step, as the paper states it (``k // 2`` for the
    widening sets, as the package uses)."""
    n = len(x)
    d = np.sqrt(((x[:, None] - x[None]) ** 2).sum(-1))
    order = np.argsort(d, axis=1, kind="stable")

    def reciprocal(i: int, kk: int) -> list[int]:
        return [j for j in order[i, : kk + 1] if i in order[j, : kk + 1]]

    v = np.zeros((n, n))
    for i in range(n):
        mine = set(reciprocal(i, k))
        members = set(mine)
        for j in mine:
            theirs = reciprocal(j, k // 2)
            if len(mine.intersection(theirs)) > 2 / 3 * len(theirs):
                members.update(theirs)
        m = sorted(members)
        v[i, m] = np.exp(-d[i, m]) / np.exp(-d[i, m]).sum()
    v = np.stack([v[order[i, :expand]].mean(axis=0) for i in range(n)])
    jaccard = np.array([[1 - np.minimum(a, b).sum() / np.maximum(a, b).sum() for b in v] for a in v])
    return weight * d + (1 - weight) * jaccard


def test_reranked_distances_match_the_papers_steps():
    from scipy.spatial.distance import squareform

    x = np.random.default_rng(4).normal(size=(40, 5))
    ours = squareform(reranked_distances(x, k=6, expand=3, weight=0.7))
    reference = _reference_distances(x, 6, 3, 0.7)
    np.fill_diagonal(reference, 0)
    assert ours == pytest.approx(reference, abs=1e-12)
    assert not np.allclose(ours, squareform(reranked_distances(x, k=6, expand=1, weight=0.7)))  # expansion counts


@pytest.mark.parametrize("method", ["agglomerative", "reranked"])
def test_too_many_faces_for_every_pairwise_distance_is_refused(monkeypatch, method):
    from rostro.search import cluster

    monkeypatch.setattr(cluster, "AGGLOMERATIVE_LIMIT", 10)
    with pytest.raises(RostroError, match=f"{method} clustering holds every pairwise distance: expected at most 10 "
                                          f"faces, found 11; use --method whispers"):  # fmt: skip
        cluster_faces(np.random.default_rng(0).normal(size=(11, 4)), method)
