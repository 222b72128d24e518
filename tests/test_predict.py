import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from rostro.cli import app
from rostro.data import read_celeba
from rostro.errors import RostroError
from rostro.inference.predict import (
    CSV_FIXED,
    AttributePredictor,
    collect_paths,
    predict_table,
    results_frame,
    sample_photo,
)
from tests.conftest import save


@pytest.fixture(scope="module")
def run(tiny_run):
    return tiny_run


@pytest.fixture
def folder(celeba_dir, tmp_path):
    ds = read_celeba(celeba_dir)
    imgs = tmp_path / "imgs"
    for i, p in enumerate(ds.frame["path"][:5]):
        (imgs / f"{i}.jpg").parent.mkdir(exist_ok=True)
        (imgs / f"{i}.jpg").write_bytes(open(p, "rb").read())
    (imgs / "2_corrupt.jpg").write_bytes(b"\xff\xd8\xff garbage")
    (imgs / "3_text.png").write_text("hello")
    return imgs


def test_aligned_batch_keeps_order_and_reports_bad_files(run, folder):
    pred = AttributePredictor(run)
    paths = collect_paths(folder)
    results = pred.predict_paths(paths, aligned=True, batch_size=3, progress=False)
    frame = results_frame(results, pred.labels)
    assert list(frame.columns) == [*CSV_FIXED, "Male", "Smiling"]
    assert frame["path"].tolist() == [str(p) for p in paths]
    bad = frame[frame["path"].str.contains("corrupt|text")]
    assert len(bad) == 2 and (~bad["face_found"]).all() and bad["Male"].isna().all()
    assert bad["error"].str.contains("not a recognised image|corrupt").all()
    good = frame[frame["face_found"]]
    assert len(good) == 5 and good["Male"].between(0, 1).all() and (good["error"] == "").all()
    single = pred.predict_paths([paths[0]], aligned=True, progress=False)[0]
    assert single.faces[0].probabilities["Male"] == pytest.approx(good["Male"].iloc[0], abs=1e-6)


def test_onnx_matches_torch(run, folder):
    crops = np.random.default_rng(0).integers(0, 255, (7, 32, 32, 3), dtype=np.uint8)
    a = AttributePredictor(run).predict_crops(crops)
    b = AttributePredictor(run, runtime="onnx").predict_crops(crops)
    assert a.shape == (7, 2) and np.abs(a - b).max() < 1e-4


def test_the_onnx_export_is_named_by_the_weights_and_goes_to_the_cache_from_a_read_only_run(run, tmp_path, monkeypatch):
    import errno
    import shutil

    import rostro.inference.predict as predict

    fresh = AttributePredictor(run, runtime="onnx")
    assert (run / f"model-{fresh.fingerprint}.onnx").is_file()  # new weights get a new name: never a stale export
    installed = shutil.copytree(run, tmp_path / "installed", ignore=shutil.ignore_patterns("*.onnx"))
    real = predict.export_onnx

    def read_only(model, path, **kw):
        if Path(path).parent == installed:
            raise OSError(errno.EROFS, "Read-only file system", str(path))
        return real(model, path, **kw)

    monkeypatch.setattr(predict, "export_onnx", read_only)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    pred = AttributePredictor(installed, runtime="onnx")
    assert (tmp_path / "cache" / "rostro" / "onnx" / f"model-{pred.fingerprint}.onnx").is_file()
    crops = np.random.default_rng(1).integers(0, 255, (3, 32, 32, 3), dtype=np.uint8)
    assert np.abs(pred.predict_crops(crops) - fresh.predict_crops(crops)).max() < 1e-4


def test_photos_with_and_without_faces(run, tmp_path):
    blank = save(np.full((200, 200, 3), 90, np.uint8), tmp_path / "blank.png")
    results = AttributePredictor(run).predict_paths([sample_photo(), blank], progress=False)
    assert results[0].faces and results[0].faces[0].box is not None and results[0].error == ""
    assert results[1].faces == [] and results[1].error == "no face found"


def test_align_faces_orders_by_size_or_by_centre(run):
    """A large face at the left edge and a smaller one in the middle: ``pick`` decides which comes first."""
    from PIL import Image

    from rostro.data.images import load_image

    img = load_image(sample_photo())
    h, w = img.shape[:2]
    small = np.asarray(Image.fromarray(img).resize((w * 2 // 3, h * 2 // 3)))
    canvas = np.full((h, 2 * w + small.shape[1], 3), 128, np.uint8)
    canvas[:, :w] = img
    left = (canvas.shape[1] - small.shape[1]) // 2
    canvas[: small.shape[0], left : left + small.shape[1]] = small
    pred = AttributePredictor(run)
    faces, crops, vecs = pred.align_faces(canvas)
    assert len(faces) == 2 and faces[0].area > faces[1].area
    assert all(c.shape == (218, 178, 3) for c in crops) and vecs == []  # the tiny run has no fusion
    centred, centred_crops, _ = pred.align_faces(canvas, pick="centre")
    assert [f.box for f in centred] == [f.box for f in faces[::-1]]
    assert np.array_equal(centred_crops[0], crops[1])
    with pytest.raises(ValueError, match="pick must be one of"):
        pred.align_faces(canvas, pick="middle")


def test_cli_predict_and_analyze(run, folder, tmp_path):
    runner = CliRunner()
    out = tmp_path / "p.csv"
    res = runner.invoke(app, ["predict", str(folder), "--model", str(run), "--aligned", "--out", str(out)])
    assert res.exit_code == 0, res.output
    assert "7 images: face found in 5, no face in 0, unreadable 2" in res.output
    assert len(pd.read_csv(out)) == 7
    res = runner.invoke(app, ["analyze", "--model", str(run), "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "a" / "result.json").read_text())
    assert len(data["faces"]) == 1 and set(data["faces"][0]["probabilities"]) == {"Male", "Smiling"}
    assert (tmp_path / "a" / "grace_hopper.png").is_file()
    res = runner.invoke(app, ["predict", str(tmp_path / "nowhere"), "--model", str(run)])
    assert res.exit_code == 2 and "no such file or folder" in res.output


def test_predict_table_resumes_from_its_csv(run, folder, tmp_path, monkeypatch):
    pred = AttributePredictor(run)
    paths = collect_paths(folder)
    out = tmp_path / "p.csv"
    first = predict_table(pred, paths[:4], out, aligned=True, batch_size=2, progress=False)
    assert len(first) == 4 and len(pd.read_csv(out)) == 4
    seen = []
    original = pred._predict_batch

    def counting(chunk, aligned):
        seen.extend(chunk)
        return original(chunk, aligned)

    monkeypatch.setattr(pred, "_predict_batch", counting)
    full = predict_table(pred, paths, out, aligned=True, batch_size=2, progress=False)
    assert seen == [str(p) for p in paths[4:]]
    assert full["path"].tolist() == [str(p) for p in paths]
    direct = results_frame(pred.predict_paths(paths, aligned=True, progress=False), pred.labels)
    assert np.allclose(full["Male"].to_numpy(float), direct["Male"].to_numpy(float), equal_nan=True, atol=1e-6)
    # a kill mid-write leaves a torn last line: it is dropped and that image predicted again
    text = out.read_text()
    out.write_text(text + text.splitlines()[-1][:25])
    seen.clear()
    again = predict_table(pred, paths, out, aligned=True, batch_size=2, progress=False)
    assert seen == [] and len(again) == len(paths) and len(pd.read_csv(out)) == len(paths)
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:-1]) + "\n" + lines[-1][:25])
    again = predict_table(pred, paths, out, aligned=True, batch_size=2, progress=False)
    assert len(seen) == 1 and pd.read_csv(out)["path"].tolist() == [str(p) for p in paths]
    # another model's (or options') file is refused, not mixed
    with pytest.raises(RostroError, match="another model or options"):
        predict_table(pred, paths, out, aligned=False, progress=False)


def test_worker_processes_give_the_same_rows_in_order(run, folder):
    """A folder spread over processes: the same probabilities, errors and order as one process."""
    pred = AttributePredictor(run)
    paths = collect_paths(folder)
    one = results_frame(pred.predict_paths(paths, aligned=True, batch_size=2, progress=False), pred.labels)
    two = results_frame(pred.predict_paths(paths, aligned=True, batch_size=2, progress=False, workers=2), pred.labels)
    assert two["path"].tolist() == [str(p) for p in paths]
    assert two["error"].tolist() == one["error"].tolist()
    assert np.allclose(two[pred.labels].to_numpy(float), one[pred.labels].to_numpy(float), atol=1e-5, equal_nan=True)


def test_shipped_models_are_named_and_paths_pass_through(tmp_path):
    from rostro.inference.predict import SHIPPED_RUN, WEIGHTS, resolve_run

    assert resolve_run(None) == SHIPPED_RUN == resolve_run("default")
    assert resolve_run("v1") == WEIGHTS / "celeba_attr_net" and (resolve_run("v2") / "run.json").is_file()
    fast = resolve_run("fast")  # the small network for bulk aligned crops, shipped int8
    assert (fast / "run.json").is_file() and AttributePredictor("fast").onnx_file.name.endswith(".int8.onnx")
    assert resolve_run(tmp_path) == tmp_path  # a run folder is taken as given


def test_aligned_jpeg_decodes_at_the_size_a_crop_model_needs(run, celeba_dir, tmp_path, monkeypatch):
    import rostro.inference.predict as predict_module
    from rostro.data.images import load_image
    from rostro.data.transforms import resize_square

    pred = AttributePredictor(run)
    size = pred.info.input_size
    img = load_image(read_celeba(celeba_dir).frame["path"][0])
    big = np.repeat(np.repeat(img, 4, axis=0), 4, axis=1)  # several times the input: a draft decode applies
    path = save(big, tmp_path / "big.jpg", quality=95)
    asked = []

    def spy(source, **kw):
        asked.append(kw.get("draft_size"))
        return load_image(source, **kw)

    monkeypatch.setattr(predict_module, "load_image", spy)
    drafted = pred.predict_paths([path], aligned=True, progress=False)[0].faces[0].probabilities
    assert asked == [(size, size)]
    full = pred.predict_crops(resize_square(load_image(path), size)[None])[0]
    assert np.abs(np.array([drafted[n] for n in pred.labels]) - full).max() < 0.05


def test_an_int8_export_is_what_predict_then_runs_and_stays_close_to_float(run, folder, tmp_path):
    import shutil

    from rostro.commands import ExportConfig, export
    from rostro.inference.predict import int8_file

    copy = shutil.copytree(run, tmp_path / "run")
    paths = [p for p in collect_paths(folder) if "corrupt" not in p.name and "text" not in p.name]
    float_pred = AttributePredictor(copy)
    before = results_frame(float_pred.predict_paths(paths, aligned=True, progress=False), float_pred.labels)
    with pytest.raises(RostroError, match="--calibrate"):
        export(ExportConfig(run=str(copy), int8=True))
    listing = tmp_path / "calibration.txt"
    listing.write_text("\n".join(str(p) for p in paths))
    written = export(ExportConfig(run=str(copy), int8=True, calibrate=str(listing))).path
    assert written == int8_file(copy) and written.is_file()
    int8_pred = AttributePredictor(copy)
    assert int8_pred.onnx_file == written and float_pred.onnx_file != written
    after = results_frame(int8_pred.predict_paths(paths, aligned=True, progress=False), int8_pred.labels)
    diff = np.abs(after[int8_pred.labels].to_numpy(float) - before[float_pred.labels].to_numpy(float))
    assert 0 < diff.max() < 0.1  # quantized (not the same file), yet close
    float_table = tmp_path / "float.csv"
    predict_table(float_pred, paths, float_table, aligned=True, progress=False)
    with pytest.raises(RostroError, match="another model"):  # float rows are not resumed with int8 ones
        predict_table(int8_pred, paths, float_table, aligned=True, progress=False)


def test_predict_into_a_csv_keeps_earlier_rows_and_knows_a_path_however_spelled(run, folder, tmp_path, monkeypatch):
    from rostro.commands import PredictConfig, predict

    out = tmp_path / "p.csv"
    paths = collect_paths(folder)
    predict(PredictConfig(target=str(folder), out=str(out), model=str(run), aligned=True, workers=1))
    seen = []
    original = AttributePredictor._predict_batch
    monkeypatch.setattr(AttributePredictor, "_predict_batch", lambda self, chunk, aligned: seen.extend(chunk)
                        or original(self, chunk, aligned))  # fmt: skip
    one = predict(PredictConfig(target=str(paths[2]), out=str(out), model=str(run), aligned=True, workers=1))
    assert one.frame["path"].tolist() == [str(paths[2])] and seen == []
    held = pd.read_csv(out)["path"].tolist()
    assert held[0] == str(paths[2]) and sorted(held) == sorted(str(p) for p in paths)  # nothing lost
    monkeypatch.chdir(folder.parent)
    again = predict(PredictConfig(target=folder.name, out=str(out), model=str(run), aligned=True, workers=1))
    assert seen == [] and len(again.frame) == len(paths) and len(pd.read_csv(out)) == len(paths)
    assert again.frame["path"].tolist() == [str(p) for p in collect_paths(folder.name)]


def test_predict_refuses_no_images_and_a_bad_batch_and_annotates_every_image(run, folder, tmp_path):
    from rostro.commands import PredictConfig, predict

    (tmp_path / "empty").mkdir()
    with pytest.raises(RostroError, match="empty: no images found"):
        predict(PredictConfig(target=str(tmp_path / "empty"), out=str(tmp_path / "e.csv"), model=str(run)))
    for size in (0, -1):
        with pytest.raises(RostroError, match=f"batch_size: expected at least 1 image a batch, found {size}"):
            predict(PredictConfig(target=str(folder), out=str(tmp_path / "b.csv"), model=str(run), batch_size=size))
    assert not (tmp_path / "e.csv").exists() and not (tmp_path / "b.csv").exists()
    twins = tmp_path / "twins"
    for sub in ("s1", "s2"):
        (twins / sub).mkdir(parents=True)
        shutil.copy(sample_photo(), twins / sub / "p.jpg")
    Image.open(sample_photo()).save(twins / "s1" / "p.png")
    res = predict(PredictConfig(target=str(twins), out=str(tmp_path / "t.json"), model=str(run), workers=1,
                                annotate=str(tmp_path / "ann")))  # fmt: skip
    assert len(res.results) == 3 and sorted(p.name for p in (tmp_path / "ann").iterdir()) == [
        "s1_p_jpg.png", "s1_p_png.png", "s2_p_jpg.png"]  # fmt: skip


def test_two_links_to_one_image_are_two_rows(run, folder, tmp_path):
    (tmp_path / "links").mkdir()
    target = collect_paths(folder)[0]
    for name in ("a.jpg", "b.jpg"):
        (tmp_path / "links" / name).symlink_to(target)
    paths = collect_paths(tmp_path / "links")
    frame = predict_table(AttributePredictor(run), paths, tmp_path / "l.csv", aligned=True, progress=False)
    assert frame["path"].tolist() == [str(p) for p in paths] and len(pd.read_csv(tmp_path / "l.csv")) == 2
