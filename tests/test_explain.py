import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image
from typer.testing import CliRunner

from rostro.cli import app
from rostro.data.images import load_image
from rostro.inference.explain import Explainer, candidate_layers, gradcam, to_image
from rostro.inference.predict import sample_photo
from rostro.models import create_model


def test_the_chip_warp_reproduces_dlibs_chip():
    from rostro.faces.embedding import find_faces
    from rostro.faces.network import CHIP_SIZE, chip_to_image, face_chips

    img = load_image(sample_photo())
    face = find_faces(img, landmarks68=False)[0]
    m = chip_to_image(face.shape)
    mine = Image.fromarray(img).transform((CHIP_SIZE, CHIP_SIZE), Image.AFFINE, data=tuple(m[:2].ravel()),
                                          resample=Image.BILINEAR)  # fmt: skip
    diff = np.abs(np.asarray(mine, int) - face_chips(img, [face.shape])[0].astype(int))
    assert diff.mean() < 0.5


@pytest.mark.parametrize("name,size", [("small_cnn", 32), ("attr_net", 48), ("dlib_resnet", 150)])
def test_every_registered_network_gives_one_non_negative_map_per_output(name, size):
    kw = {"pretrained": False, "hidden": 16} if name == "dlib_resnet" else {}
    model = create_model(name, num_outputs=3, input_size=size, **kw)
    images = np.random.default_rng(0).integers(0, 255, (2, size, size, 3), dtype=np.uint8)
    maps = gradcam(model, images, [0, 2], mean=0.5, std=0.5)
    assert maps.shape == (2, 2, size, size) and maps.dtype == np.float32 and (maps >= 0).all()
    assert candidate_layers(model, size)


def test_a_map_lands_on_the_photo_and_is_zero_outside_the_input():
    cam = np.ones((10, 10), np.float32)
    to_photo = np.array([[2.0, 0, 30], [0, 2.0, 40], [0, 0, 1]])  # the input is a 20 x 20 patch at (30, 40)
    on_photo = to_image(cam, to_photo, (100, 80, 3))
    assert on_photo.shape == (100, 80) and on_photo.dtype == np.float32
    assert on_photo[45:55, 35:45].min() > 0.9 and on_photo[:35].max() == 0 and on_photo[:, 55:].max() == 0


@pytest.fixture(scope="module")
def glasses_run(tmp_path_factory):
    """attr_net taught to find planted glasses: synthetic faces differ only by the glasses drawn at the eyes."""
    from rostro.commands import TrainConfig, train
    from rostro.data.synthetic import write_folders

    root = tmp_path_factory.mktemp("plant")
    data = write_folders(root / "data", 800, size=(89, 109), seed=5)
    run = train(TrainConfig(data=str(data), out=str(root / "run"), model="attr_net", input_size=64, epochs=12,
                            progress=False, cache_dir=str(root / "cache"))).run_dir  # fmt: skip
    return run, data


def test_on_planted_glasses_the_maps_mass_lies_on_the_glasses(glasses_run):
    run, data = glasses_run
    files = sorted((data / "test" / "eyeglasses").glob("*.jpg"))
    images = [load_image(f) for f in files]
    faces = Explainer(run).explain(images, ["eyeglasses"], aligned=True)
    share = []
    for face in faces:
        m = face.on_photo("eyeglasses")
        h, w = m.shape
        share.append(m[int(0.40 * h) : int(0.62 * h), int(0.18 * w) : int(0.82 * w)].sum() / m.sum())
    band = 0.22 * 0.64  # the band's share of the crop
    assert len(share) >= 20 and np.mean(share) > 2.5 * band


def test_explain_writes_maps_and_counts_bad_images_and_faces_not_found(tmp_path):
    folder = tmp_path / "photos"
    folder.mkdir()
    shutil.copy(sample_photo(), folder / "hopper.jpg")
    Image.fromarray(np.full((60, 60, 3), 128, np.uint8)).save(folder / "blank.png")
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not really")
    res = CliRunner().invoke(app, ["explain", str(folder), "--attr", "Eyeglasses", "--attr", "Male", "-o",
                                   str(tmp_path / "maps")])  # fmt: skip
    assert res.exit_code == 0, res.output
    assert "3 images: face found in 1, no face in 1, unreadable 1." in res.output
    saliency = np.load(tmp_path / "maps" / "hopper_Eyeglasses.npy")
    img = load_image(folder / "hopper.jpg")
    assert saliency.shape == img.shape[:2] and saliency.dtype == np.float32 and (saliency >= 0).all()
    assert saliency.max() > 0 and saliency[:, :40].max() == 0  # the photo's left edge is far from the face
    assert (tmp_path / "maps" / "hopper_Male.png").is_file()
    table = pd.read_csv(tmp_path / "maps" / "explain.csv").set_index("path")
    assert table.loc[str(folder / "blank.png"), "error"] == "no face found"
    res = CliRunner().invoke(app, ["explain", str(folder), "--attr", "Eyeglass"])
    assert res.exit_code == 2 and "Did you mean 'Eyeglasses'" in res.output


def test_analyze_explain_adds_the_maps_of_the_attributes_called_positive(tmp_path):
    res = CliRunner().invoke(app, ["analyze", "--explain", "-o", str(tmp_path)])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "grace_hopper_Eyeglasses.png").is_file() and (tmp_path / "grace_hopper_Eyeglasses.npy").is_file()
    assert not (tmp_path / "grace_hopper_Smiling.png").exists()  # called negative: no map


def test_the_evaluation_report_shows_mean_maps_over_right_and_wrong_validation_faces(tiny_run, tmp_path):
    from rostro.commands import EvaluateConfig, evaluate
    from rostro.commands.evaluate import _attention, _evaluate_single
    from rostro.runs import load_run

    with pytest.raises(ValueError, match="explain_faces counts validation faces"):
        EvaluateConfig(run=str(tiny_run), explain_faces=-1)
    cfg = EvaluateConfig(run=str(tiny_run), out=str(tmp_path / "ev"), progress=False, explain_faces=5)
    html = evaluate(cfg).html
    assert (tmp_path / "ev" / "attention.png").is_file() and "Where the model looks" in html.read_text()
    model, info = load_run(tiny_run)
    _, (images, truth) = _evaluate_single(cfg, model, info)
    att = _attention(cfg, model, info, images, truth)
    assert len(images) == 5 and (att["counts"].sum(axis=1) == 5).all()
    assert att["correct"].shape == (2, info.input_size, info.input_size)
    for k in range(2):  # a mean of maps each scaled to its maximum
        for maps, n in ((att["correct"][k], att["counts"][k, 0]), (att["wrong"][k], att["counts"][k, 1])):
            assert np.isnan(maps).all() if n == 0 else 0 <= np.nanmax(maps) <= 1


def test_a_fused_run_is_explained_from_its_network_alone(tmp_path):
    from rostro.inference.predict import AttributePredictor

    fused = AttributePredictor(Path(__file__).resolve().parents[1] / "rostro" / "weights" / "celeba_attr_net")
    assert fused.fusion is not None and fused.fusion.needs_embedding
    face = Explainer(predictor=fused).explain([load_image(sample_photo())], ["Eyeglasses"])[0]
    assert face.on_photo("Eyeglasses").max() > 0 and 0 <= face.probabilities["Eyeglasses"] <= 1
