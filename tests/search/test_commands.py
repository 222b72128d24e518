"""The commands on embeddings files (no detection) and, once, on a real photo."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from rostro.cli import app
from rostro.commands import (
    ClusterConfig,
    IdentifyConfig,
    IndexConfig,
    SearchConfig,
    cluster,
    identify,
    index,
    search,
)
from rostro.errors import RostroError
from tests.search.conftest import people_vectors, write_embeddings


@pytest.fixture(scope="module")
def embeddings(tmp_path_factory):
    root = tmp_path_factory.mktemp("emb")
    vecs, names = people_vectors(30, 4, seed=1, spread=0.03)
    gallery = write_embeddings(root / "gallery.parquet", vecs[0::2], names[0::2])
    probes = write_embeddings(root / "probes.parquet", vecs[1::2] + 0.0, names[1::2])
    return root, gallery, probes, vecs, names


def test_index_builds_a_large_gallerys_search_index_and_identify_uses_it(embeddings, tmp_path, monkeypatch):
    from rostro.search import gallery as G

    root, gallery, probes, *_ = embeddings
    monkeypatch.setattr(G, "EXACT_LIMIT", 50)  # 60 faces: beyond exact search
    g = tmp_path / "g"
    index(IndexConfig(source=str(gallery), gallery=str(g), progress=False))
    assert (g / "index.faiss").is_file() and json.loads((g / "index.json").read_text())["key"]
    built = (g / "index.faiss").stat().st_mtime_ns
    frame = identify(IdentifyConfig(photos=str(probes), gallery=str(g), out=str(tmp_path / "who.csv"),
                                    progress=False)).frame  # fmt: skip
    best = frame["candidates"].map(lambda c: json.loads(c)[0][0])
    assert (best == frame["path"].str.extract(r"/photos/(person_\d+)_")[0]).all()
    assert (g / "index.faiss").stat().st_mtime_ns == built  # identify read the index the command built


def test_index_parquet_again_adds_nothing_and_remove(embeddings, tmp_path):
    _, gallery, *_ = embeddings
    g = str(tmp_path / "g")
    first = index(IndexConfig(source=str(gallery), gallery=g, progress=False))
    assert (first.added, first.known, first.faces, first.people) == (60, 0, 60, 30)
    assert "default verification threshold" in first.threshold  # 30 genuine pairs: too few impostors for 1e-3
    again = index(IndexConfig(source=str(gallery), gallery=g, progress=False))
    assert (again.added, again.known, again.faces) == (0, 60, 60)
    gone = index(IndexConfig(gallery=g, remove=["person_000", "nobody"]))
    assert gone.removed == {"person_000": 2, "nobody": 0} and gone.faces == 58
    assert any("nobody: no such person" in line for line in gone.lines())
    with pytest.raises(RostroError, match="expected a SOURCE to add, or --remove NAME"):
        index(IndexConfig(gallery=g))


def test_index_keeps_the_gallerys_far_and_refuses_a_bad_one_before_any_work(embeddings, tmp_path, monkeypatch):
    _, gallery, probes, *_ = embeddings
    g = tmp_path / "g"
    index(IndexConfig(source=str(gallery), gallery=str(g), far=0.05, progress=False))
    index(IndexConfig(source=str(probes), gallery=str(g), progress=False))  # no --far: the gallery's 0.05
    assert json.loads((g / "meta.json").read_text())["threshold"]["far"] == 0.05
    import rostro.search.sources as sources

    monkeypatch.setattr(sources, "read_faces", lambda *a, **k: pytest.fail("embedded before --far was checked"))
    for cfg in (
        IndexConfig(source=str(gallery), gallery=str(tmp_path / "new"), far=5, progress=False),
        IdentifyConfig(photos=str(probes), gallery=str(g), out=str(tmp_path / "who.csv"), far=0),
    ):
        with pytest.raises(RostroError, match="far: expected a false-accept rate between 0 and 1"):
            (index if isinstance(cfg, IndexConfig) else identify)(cfg)
    assert not (tmp_path / "new").exists() and not (tmp_path / "who.csv").exists()


def test_index_refuses_vectors_made_otherwise(embeddings, tmp_path):
    root, gallery, _, vecs, names = embeddings
    g = str(tmp_path / "g")
    index(IndexConfig(source=str(gallery), gallery=g, progress=False))
    flipped = write_embeddings(root / "flipped.parquet", vecs[:4], names[:4], flip=True)
    with pytest.raises(RostroError, match="gallery holds vectors made with .*flip.: false.*flip.: true.*"
                                          "`rostro embed ... --no-flip`"):  # fmt: skip
        index(IndexConfig(source=str(flipped), gallery=g, progress=False))
    with pytest.raises(RostroError, match="gallery holds vectors"):
        identify(IdentifyConfig(photos=str(flipped), gallery=g, out=str(tmp_path / "o.csv"), progress=False))


def test_identify_csv(embeddings, tmp_path):
    root, gallery, probes, *_ = embeddings
    g = str(tmp_path / "g")
    index(IndexConfig(source=str(gallery), gallery=g, progress=False))
    out = tmp_path / "who.csv"
    res = identify(IdentifyConfig(photos=str(probes), gallery=g, out=str(out), k=3, threshold=0.7, progress=False))
    frame = pd.read_csv(out, keep_default_na=False)
    assert list(frame.columns) == ["path", "face", "left", "top", "right", "bottom", "name", "similarity",
                                   "candidates", "error"]  # fmt: skip
    assert len(frame) == 60 and (frame["name"] == frame["path"].str.extract(r"/photos/(person_\d+)_")[0]).all()
    cands = json.loads(frame["candidates"][0])
    assert len(cands) == 3 and cands[0][0] == frame["name"][0] and cands[0][1] >= max(cands[1][1], cands[2][1])
    assert "60 faces: 60 identified, 0 unknown" in res.lines()[0]
    strict = identify(IdentifyConfig(photos=str(probes), gallery=g, out=str(out), threshold=0.9999, progress=False))
    assert (strict.frame["name"] == "").all() and strict.frame["candidates"].str.len().gt(0).all()
    # each face alone (--no-rerank): the same people here, well apart; the choice is saved beside the CSV
    alone = identify(IdentifyConfig(photos=str(probes), gallery=g, out=str(out), k=3, threshold=0.7, rerank=False,
                                    progress=False))  # fmt: skip
    assert alone.frame["name"].tolist() == res.frame["name"].tolist()
    alone_cands = alone.frame["candidates"].map(json.loads)
    assert all(c[0][1] >= c[1][1] >= c[2][1] for c in alone_cands)  # each face alone: by cosine
    assert alone_cands.tolist() != res.frame["candidates"].map(json.loads).tolist()  # re-ranking ran
    assert "rerank: false" in out.with_suffix(".config.yaml").read_text()


def test_cluster_parquet_writes_csv_and_page(embeddings, tmp_path):
    root = embeddings[0]
    vecs, names = people_vectors(30, 4, seed=2, spread=0.01)
    file = write_embeddings(root / "all.parquet", vecs * 1.4, names)  # dlib-sized vectors (norm ~1.4)
    res = cluster(ClusterConfig(photos=str(file), out=str(tmp_path / "c"), progress=False))
    frame = pd.read_csv(tmp_path / "c" / "clusters.csv")
    assert len(frame) == 120 and frame["cluster"].nunique() == 30
    assert frame.groupby(np.array(names))["cluster"].nunique().eq(1).all()
    assert frame["image_id"].tolist() == list(names)  # the Parquet's name column is copied
    with pytest.raises(RostroError, match=r"method: expected one of \('whispers'"):
        cluster(ClusterConfig(photos=str(file), out=str(tmp_path / "k"), method="kmeans", progress=False))
    assert not (tmp_path / "k").exists()
    page = (tmp_path / "c" / "index.html").read_text()
    assert "Cluster 0: 4 face(s)" in page and "120 faces in 30 clusters" in res.lines()[0]
    # the threshold adapted to this collection (every face has close neighbours, 120 faces: 0.657, clipped to 0.65;
    # reranked's 0.02 below) is shown and saved
    assert res.method == "reranked" and res.threshold == pytest.approx(0.63)
    assert f"reranked at {res.threshold:.3f}" in res.lines()[0] and f"at {res.threshold:.3f}" in page
    assert json.loads((tmp_path / "c" / "threshold.json").read_text())["threshold"] == res.threshold


def test_cluster_refuses_flip_averaged_vectors_without_a_threshold(embeddings, tmp_path):
    """Its default thresholds are distances between dlib's plain vectors (norm about 1.4), not unit ones."""
    vecs, names = people_vectors(5, 3, seed=3, spread=0.01)
    file = write_embeddings(embeddings[0] / "flip.parquet", vecs / np.linalg.norm(vecs, axis=1, keepdims=True), names,
                            flip=True)  # fmt: skip
    with pytest.raises(RostroError, match="flip-averaged vectors .*`rostro embed ... --no-flip`.*give --threshold"):
        cluster(ClusterConfig(photos=str(file), out=str(tmp_path / "c"), progress=False))
    res = cluster(ClusterConfig(photos=str(file), out=str(tmp_path / "c"), threshold=0.4, progress=False))
    assert res.frame["cluster"].nunique() == 5


def test_cluster_embeds_photos_without_flip(tmp_path, monkeypatch):
    from rostro.inference.predict import sample_photo
    from rostro.search import sources

    calls = []
    real = sources.read_faces
    monkeypatch.setattr(sources, "read_faces", lambda *a, **kw: calls.append(kw) or real(*a, **kw))
    (tmp_path / "photos").mkdir()
    shutil.copy(sample_photo(), tmp_path / "photos" / "a.jpg")
    res = cluster(ClusterConfig(photos=str(tmp_path / "photos"), out=str(tmp_path / "c"), workers=1, progress=False))
    assert calls[0]["flip"] is False and res.frame["cluster"].tolist() == [0]


def test_cli_index_and_identify(embeddings, tmp_path):
    _, gallery, probes, *_ = embeddings
    g, out = str(tmp_path / "g"), str(tmp_path / "o.csv")
    r = CliRunner().invoke(app, ["index", str(gallery), "--gallery", g, "--no-progress"])
    assert r.exit_code == 0, r.output
    assert "60 faces of 30 people" in r.output
    r = CliRunner().invoke(app, ["identify", str(probes), "--gallery", g, "--out", out, "--k", "2", "--no-progress"])
    assert r.exit_code == 0 and "Wrote" in r.output, r.output
    r = CliRunner().invoke(app, ["identify", str(probes), "--gallery", str(tmp_path / "none"), "--out", out])
    assert r.exit_code == 2 and "no such gallery" in r.output


def test_photos_folder_search_and_identify(tmp_path):
    """One real photo, detected and embedded: a gallery of a people folder finds her again."""
    from rostro.inference.predict import sample_photo

    people = tmp_path / "people" / "Grace_Hopper"
    people.mkdir(parents=True)
    shutil.copy(sample_photo(), people / "a.jpg")
    (tmp_path / "people" / "Nobody").mkdir()
    (tmp_path / "people" / "Nobody" / "blank.png").write_bytes(b"\x89PNG\r\n\x1a\n broken")
    g = str(tmp_path / "g")
    res = index(IndexConfig(source=str(tmp_path / "people"), gallery=g, workers=1, progress=False))
    assert (res.added, res.unreadable, res.people) == (1, 1, 1)
    again = index(IndexConfig(source=str(tmp_path / "people"), gallery=g, workers=1, progress=False))
    assert (again.added, again.known, again.unreadable) == (0, 1, 1)  # a failed photo is tried again
    found = search(SearchConfig(photo=str(sample_photo()), gallery=g, k=2))
    assert found.frame["name"].tolist() == ["Grace_Hopper"] and found.frame["similarity"][0] > 0.999
    assert found.lines()[0].startswith("face 0 at (") and "Grace_Hopper" in found.lines()[1]


def test_a_gallery_made_before_flip_was_the_default_keeps_its_own_vectors(tmp_path):
    """A gallery of dlib's plain vectors (``--no-flip``, the old default): search and identify describe photos as it
    holds them, index adds to it the same way unless told otherwise, and ``--flip`` is refused naming the fix."""
    from PIL import Image

    from rostro.faces.embedding import DEFAULT_THRESHOLD, UNFLIPPED_THRESHOLD
    from rostro.inference.predict import sample_photo
    from rostro.search.gallery import open_gallery

    people = tmp_path / "people" / "Grace_Hopper"
    people.mkdir(parents=True)
    shutil.copy(sample_photo(), people / "a.jpg")
    old, new = str(tmp_path / "old"), str(tmp_path / "new")
    index(IndexConfig(source=str(tmp_path / "people"), gallery=old, flip=False, workers=1, progress=False))
    index(IndexConfig(source=str(tmp_path / "people"), gallery=new, workers=1, progress=False))  # the default
    assert (open_gallery(old).stamp["flip"], open_gallery(old).threshold.value) == (False, UNFLIPPED_THRESHOLD)
    assert (open_gallery(new).stamp["flip"], open_gallery(new).threshold.value) == (True, DEFAULT_THRESHOLD)
    for g in (old, new):  # similarity 1: the photo is described exactly as the gallery's face was
        found = search(SearchConfig(photo=str(sample_photo()), gallery=g))
        assert found.frame["name"].tolist() == ["Grace_Hopper"] and found.frame["similarity"][0] > 0.99999
        who = identify(IdentifyConfig(photos=str(people), gallery=g, out=str(tmp_path / "who.csv"), workers=1,
                                      progress=False)).frame  # fmt: skip
        assert who["similarity"].tolist() == [pytest.approx(1, abs=1e-5)]
    Image.open(sample_photo()).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(people / "b.png")
    with pytest.raises(RostroError, match="flip.: false.*flip.: true.*`rostro index ... --no-flip`"):
        index(IndexConfig(source=str(tmp_path / "people"), gallery=old, flip=True, workers=1, progress=False))
    added = index(IndexConfig(source=str(tmp_path / "people"), gallery=old, workers=1, progress=False))
    assert (added.added, added.known, added.faces) == (1, 1, 2) and open_gallery(old).stamp["flip"] is False
