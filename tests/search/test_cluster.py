import numpy as np
import pytest

from rostro.errors import RostroError
from rostro.search.cluster import (
    ADAPTIVE_RANGE,
    bcubed,
    chinese_whispers,
    cluster_faces,
    default_threshold,
    nearest_distances,
    relabel,
)
from tests.search.conftest import people_vectors


@pytest.mark.parametrize("method", ["whispers", "agglomerative"])
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
    assert default_threshold(far) == pytest.approx(0.55 - 0.035 * np.log10(300))
    pairs = np.repeat(far[:150], 2, axis=0) + rng.normal(size=(300, 128)) * 0.01  # every face has a twin
    assert default_threshold(pairs) == pytest.approx(0.55 + 0.18 - 0.035 * np.log10(300))
    assert default_threshold(np.concatenate([far, far + 50, far + 100, far - 50])) == ADAPTIVE_RANGE[0]
    twins = pairs[:2]  # two faces, each the other's close neighbour: 0.55 + 0.18 - 0.0105, clipped
    assert default_threshold(twins) == ADAPTIVE_RANGE[1]
    assert default_threshold(far, "whispers") == 0.5
    # more strangers, a lower threshold: the default merges less as the collection grows
    assert default_threshold(np.concatenate([pairs, far])) < default_threshold(pairs)
