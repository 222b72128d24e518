import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rostro.commands import EvaluateConfig, evaluate
from rostro.data import read_celeba
from rostro.errors import RostroError
from rostro.inference import embed as E
from rostro.inference.predict import AttributePredictor
from rostro.models.fusion import WEIGHTS, Fusion, combine, route_counts, route_name
from rostro.models.heads import EmbeddingClassifier
from rostro.training.fusion import fit_fusion


@pytest.fixture(scope="module")
def small(celeba_dir):
    ds = read_celeba(celeba_dir)
    return ds.with_frame(ds.frame.head(24))


def test_embed_writes_parquet_and_skips_done_images(small, tmp_path, monkeypatch):
    out = tmp_path / "e.parquet"
    first = E.embed_dataset(small.with_frame(small.frame.head(10)), out, aligned=True, workers=1, progress=False)
    assert len(first) == 10 and first["face_found"].all()
    calls = []
    real = E._one
    monkeypatch.setattr(E, "_one", lambda p, options: calls.append(p) or real(p, options))
    frame = E.embed_dataset(small, out, aligned=True, workers=1, progress=False)
    assert len(calls) == 14 and frame["path"].tolist() == small.frame["path"].tolist()
    assert {"identity", "Male", "split", "embedding"} <= set(frame.columns)
    X, mask = E.embedding_matrix(frame)
    assert X.shape == (24, 128) and mask.all()
    assert np.allclose(np.linalg.norm(X, axis=1), np.linalg.norm(X, axis=1).mean(), rtol=0.3)
    assert pd.read_parquet(out)["path"].is_unique


def test_resuming_with_other_options_or_an_unstamped_file_is_refused(small, tmp_path):
    import pyarrow.parquet as pq

    from rostro.errors import RostroError

    out = tmp_path / "e.parquet"
    E.embed_dataset(small.with_frame(small.frame.head(4)), out, aligned=True, workers=1, progress=False)
    stamp = json.loads(pq.read_schema(out).metadata[E.SIGNATURE_KEY])
    assert stamp["aligned"] is True and stamp["flip"] is True and stamp["detector"] is None
    before = out.read_bytes()
    with pytest.raises(RostroError, match="made with .*flip.: true.*not .*flip.: false.*delete it.*options that "
                                          "made it: --flip$"):  # fmt: skip
        E.embed_dataset(small, out, aligned=True, flip=False, workers=1, progress=False)
    assert out.read_bytes() == before  # the refused run wrote nothing
    pd.read_parquet(out).to_parquet(out, index=False)  # the same rows without rostro's stamp
    with pytest.raises(RostroError, match="from before rostro recorded them"):
        E.embed_dataset(small, out, aligned=True, workers=1, progress=False)


def test_vectors_are_flip_averaged_by_default_and_plain_with_no_flip(small, tmp_path):
    """A synthetic face's default vector is the unit mean of its unit vector and its mirror image's; ``--no-flip``
    keeps dlib's own descriptor, and each file's stamp says which."""
    import pyarrow.parquet as pq
    from typer.testing import CliRunner

    import rostro
    from rostro.cli import app
    from rostro.data.images import load_image
    from rostro.faces.embedding import aligned_chips
    from rostro.faces.network import face_network

    head = small.with_frame(small.frame.head(2))
    default = E.embedding_matrix(rostro.embed_dataset(head, tmp_path / "d.parquet", aligned=True, workers=1,
                                                      progress=False))[0]  # fmt: skip
    chips = aligned_chips([load_image(p) for p in head.frame["path"]])
    face, mirror = face_network()(chips), face_network()(np.ascontiguousarray(chips[:, :, ::-1]))
    mean = face / np.linalg.norm(face, axis=1, keepdims=True) + mirror / np.linalg.norm(mirror, axis=1, keepdims=True)
    assert np.allclose(default, mean / np.linalg.norm(mean, axis=1, keepdims=True), atol=1e-5)
    plain = E.embed_dataset(head, tmp_path / "p.parquet", aligned=True, flip=False, workers=1, progress=False)
    assert np.allclose(E.embedding_matrix(plain)[0], face, atol=1e-5)

    folder = tmp_path / "photos"
    folder.mkdir()
    for p in head.frame["path"]:
        shutil.copy(p, folder)
    for flags, flip in (([], True), (["--no-flip"], False)):
        out = tmp_path / f"cli{flip}.parquet"
        res = CliRunner().invoke(app, ["embed", str(folder), "--aligned", "--workers", "1", "--out", str(out), *flags])
        assert res.exit_code == 0, res.output
        assert json.loads(pq.read_schema(out).metadata[E.SIGNATURE_KEY])["flip"] is flip
        vecs = np.stack(pd.read_parquet(out).sort_values("path")["embedding"].map(np.asarray))
        assert np.allclose(vecs, default if flip else face, atol=1e-5)


def test_features_of_a_trained_run(small, tiny_run, tmp_path):
    frame = E.embed_dataset(small, tmp_path / "f.parquet", aligned=True, run=tiny_run, workers=1, progress=False)
    X, mask = E.embedding_matrix(frame)
    assert X.shape == (24, 128) and mask.all() and (frame["found_by"] == "aligned").all()


def test_centre_fallback_scores_faces_the_detector_misses(small, tmp_path):
    frame = small.frame.head(2)  # tiny synthetic faces: dlib's detectors find none
    plain = E.embed_dataset(small.with_frame(frame), tmp_path / "a.parquet", workers=1, progress=False)
    assert not plain["face_found"].any() and (plain["error"] == "no face found").all()
    centre = E.embed_dataset(small.with_frame(frame), tmp_path / "b.parquet", workers=1, centre_fallback=True,
                             progress=False)  # fmt: skip
    assert centre["face_found"].all() and (centre["found_by"] == "centre").all()


def test_unreadable_and_faceless_images_are_rows(small, tmp_path):
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"nope")
    frame = small.frame.head(2).copy()
    frame.loc[1, "path"] = str(bad)
    out = E.embed_dataset(small.with_frame(frame), tmp_path / "x.parquet", workers=1, progress=False)
    assert out.loc[1, "face_found"] == False and "not a recognised image" in out.loc[1, "error"]  # noqa: E712
    assert out.loc[1, "embedding"] is None


def test_combine_mixes_logits_by_weight():
    p = np.array([[0.9, 0.2, 0.5, 0.8]])
    e = np.array([[0.1, 0.8, 0.5, 0.2]])
    out = combine(p, e, [0.0, 1.0, 0.5, 0.25])
    # logit(0.8) = log 4; a quarter of the way to logit(0.2) = -log 4 leaves log 4 / 2, i.e. 2/3
    assert np.allclose(out, [[0.9, 0.8, 0.5, 2 / 3]])
    assert np.allclose(combine(p, e, [0.5] * 4)[0, 0], 0.5)
    assert np.allclose(combine(p, None, [0.0] * 4), p)
    with pytest.raises(RostroError, match="needs face embeddings"):
        combine(p, None, [0.0, 0.1, 0.0, 0.0])
    assert route_counts([0.0, 1.0, 0.5, 0.25]) == (1, 1, 2)
    assert [route_name(w) for w in (0.0, 1.0, 0.3)] == ["cnn", "embedding", "mix 0.3"]


def test_fusion_files_with_routes_still_load(tmp_path):
    head = EmbeddingClassifier().fit(np.random.default_rng(0).normal(size=(20, 4)), np.arange(20) % 2)
    data = {"routes": ["cnn", "embedding", "mean"], "thresholds": [0.5] * 3, "validation_accuracy": {},
            "embedding_head": head.to_dict()}  # fmt: skip
    (tmp_path / "fusion.json").write_text(json.dumps(data))
    fusion = Fusion.load(tmp_path)
    assert fusion.weights == [0.0, 1.0, 0.5] and fusion.needs_embedding


def test_fusion_is_fitted_on_train_chosen_on_validation_and_used(celeba_dir, tiny_run, tmp_path):
    run = Path(shutil.copytree(tiny_run, tmp_path / "run"))
    flipped = tmp_path / "flipped.parquet"
    E.embed_dataset(read_celeba(celeba_dir), flipped, aligned=True, workers=2, progress=False)
    with pytest.raises(RostroError, match=r"made with --flip; fusion needs dlib's plain vectors.*--no-flip"):
        fit_fusion(run, flipped)  # prediction scores each face's plain vector: heads must learn on those
    emb = tmp_path / "emb.parquet"
    E.embed_dataset(read_celeba(celeba_dir), emb, aligned=True, flip=False, workers=2, progress=False)
    fusion = fit_fusion(run, emb)
    assert set(fusion.weights) <= set(WEIGHTS) and len(fusion.thresholds) == 2
    saved = json.loads((run / "fusion.json").read_text())
    assert saved["weights"] == fusion.weights
    scores = saved["validation_accuracy"]["Smiling"]  # Male has one class in this tiny validation split
    assert set(scores) == {"cnn", "embedding", "fused"} and scores["fused"] >= max(scores["cnn"], scores["embedding"])
    loaded = Fusion.load(run)
    X = np.random.default_rng(0).normal(size=(3, 128))
    assert np.allclose(loaded.head.predict_proba(X), fusion.head.predict_proba(X))
    assert isinstance(loaded.head, EmbeddingClassifier)
    with pytest.raises(RostroError, match="a fused run's evaluation needs dlib's plain vectors"):
        evaluate(EvaluateConfig(run=str(run), embeddings=str(flipped), progress=False))
    res = evaluate(EvaluateConfig(run=str(run), embeddings=str(emb), progress=False)).metrics
    assert res.thresholds == dict(zip(["Male", "Smiling"], fusion.thresholds, strict=True))
    pred = AttributePredictor(run)
    assert pred.fusion is not None and list(pred.thresholds) == fusion.thresholds


@pytest.mark.parametrize("layout", ["flat", "one_subfolder"])
def test_cli_embeds_any_folder_of_photos_without_labels(celeba_dir, tmp_path, layout):
    """As face_recognition's command line does: a plain folder, or one with a single subfolder."""
    from typer.testing import CliRunner

    from rostro.cli import app

    sources = sorted((celeba_dir / "img_align_celeba").glob("*.jpg"))[:5]
    root = tmp_path / "photos"
    folder = root if layout == "flat" else root / "holiday"
    folder.mkdir(parents=True)
    for p in sources:
        shutil.copy(p, folder / p.name)
    out = tmp_path / "e.parquet"
    res = CliRunner().invoke(app, ["embed", str(root), "--aligned", "--workers", "1", "--out", str(out)])
    assert res.exit_code == 0, res.output
    frame = pd.read_parquet(out)
    assert sorted(Path(p).name for p in frame["path"]) == [p.name for p in sources]
    assert frame["face_found"].all() and {len(v) for v in frame["embedding"]} == {128}


def test_an_unknown_face_network_backend_is_refused_before_any_work(small, tmp_path):
    out = tmp_path / "e.parquet"
    with pytest.raises(ValueError, match=r"backend must be one of \('onnx', 'torch', 'dlib'\), got 'tflite'"):
        E.embed_dataset(small, out, aligned=True, workers=1, backend="tflite", progress=False)
    assert not out.exists()


def test_the_dlib_backend_gives_the_default_backends_vectors(small, tmp_path):
    """dlib's own path, kept for checking, agrees with the ONNX network on the same images."""
    head = small.with_frame(small.frame.head(3))
    ours = E.embed_dataset(head, tmp_path / "a.parquet", aligned=True, workers=1, progress=False)
    theirs = E.embed_dataset(head, tmp_path / "b.parquet", aligned=True, workers=1, backend="dlib", progress=False)
    assert np.abs(E.embedding_matrix(ours)[0] - E.embedding_matrix(theirs)[0]).max() < 1e-5
