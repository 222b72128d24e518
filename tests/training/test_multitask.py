"""Fine-tuning the face network on several sources at once, and predicting with the run."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pandas as pd
import pytest
import torch

from rostro.data.images import load_image
from rostro.data.synthetic import write_utkface
from rostro.faces.embedding import aligned_chips
from rostro.inference.predict import AttributePredictor, predict_table
from rostro.training.multitask import MultiTaskConfig, multitask_loss, multitask_table, train_multitask


def test_the_loss_counts_only_known_cells_and_ages():
    out = torch.zeros(2, 3)  # two labels and age; output 0 is age 30
    target = torch.tensor([[1.0, float("nan")], [float("nan"), float("nan")]])
    age = torch.tensor([float("nan"), 50.0])
    loss = multitask_loss(out, target, age, 2, age_weight=1.0)
    assert float(loss) == pytest.approx(np.log(2) + 2.0)  # one BCE cell at p=0.5; |0 - (50-30)/10|
    assert float(multitask_loss(out, target, torch.full((2,), float("nan")), 2, 1.0)) == pytest.approx(np.log(2))


@pytest.fixture(scope="module")
def multitask_run(celeba_dir, tmp_path_factory):
    root = tmp_path_factory.mktemp("mt")
    utk = write_utkface(root / "utk", 24, seed=2)
    cfg = MultiTaskConfig(sources=[{"data": str(celeba_dir), "labels": ["Male", "Smiling"]},
                                   {"data": str(utk), "format": "utkface", "chips": "centre"}],
                          out=str(root / "run"), epochs=1, batch_size=8, limit=12, progress=False,
                          cache_dir=str(root / "cache"), hidden=16)  # fmt: skip
    return train_multitask(cfg)


def test_a_run_predicts_attributes_and_age_from_chips(multitask_run, celeba_dir, tmp_path):
    info = json.loads((multitask_run / "run.json").read_text())
    assert info["input"] == "chip" and info["labels"] == ["Male", "Smiling"] and "age" in info["regression"]
    assert {"mean_accuracy", "age_mae"} <= set(info["validation"])
    assert (multitask_run / "calibration.json").is_file() and (multitask_run / "history.csv").is_file()
    pred = AttributePredictor(multitask_run)
    assert pred.values == ["age"] and pred.fusion is None and pred.calibration is not None
    paths = sorted((celeba_dir / "img_align_celeba").glob("*.jpg"))[:6]
    frame = predict_table(pred, paths, tmp_path / "p.csv", aligned=True, progress=False)
    assert list(frame.columns[-3:]) == ["Male", "Smiling", "age"]
    assert frame["age"].notna().all() and frame[["Male", "Smiling"]].stack().between(0, 1).all()
    again = pd.read_csv(tmp_path / "p.csv")
    np.testing.assert_allclose(again["age"], frame["age"])
    torch_pred = AttributePredictor(multitask_run, runtime="torch")
    chips = aligned_chips([load_image(p) for p in paths])
    a, b = pred.predict_outputs(chips), torch_pred.predict_outputs(chips)
    np.testing.assert_allclose(a[0], b[0], atol=1e-4)
    np.testing.assert_allclose(a[1], b[1], atol=1e-3)


def test_evaluate_scores_the_run_with_ece_male_over_every_source_and_age(multitask_run, tmp_path):
    from rostro.commands import EvaluateConfig, evaluate

    evaluated = evaluate(EvaluateConfig(run=str(multitask_run), split="validation", out=str(tmp_path / "ev"),
                                        progress=False))  # fmt: skip
    result, html = evaluated.metrics, evaluated.html
    assert {"mean_ece", "max_ece", "male_accuracy_every_source", "age_mae"} <= set(result.summary)
    assert 0 <= result.summary["mean_ece"] <= result.summary["max_ece"] <= 1
    assert (tmp_path / "ev" / "reliability.png").is_file() and "Calibration" in html.read_text()


def test_transfer_from_a_chip_run_needs_chips_and_then_trains_on_them(multitask_run, folders_dir, tmp_path):
    from rostro.commands import train
    from rostro.errors import RostroError
    from rostro.training.config import TrainConfig

    base = {"data": str(folders_dir), "init_from": str(multitask_run), "epochs": 1, "batch_size": 8,
            "progress": False, "cache_dir": str(tmp_path / "cache"), "sample_sizes": (16, 8, 8),
            "balance_on": "eyeglasses"}  # fmt: skip
    with pytest.raises(RostroError, match="set chips to aligned"):
        train(TrainConfig(**base, out=str(tmp_path / "a")))
    trained = train(TrainConfig(**base, out=str(tmp_path / "b"), chips="aligned"))
    info, run = trained.info, trained.run_dir
    assert info.input == "chip" and info.labels == ["eyeglasses"] and info.regression == {}
    pred = AttributePredictor(run)
    frame = predict_table(pred, sorted(folders_dir.rglob("*.jpg"))[:3], tmp_path / "p.csv", aligned=True,
                          progress=False)  # fmt: skip
    assert list(frame.columns[-1:]) == ["eyeglasses"] and frame["eyeglasses"].between(0, 1).all()


def test_frozen_trunk_trains_the_head_only_and_the_run_reproduces_its_validation_outputs(celeba_dir, tmp_path):
    from rostro.faces.dlib_resnet import face_network_weights
    from rostro.runs import load_run
    from rostro.training.multitask import load_chips, multitask_table, network_outputs

    cfg = MultiTaskConfig(sources=[{"data": str(celeba_dir), "labels": ["Male", "Smiling"]}], out=str(tmp_path / "run"),
                          epochs=2, batch_size=8, limit=12, progress=False, cache_dir=str(tmp_path / "cache"),
                          hidden=16, freeze_trunk=True)  # fmt: skip
    run = train_multitask(cfg)
    model, _ = load_run(run)
    dlib = face_network_weights()
    assert all(torch.equal(model.trunk.net.state_dict()[k], v) for k, v in dlib.items())
    table, _ = multitask_table(cfg)
    chips, _ = load_chips(table, cfg.parsed, cache_dir=cfg.cache_dir, progress=False)
    saved = np.load(run / "validation_outputs.npz")
    np.testing.assert_allclose(network_outputs(model, chips, saved["rows"]), saved["outputs"], rtol=1e-3, atol=1e-3)
    # the frozen network's features are kept: a second head on the same faces reads them and trains alike
    kept = list((tmp_path / "cache").glob("*.npy"))
    assert any(np.load(f).shape == (len(table), model.feature_dim) for f in kept)
    again = train_multitask(dataclasses.replace(cfg, out=str(tmp_path / "again")))
    assert sorted((tmp_path / "cache").glob("*.npy")) == sorted(kept)  # nothing computed anew
    np.testing.assert_allclose(np.load(again / "validation_outputs.npz")["outputs"], saved["outputs"], atol=1e-5)


def test_audit_model_reports_age_error_per_group_for_a_model_with_age(multitask_run, tmp_path):
    from rostro.commands import ModelAuditConfig, audit_model

    utk = write_utkface(tmp_path / "utk", 16, seed=9)
    res = audit_model(ModelAuditConfig(data=str(utk), model=str(multitask_run), label="Male", groups=["race"],
                                       out=str(tmp_path / "audit"), mitigate=None, n_boot=50))  # fmt: skip
    assert res.age is not None and {"all", "race", "age_band"} <= set(res.age["by"])
    assert (res.age["mae"] >= 0).all() and int(res.age.loc[res.age["by"] == "all", "count"].iloc[0]) <= 16
    assert "Age: mean absolute error" in res.html.read_text()


def test_bad_configs_are_refused_before_any_work(tmp_path):
    from rostro.training.config import TrainConfig

    with pytest.raises(ValueError, match=r"TrainConfig.chips must be one of \('aligned', 'photo', 'centre', 'box'\)"):
        TrainConfig(chips="wide")
    with pytest.raises(ValueError, match="expected at least one"):
        MultiTaskConfig(sources=[])
    with pytest.raises(ValueError, match="format must be one of"):
        MultiTaskConfig(sources=[{"data": str(tmp_path), "format": "lfw"}])
    with pytest.raises(ValueError, match="unknown Source key 'chip'"):
        MultiTaskConfig(sources=[{"data": str(tmp_path), "chip": "aligned"}])
    assert not any(tmp_path.iterdir())


def test_a_folder_that_holds_a_run_is_refused_before_any_work(multitask_run):
    from rostro.config import load_config
    from rostro.errors import RostroError

    cfg = load_config(MultiTaskConfig, multitask_run / "config.yaml")
    with pytest.raises(RostroError, match="already holds a run"):
        train_multitask(cfg)


@pytest.fixture(scope="module")
def crop_run(celeba_dir, tmp_path_factory):
    """dlib's network on CelebA-layout crops, its first 3 blocks frozen and cached (model v3's recipe)."""
    root = tmp_path_factory.mktemp("crop")
    utk = write_utkface(root / "utk", 24, seed=2)
    box = {"chips": "box", "box": [0.2, 0.2, 0.8, 0.8]}
    cfg = MultiTaskConfig(sources=[{"data": str(celeba_dir), "labels": ["Male", "Smiling"]},
                                   {"data": str(utk), "format": "utkface", **box}],
                          out=str(root / "run"), epochs=1, batch_size=8, limit=12, progress=False, input="crop",
                          freeze_blocks=3, cache_dir=str(root / "cache"), hidden=16)  # fmt: skip
    return train_multitask(cfg), cfg


def test_a_crop_run_with_frozen_blocks_keeps_them_and_predicts_crops(crop_run, celeba_dir, tmp_path):
    from rostro.faces.dlib_resnet import face_network_weights
    from rostro.runs import load_run

    run, _ = crop_run
    model, info = load_run(run)
    assert info.input == "crop" and info.input_size == 150 and info.model_kwargs["pretrained"] is False
    dlib = face_network_weights()
    frozen = [k for k in dlib if k.startswith(("stem.", "blocks.0.", "blocks.1.", "blocks.2."))]
    assert frozen and all(torch.equal(model.trunk.net.state_dict()[k], dlib[k]) for k in frozen)
    assert not torch.equal(model.trunk.net.state_dict()["fc.weight"], dlib["fc.weight"])  # the rest trained
    assert not (run / "last.pt").exists()  # the resume state goes once the run is done
    paths = sorted((celeba_dir / "img_align_celeba").glob("*.jpg"))[:4]
    frame = predict_table(AttributePredictor(run), paths, tmp_path / "p.csv", aligned=True, progress=False)
    assert frame["age"].notna().all() and frame[["Male", "Smiling"]].stack().between(0, 1).all()


def test_the_trunk_split_at_a_block_gives_the_whole_trunk():
    from rostro.models.registry import create_model

    model = create_model("dlib_resnet", num_outputs=2, hidden=8).eval()
    x = torch.rand(2, 3, 150, 150, generator=torch.Generator().manual_seed(0)) * 255
    with torch.no_grad():
        whole = model.trunk(x)
        for k in (3, 7, 10):
            torch.testing.assert_close(model.trunk.suffix(*model.trunk.prefix(x, k), k), whole)


def test_a_student_learns_from_the_teacher_where_labels_are_missing(crop_run, tmp_path):
    from rostro.training.multitask import blend

    known = np.array([1.0, np.nan, 0.0, np.nan], np.float32)
    taught = np.array([0.6, 0.2, np.nan, np.nan], np.float32)
    np.testing.assert_allclose(blend(known, taught, 0.5), [0.8, 0.2, 0.0, np.nan])
    teacher, cfg = crop_run
    student = MultiTaskConfig(sources=cfg.sources, out=str(tmp_path / "student"), epochs=1, batch_size=8, limit=12,
                              progress=False, input="crop", model="attr_net", input_size=32,
                              model_kwargs={"widths": [8, 16, 16, 32]}, teacher=str(teacher),
                              cache_dir=cfg.cache_dir)  # fmt: skip
    run = train_multitask(student)
    saved = np.load(run / "teacher_outputs.npz")
    table, labels = multitask_table(student)
    utk = (table["source"] == 1).to_numpy()
    assert labels == ["Male", "Smiling"] and saved["probs"].shape == (len(table), 2)
    assert np.isfinite(saved["probs"][utk]).all() and np.isfinite(saved["age"][~utk]).all()  # cells no label had
    pred = AttributePredictor(run)
    assert pred.info.model == "attr_net" and pred.info.model_kwargs["widths"] == [8, 16, 16, 32]
    _a_run_starts_another(run, labels)
    with pytest.raises(ValueError, match="trains from scratch on crops"):
        MultiTaskConfig(sources=cfg.sources, model="attr_net")
    with pytest.raises(ValueError, match="freeze_blocks"):
        MultiTaskConfig(sources=cfg.sources, freeze_blocks=2)


def test_a_run_on_five_point_crops_predicts_photos_without_the_68_point_fit(crop_run, tmp_path, monkeypatch):
    """crop_points 5: the training inputs and prediction both cut CelebA's layout from dlib's 5 landmarks."""
    from rostro.faces import embedding
    from rostro.faces.chips import image_crop
    from rostro.inference.predict import sample_photo

    _, cfg = crop_run
    with pytest.raises(ValueError, match=r"crop_points must be one of \(68, 5\)"):
        MultiTaskConfig(sources=cfg.sources, input="crop", crop_points=7)
    five = MultiTaskConfig(sources=cfg.sources, out=str(tmp_path / "five"), epochs=1, batch_size=8, limit=12,
                           progress=False, input="crop", model="attr_net", input_size=32, crop_points=5,
                           model_kwargs={"widths": [8, 16, 16, 32]}, cache_dir=cfg.cache_dir)  # fmt: skip
    pred = AttributePredictor(train_multitask(five))
    assert pred.info.crop_points == 5 and not pred.needs_landmarks68
    asked = []
    real = embedding.detect_faces
    monkeypatch.setattr(embedding, "detect_faces", lambda *a, **k: asked.append(k["landmarks68"]) or real(*a, **k))
    img = load_image(sample_photo())
    face = pred.analyze_image(img).faces[0]
    crop = image_crop(img, 32, "photo", points=5)
    assert asked and not any(asked)  # no 68-point fit asked for
    np.testing.assert_allclose(face.probabilities["Male"], pred.predict_crops(crop[None])[0, 0], atol=1e-5)


def _a_run_starts_another(run, labels):
    """init_from: the trunk whole and each label's output row by name (in another order here); age starts fresh."""
    from rostro.errors import RostroError
    from rostro.models.registry import create_model
    from rostro.runs import load_run
    from rostro.training.multitask import start_from

    source, _ = load_run(run)
    torch.manual_seed(0)
    fresh = create_model("attr_net", num_outputs=3, input_size=32, widths=[8, 16, 16, 32])
    age_row = fresh.state_dict()["head.1.weight"][2].clone()
    start_from(fresh, run, labels[::-1])
    theirs, ours = source.state_dict(), fresh.state_dict()
    assert all(torch.equal(ours[k], v) for k, v in theirs.items() if k.startswith("trunk."))
    assert torch.equal(ours["head.1.weight"][0], theirs["head.1.weight"][1])  # Smiling, by name
    assert torch.equal(ours["head.1.weight"][1], theirs["head.1.weight"][0])  # Male
    assert torch.equal(ours["head.1.weight"][2], age_row)
    with pytest.raises(RostroError, match="not this network"):
        start_from(create_model("attr_net", num_outputs=3, input_size=32, widths=[8, 16, 16, 64]), run, labels)
    with pytest.raises(ValueError, match="init_from"):
        MultiTaskConfig(sources=[{"data": "x", "format": "celeba", "chips": "aligned"}], init_from=str(run))


def test_an_interrupted_run_resumes_to_the_same_history(celeba_dir, tmp_path, monkeypatch):
    import rostro.training.multitask as mt
    from rostro.errors import RostroError

    base = {"sources": [{"data": str(celeba_dir), "labels": ["Male", "Smiling"]}], "epochs": 2, "batch_size": 8,
            "limit": 16, "progress": False, "input": "crop", "model": "attr_net", "input_size": 32,
            "model_kwargs": {"widths": [8, 16, 16, 32]}, "cache_dir": str(tmp_path / "cache")}  # fmt: skip
    whole = train_multitask(MultiTaskConfig(**base, out=str(tmp_path / "whole")))
    real, calls = mt.validation_scores, []

    def stop_at_the_second_epoch(*args, **kwargs):
        calls.append(1)
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(mt, "validation_scores", stop_at_the_second_epoch)
    with pytest.raises(KeyboardInterrupt):
        train_multitask(MultiTaskConfig(**base, out=str(tmp_path / "cut")))
    monkeypatch.setattr(mt, "validation_scores", real)
    assert (tmp_path / "cut" / "last.pt").is_file()
    with pytest.raises(RostroError, match="already holds a run"):
        train_multitask(MultiTaskConfig(**base, out=str(tmp_path / "cut")))
    train_multitask(MultiTaskConfig(**base, out=str(tmp_path / "cut"), resume=True))
    a = pd.read_csv(whole / "history.csv").drop(columns="seconds")
    b = pd.read_csv(tmp_path / "cut" / "history.csv").drop(columns="seconds")
    pd.testing.assert_frame_equal(a, b, rtol=1e-5)
    with pytest.raises(RostroError, match="holds no interrupted run"):
        train_multitask(MultiTaskConfig(**base, out=str(tmp_path / "none"), resume=True))


def test_a_multitask_reference_keeps_every_identity_in_its_split(multitask_run, celeba_dir, tmp_path):
    from rostro.training.multitask import reference_split

    ref = reference_split(multitask_run)
    assert {"identity", "split"} <= set(ref.columns) and not ref["identity"].str.startswith("celeba:").any()
    second = shutil.copytree(celeba_dir, tmp_path / "more")  # the same people, another folder
    cfg = MultiTaskConfig(sources=[{"data": str(celeba_dir), "labels": ["Male"]},
                                   {"data": str(second), "labels": ["Male"]}], split_from=str(multitask_run),
                          fractions=(0.5, 0.25, 0.25), seed=7, progress=False)  # fmt: skip
    table, _ = multitask_table(cfg)
    want = table["identity"].map(dict(zip("celeba:" + ref["identity"], ref["split"], strict=True)))
    known = want.notna()  # the reference run saw a few rows per split (limit); the rest are split by seed
    assert known.sum() >= len(ref) and (want[known] == table.loc[known, "split"]).all()


def test_a_pack_carries_the_rows_and_inputs_and_trains_as_the_sources_do(celeba_dir, tmp_path):
    from rostro.data.pack import read_pack
    from rostro.errors import RostroError

    base = {"sources": [{"data": str(celeba_dir), "labels": ["Male", "Smiling"]}], "epochs": 1, "batch_size": 8,
            "limit": 16, "progress": False, "input": "crop", "model": "attr_net", "input_size": 32,
            "model_kwargs": {"widths": [8, 16, 16, 32]}, "cache_dir": str(tmp_path / "cache"),
            "device": "cpu"}  # fmt: skip
    pack = tmp_path / "pack"
    from rostro.commands import train_multitask as command

    result = command(MultiTaskConfig(**base, pack_to=str(pack), pack_quality=100))
    assert result.run_dir == pack and "pack written" in result.lines()[0]
    table, inputs, meta = read_pack(pack)
    full, labels = multitask_table(MultiTaskConfig(**base))
    assert set(table["split"]) == {"train", "validation"} and meta["labels"] == labels == ["Male", "Smiling"]
    want = full[full["split"] != "test"].reset_index(drop=True)
    pd.testing.assert_frame_equal(table[want.columns], want, check_dtype=False)
    assert inputs.shape == (len(table), 32, 32, 3) and inputs.std() > 10  # faces, not blank rows
    from_pack = train_multitask(MultiTaskConfig(**base, pack=str(pack), out=str(tmp_path / "a")))
    from_files = train_multitask(MultiTaskConfig(**base, out=str(tmp_path / "b")))
    a = pd.read_csv(from_pack / "history.csv")
    b = pd.read_csv(from_files / "history.csv")
    # lossless WebP at quality 100 is near-lossless: the same rows and schedule give nearly the same loss
    assert len(a) == len(b) == 1 and abs(a["loss"][0] - b["loss"][0]) < 0.05
    assert AttributePredictor(from_pack).info.labels == labels
    with pytest.raises(RostroError, match="a pack of crop inputs at 32 px"):
        train_multitask(MultiTaskConfig(**{**base, "input_size": 48}, pack=str(pack), out=str(tmp_path / "c")))
    with pytest.raises(RostroError, match=r"crops from 68 landmarks\), the config trains on crop at 32 \(5\)"):
        train_multitask(MultiTaskConfig(**{**base, "crop_points": 5}, pack=str(pack), out=str(tmp_path / "d")))
    assert not (tmp_path / "d" / "run.json").exists()  # refused before any training
    with pytest.raises(RostroError, match="expected a training pack"):
        read_pack(tmp_path / "cache")
    with pytest.raises(ValueError, match="a pack holds one input per face"):
        MultiTaskConfig(**base, pack=str(pack), teacher=str(from_files))


def test_a_crop_run_fused_with_a_chip_partner_mixes_both_as_chosen_on_validation(
    multitask_run, crop_run, celeba_dir, tmp_path
):
    from rostro.commands.embed import FuseConfig
    from rostro.errors import RostroError
    from rostro.models.fusion import WEIGHTS, combine, logit, mix_values
    from rostro.training.fusion import _refuse_partner_training_faces, fit_partner_fusion

    _, cfg = crop_run
    student = MultiTaskConfig(sources=cfg.sources, out=str(tmp_path / "student"), epochs=1, batch_size=8, limit=12,
                              progress=False, input="crop", model="attr_net", input_size=32,
                              model_kwargs={"widths": [8, 16, 16, 32]}, cache_dir=cfg.cache_dir)  # fmt: skip
    run = train_multitask(student)
    partner_run = shutil.copytree(multitask_run, tmp_path / "weights" / "partner")  # shipped beside the fused run
    fusion = fit_partner_fusion(run, partner_run, progress=False)
    assert len(fusion.weights) == 2 and set(fusion.weights) <= set(WEIGHTS) and fusion.value_weights[0] in WEIGHTS
    assert fusion.head is None and not fusion.needs_embedding and fusion.partner_run(run) == partner_run.resolve()
    assert set(fusion.validation_accuracy["Male"]) == {"cnn", "partner", "fused", "shipped"}
    with pytest.raises(RostroError, match="expected a weight and calibration for each of the 1 labels"):
        fusion.check(run, ["Male"])
    assert fusion.validation_accuracy["age"]["fused_mae"] <= fusion.validation_accuracy["age"]["cnn_mae"]

    pred = AttributePredictor(run)
    alone, partner = AttributePredictor(run, use_fusion=False), AttributePredictor(partner_run)
    assert pred.partner is not None and pred.draft_size(aligned=True) is None  # the partner reads full-size chips
    assert pred.fingerprint not in (alone.fingerprint, partner.fingerprint)
    paths = sorted((celeba_dir / "img_align_celeba").glob("*.jpg"))[:4]
    frame = predict_table(pred, paths, tmp_path / "p.csv", aligned=True, progress=False)
    images = [load_image(p) for p in paths]
    chips = aligned_chips(images)
    crops = alone.aligned_inputs(paths)
    (p_cnn, v_cnn), (p_other, v_other) = alone.predict_outputs(crops), partner.predict_outputs(chips)
    mixed = combine(p_cnn, p_other, fusion.weights)
    assert fusion.calibration is not None and fusion.calibration.labels == ["Male", "Smiling"]
    np.testing.assert_allclose(frame[["Male", "Smiling"]], fusion.calibration(logit(mixed)), atol=1e-5)
    np.testing.assert_allclose(frame["age"], mix_values(v_cnn, v_other, fusion.value_weights)[:, 0], atol=0.01)
    with pytest.raises(RostroError, match="expected chips= for the 4 faces, found none"):
        pred.predict_outputs(crops)
    moved = tmp_path / "moved"
    shutil.copytree(run, moved / "run")
    with pytest.raises(RostroError, match="partner run .* is missing"):
        AttributePredictor(moved / "run")
    shipped = _ship(run, tmp_path / "weights" / "fused")  # as the package ships one: the partner re-aimed
    again = AttributePredictor(shipped).predict_outputs(crops, chips=chips)[0]
    np.testing.assert_allclose(again, frame[["Male", "Smiling"]], atol=1e-5)
    with pytest.raises(SystemExit, match="is not shipped beside"):
        _ship(run, tmp_path / "elsewhere" / "fused")  # the partner would be left behind, out of the package
    with pytest.raises(ValueError, match="EMBEDDINGS or --partner"):
        FuseConfig(run=str(run))
    table, _ = multitask_table(student)
    seen = table[table["split"] == "train"].head(3)  # faces the partner trained on, as if validation
    with pytest.raises(RostroError, match="trained on 3 of the run's 3 validation faces"):
        _refuse_partner_training_faces(partner, seen)
    _refuse_partner_training_faces(partner, table[table["split"] == "validation"])
    with pytest.raises(RostroError, match="expected a train-multitask run on crops"):
        fit_partner_fusion(multitask_run, run, progress=False)
    kept = np.load(run / "validation_outputs.npz")
    train_rows = np.flatnonzero(table["split"].to_numpy() == "train")[: len(kept["rows"])]
    np.savez_compressed(run / "validation_outputs.npz", outputs=kept["outputs"][: len(train_rows)], rows=train_rows)
    with pytest.raises(RostroError, match="its rows are not the validation split"):
        fit_partner_fusion(run, partner_run, progress=False)


def _ship(run, dest):
    import importlib.util
    from pathlib import Path

    spec = importlib.util.spec_from_file_location("ship_run", Path(__file__).parents[2] / "tools" / "ship_run.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ship(run, dest)
