"""dlib's face network as a registered trunk: same descriptor, heads on every stage, block freezing."""

import numpy as np
import pytest
import torch

from rostro.faces.dlib_resnet import load_face_network
from rostro.models import create_model, model_spec
from rostro.training.config import TrainConfig
from rostro.training.loop import set_trainable


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return create_model("dlib_resnet", num_outputs=3).eval()


def test_the_trunk_reads_every_stage_and_keeps_dlibs_descriptor(model):
    x = torch.from_numpy(np.random.default_rng(0).uniform(0, 255, (2, 3, 150, 150)).astype(np.float32))
    with torch.no_grad():
        feats = model.features(x)
        descriptor = load_face_network()(x)
        out = model(x)
    assert model.feature_dim == feats.shape[1] == 3424  # 32 + 64 + 5 x 128 + 5 x 256 + 5 x 256 + 128
    assert torch.allclose(feats[:, -128:], descriptor, atol=1e-5)
    assert out.shape == (2, 3)
    spec = model_spec("dlib_resnet")
    assert (spec.input_size, spec.mean) == (150, 0.0) and spec.std == pytest.approx(1 / 255)  # 0..255 in


def test_a_size_other_than_the_chip_is_refused():
    with pytest.raises(ValueError, match="expected input_size 150, found 64"):
        create_model("dlib_resnet", input_size=64, pretrained=False)


def test_blocks_freeze_and_thaw_one_by_one(model):
    blocks = model.trunk_blocks()
    assert len(blocks) == 16  # stem, 14 residual blocks, the descriptor layer
    cfg = TrainConfig(freeze_trunk=True, unfreeze_after=2, unfreeze_blocks=3)
    set_trainable(model, cfg, epoch=0)
    assert not any(p.requires_grad for p in model.trunk.parameters())
    assert all(p.requires_grad for p in model.head.parameters())
    set_trainable(model, cfg, epoch=2)
    thawed = [any(p.requires_grad for p in b.parameters()) for b in blocks]
    assert thawed == [False] * 13 + [True] * 3


def test_a_run_trains_and_predicts_with_it(celeba_dir, tmp_path):
    from rostro.commands import train
    from rostro.inference.predict import AttributePredictor
    from rostro.runs import load_run

    cfg = TrainConfig(data=str(celeba_dir), out=str(tmp_path / "run"), model="dlib_resnet", epochs=1, labels=["Male"],
                      freeze_trunk=True, progress=False, cache_dir=str(tmp_path / "cache"), batch_size=32)  # fmt: skip
    run = train(cfg).run_dir
    model, info = load_run(run)
    assert info.model == "dlib_resnet" and info.input_size == 150
    crops = np.random.default_rng(1).integers(0, 255, (2, 150, 150, 3), dtype=np.uint8)
    probs = AttributePredictor(run, runtime="torch").predict_crops(crops)
    assert probs.shape == (2, 1) and ((probs > 0) & (probs < 1)).all()
    assert np.allclose(AttributePredictor(run).predict_crops(crops), probs, atol=1e-5)  # its ONNX export
