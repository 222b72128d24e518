import json
import os
import subprocess
import sys

import numpy as np
import pytest

from rostro.errors import RostroError
from rostro.search import gallery as G
from rostro.search.gallery import FolderGallery, choose_threshold, new_meta, open_gallery
from tests.search.conftest import faces_frame, people_vectors


@pytest.fixture
def filled(tmp_path, stamp):
    vecs, names = people_vectors(20, 4)
    with open_gallery(tmp_path / "g", write=True, create=new_meta(stamp, 128)) as g:
        g.add(faces_frame(names), vecs)
    return tmp_path / "g", vecs, names


def test_add_search_reopen_and_remove(filled):
    root, vecs, names = filled
    g = open_gallery(root)
    assert len(g) == 80 and g.names().nunique() == 20
    hits = g.search(vecs[5] + 0.001, 4)[0]
    assert [h.name for h in hits] == ["person_001"] * 4 and hits[0].path == "p5.jpg"
    name, sim, cands = g.identify(vecs[5:6], 3)[0]
    assert name == "person_001" and sim > 0.99 and [c[0] for c in cands][0] == "person_001" and len(cands) == 3
    assert len({c[0] for c in cands}) == 3  # one candidate per person
    with open_gallery(root, write=True) as w:
        assert w.remove("person_001") == 4 and w.remove("nobody") == 0
    g = open_gallery(root)
    assert len(g) == 76 and "person_001" not in set(g.names())
    assert sorted(p.name for p in root.glob("vectors-*")) == ["vectors-000002.npy"]  # old segment deleted


def test_unknown_below_the_threshold(filled):
    root, vecs, _ = filled
    stranger = np.random.default_rng(9).standard_normal((1, 128))
    name, sim, cands = open_gallery(root).identify(stranger, 2)[0]
    assert name == "" and sim < 0.5 and len(cands) == 2


def test_one_person_with_many_faces_does_not_crowd_out_the_other_candidates(tmp_path, stamp):
    rng = np.random.default_rng(0)
    centre = rng.standard_normal(128)
    vecs = centre + 0.05 * rng.standard_normal((45, 128))
    names = ["ada"] * 40 + ["bo", "cy", "di", "ed", "fay"]
    vecs[40:] = centre + 0.3 * rng.standard_normal((5, 128))  # the others: a little further from the query
    with open_gallery(tmp_path / "g", write=True, create=new_meta(stamp, 128)) as g:
        g.add(faces_frame(names), vecs)
        _, _, cands = g.identify(centre[None], 5)[0]
    people = [c[0] for c in cands]  # 21 faces fetched first: all ada's
    assert people[0] == "ada" and len(set(people)) == 5 and set(people[1:]) < set(names[40:])
    assert [c[1] for c in cands] == sorted((c[1] for c in cands), reverse=True)
    # a gallery of fewer people than k: more is fetched only until every person is there
    calls = []
    with open_gallery(tmp_path / "few", write=True, create=new_meta(stamp, 128)) as g:
        g.add(faces_frame(names[:40] + ["bo"] * 5, prefix="f"), vecs)
        search = g._search
        g._search = lambda q, k: calls.append(k) or search(q, k)
        assert [c[0] for c in g.identify(centre[None], 5)[0][2]] == ["ada", "bo"]
    assert calls == [21, 84]


def test_threshold_from_the_gallerys_pairs_or_the_default():
    from rostro.faces.embedding import DEFAULT_THRESHOLD

    vecs, names = people_vectors(60, 5, spread=0.05)
    t = choose_threshold(np.array(names, object), G.normalise(vecs), far=1e-3)
    imp = G.normalise(vecs) @ G.normalise(vecs).T
    diff = np.array(names)[:, None] != np.array(names)[None]
    assert t.source == "gallery" and t.n_genuine == 600 and t.n_impostor >= 10_000
    assert (imp[diff] >= t.value).mean() <= 1.5e-3  # measured FAR at the threshold
    few = choose_threshold(np.array(names[:10], object), vecs[:10], far=1e-3)
    assert few.source == "default" and few.value == DEFAULT_THRESHOLD
    with pytest.raises(RostroError, match="between 0 and 1"):
        choose_threshold(np.array(names, object), vecs, far=2)


def test_the_default_threshold_follows_the_stamps_flip(tmp_path):
    """A gallery of dlib's plain vectors (flip off, made before flip-averaging was the default) keeps the threshold
    measured for them; a new one of flip-averaged vectors gets theirs."""
    from rostro.faces.embedding import DEFAULT_THRESHOLD, UNFLIPPED_THRESHOLD
    from rostro.search.gallery import photo_stamp

    assert photo_stamp()["flip"] is True
    vecs, names = people_vectors(5, 2)
    for stamp, value in ((photo_stamp(flip=False), UNFLIPPED_THRESHOLD), (photo_stamp(), DEFAULT_THRESHOLD)):
        assert new_meta(stamp, 128)["threshold"]["value"] == value
        with open_gallery(tmp_path / str(stamp["flip"]), write=True, create=new_meta(stamp, 128)) as g:
            g.add(faces_frame(names), vecs)
            t = g.update_threshold()  # too few pairs for FAR 1e-3: the default, for these vectors
        assert (t.source, t.value) == ("default", value)


def test_second_writer_is_refused_while_the_first_holds_the_lock(filled):
    root, *_ = filled
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; from rostro.search.gallery import "
                               f"open_gallery; g = open_gallery({str(root)!r}, write=True); print('locked', "
                               "flush=True); time.sleep(30)"], stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(RostroError, match=f"another writer holds the gallery \\(pid {holder.pid} since"):
            open_gallery(root, write=True)
        assert len(open_gallery(root)) == 80  # readers are not blocked
    finally:
        holder.kill()
        holder.wait()
    open_gallery(root, write=True).close()  # the lock died with its process


def test_a_killed_writer_leaves_the_gallery_as_before(filled, monkeypatch):
    root, vecs, names = filled
    before = json.loads((root / "meta.json").read_text())
    with open_gallery(root, write=True) as w:
        monkeypatch.setattr(w, "_write_meta", lambda: (_ for _ in ()).throw(KeyboardInterrupt))
        with pytest.raises(KeyboardInterrupt):  # killed after writing its segment, before meta.json
            w.add(faces_frame(names, prefix="new"), vecs)
    assert (root / "vectors-000002.npy").is_file()
    monkeypatch.undo()
    assert json.loads((root / "meta.json").read_text())["segments"] == before["segments"]
    assert len(open_gallery(root)) == 80
    open_gallery(root, write=True).close()  # the next writer removes the orphan
    assert not (root / "vectors-000002.npy").exists()


def test_segments_are_merged(tmp_path, stamp, monkeypatch):
    monkeypatch.setattr(G, "MAX_SEGMENTS", 3)
    vecs, names = people_vectors(5, 2)
    with open_gallery(tmp_path / "g", write=True, create=new_meta(stamp, 128)) as g:
        for i in range(5):
            assert g.add(faces_frame(names, prefix=f"s{i}_"), vecs) == 10
        assert len(g) == 50 and len(g.meta["segments"]) <= 3
    assert len(list((tmp_path / "g").glob("faces-*.parquet"))) <= 3


def test_other_stamp_and_dimension_refused(filled, stamp):
    root, *_ = filled
    g = open_gallery(root)
    fix = r"gallery's options \(--jitter 0: `rostro embed ... --jitter 0`"
    with pytest.raises(RostroError, match="gallery holds vectors made with .*but these were made with .*jitter.: 5.*"
                                          + fix):  # fmt: skip
        g.check_stamp({**stamp, "jitter": 5}, "these")
    with pytest.raises(RostroError, match="embed with the gallery's network, or index into a new gallery"):
        g.check_stamp({**stamp, "network": "run abc"}, "these")
    with pytest.raises(RostroError, match="expected 128-d vectors .*found 64-d"):
        g.search(np.ones((1, 64)), 3)


def test_not_a_gallery_empty_gallery_and_damaged_files(tmp_path, filled, stamp):
    with pytest.raises(RostroError, match="no such gallery; create one with `rostro index"):
        open_gallery(tmp_path / "absent")
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "a.jpg").write_bytes(b"x")
    with pytest.raises(RostroError, match="not a gallery \\(expected meta.json in it, found \\['a.jpg'\\]"):
        open_gallery(tmp_path / "photos")
    with pytest.raises(RostroError, match="found a folder of other files"):
        open_gallery(tmp_path / "photos", write=True, create=new_meta(stamp, 128))
    empty = open_gallery(tmp_path / "empty", write=True, create=new_meta(stamp, 128))
    with pytest.raises(RostroError, match="the gallery is empty; add faces first"):
        empty.search(np.ones((1, 128)), 3)
    root, *_ = filled
    (root / "vectors-000001.npy").write_bytes(b"\x93NUMPY garbage")
    with pytest.raises(RostroError, match="vectors-000001.npy: unreadable .*the gallery is damaged"):
        open_gallery(root).search(np.ones((1, 128)), 3)
    (root / "meta.json").write_text("{not json")
    with pytest.raises(RostroError, match="meta.json: not a readable gallery description"):
        open_gallery(root)


def test_a_file_given_as_gallery_and_files_changed_outside_rostro(tmp_path, filled):
    (tmp_path / "a.parquet").write_bytes(b"PAR1")
    with pytest.raises(RostroError, match="a.parquet: expected a gallery folder .*found a file"):
        open_gallery(tmp_path / "a.parquet")
    root, *_ = filled
    vecs = np.load(root / "vectors-000001.npy")
    vecs[3, 5] = np.nan
    np.save(root / "vectors-000001.npy", vecs)
    with pytest.raises(RostroError, match="vectors-000001.npy: 1 vector\\(s\\) hold NaN .*the gallery is damaged"):
        open_gallery(root).search(np.ones((1, 128)), 3)
    (root / "vectors-000001.npy").unlink()
    with pytest.raises(RostroError, match="vectors-000001.npy: missing; the gallery is damaged"):
        open_gallery(root).search(np.ones((1, 128)), 3)
    meta = json.loads((root / "meta.json").read_text())
    del meta["segments"]
    (root / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(RostroError, match="meta.json: no \\['segments'\\] in the gallery description"):
        open_gallery(root)


def test_large_gallery_goes_through_a_cached_index_rebuilt_when_stale_or_damaged(filled, caplog):
    root, vecs, names = filled
    g = FolderGallery(root, exact_limit=10)
    exact = FolderGallery(root)
    q = vecs[::7] + 0.001
    assert [h[0].name for h in g.search(q, 3)] == [h[0].name for h in exact.search(q, 3)]
    assert (root / "index.faiss").is_file() and len(g.ivf()) == 80
    stamp_time = os.path.getmtime(root / "index.faiss")
    FolderGallery(root, exact_limit=10).search(q, 3)  # read from the cache, not rebuilt
    assert os.path.getmtime(root / "index.faiss") == stamp_time
    with open_gallery(root, write=True) as w:  # an addition makes the cached index stale
        w.add(faces_frame(names, prefix="more"), vecs)
    again = FolderGallery(root, exact_limit=10)
    assert len(again.search(q, 3)[0]) == 3 and len(again.ivf()) == 160
    assert os.path.getmtime(root / "index.faiss") != stamp_time
    (root / "index.faiss").write_bytes(b"torn")
    with caplog.at_level("WARNING"):
        hits = FolderGallery(root, exact_limit=10).search(q, 3)
    assert "not a readable faiss index" in caplog.text and hits[0][0].name == "person_000"
    assert len(FolderGallery(root, exact_limit=10).ivf()) == 160  # the rebuilt index was saved


def test_reranked_matches_name_a_probe_by_its_neighbours():
    """A probe a little nearer a stranger's gallery face by cosine, among 40 photos of its own person: ranked by
    the re-ranked distance it goes to its own person; the similarity reported stays the cosine, and a name is
    given only at or above the threshold."""
    from rostro.search.index import normalise

    rng = np.random.default_rng(0)
    a, b, side = np.eye(16)[0], np.eye(16)[1], np.eye(16)[2]
    gallery = normalise(np.stack([a + 0.35 * side, b]))
    probe = normalise((a + 0.9 * b - 0.2 * side)[None])
    others = normalise(np.concatenate([a + rng.normal(size=(40, 16)) * 0.08, b + rng.normal(size=(40, 16)) * 0.08]))
    cosine = (probe @ gallery.T)[0]
    assert cosine[1] > cosine[0]  # cosine alone names the stranger
    names = np.array(["a", "b"], object)
    name, sim, cands = G.reranked_matches(names, gallery, np.concatenate([probe, others]), 2, 0.6)[0]
    assert (name, [c[0] for c in cands]) == ("a", ["a", "b"])
    assert sim == pytest.approx(cosine[0]) and [c[1] for c in cands] == pytest.approx(list(cosine), abs=1e-6)
    assert G.reranked_matches(names, gallery, np.concatenate([probe, others]), 2, 0.65)[0][0] == ""
    found = G.reranked_matches(names, gallery, np.concatenate([probe, others]), 1, 0.5)[1:]
    assert [f[0] for f in found] == ["a"] * 40 + ["b"] * 40


def test_identify_collection_reranks_only_where_it_can(filled, monkeypatch):
    """Between RERANK_MIN_FACES and RERANK_IDENTIFY_LIMIT faces in all (gallery and queries) it re-ranks: the same
    names here (well-separated people), cosine similarities; outside that range it is plain identify."""
    from rostro.search import cluster

    root, vecs, names = filled
    g = open_gallery(root)
    many = vecs + np.random.default_rng(1).normal(size=vecs.shape) * 0.005
    reranked, plain = g.identify_collection(many, 3), g.identify(many, 3)
    assert [r[0] for r in reranked] == [p[0] for p in plain] == names
    assert [r[1] for r in reranked] == pytest.approx([p[1] for p in plain], abs=1e-5)
    assert [r[2] for r in reranked] != [p[2] for p in plain]  # the runners-up come in another order
    monkeypatch.setattr(G, "RERANK_IDENTIFY_LIMIT", 159)  # 80 gallery faces + 80 queries
    assert g.identify_collection(many, 3) == plain
    monkeypatch.setattr(G, "RERANK_IDENTIFY_LIMIT", 20_000)
    monkeypatch.setattr(cluster, "RERANK_MIN_FACES", 161)
    assert g.identify_collection(many, 3) == plain


def test_identify_collection_refuses_or_falls_back_as_identify_does(tmp_path, stamp):
    """An empty gallery gets identify's clear error however many queries come; a gallery with unnamed faces (from
    a folder of unlabelled photos) is searched face by face, as identify does."""
    queries = people_vectors(20, 4, seed=5)[0]
    with open_gallery(tmp_path / "empty", write=True, create=new_meta(stamp, 128)) as g:
        with pytest.raises(RostroError, match="the gallery is empty"):
            g.identify_collection(queries, 3)
    vecs, names = people_vectors(20, 4)
    names = ["" if i % 10 == 0 else n for i, n in enumerate(names)]
    with open_gallery(tmp_path / "some", write=True, create=new_meta(stamp, 128)) as g:
        g.add(faces_frame(names), vecs)
        assert g.identify_collection(queries, 3) == g.identify(queries, 3)
        # k < 1 (the commands refuse it): identify's answer, as it is: no candidates, no name
        assert [(r[0], r[2]) for r in g.identify_collection(queries, 0)] == [("", [])] * len(queries)


def test_a_reader_sees_another_writers_changes_and_a_gallery_moved_away(filled):
    root, vecs, _ = filled
    reader = open_gallery(root)
    assert reader.identify(vecs[:1], 1)[0][0] == "person_000"
    with open_gallery(root, write=True) as writer:
        writer.remove("person_000")
    reader.refresh()
    assert reader.identify(vecs[:1], 1)[0][0] != "person_000"
    root.rename(root.with_name("moved"))
    with pytest.raises(RostroError, match="meta.json is gone"):
        reader.refresh()
