import numpy as np
import pytest
import torch

from rostro.models import create_model, list_models
from rostro.models.export import OnnxModel, export_onnx
from rostro.models.heads import EmbeddingClassifier
from rostro.models.inference import extract_features, predict_logits
from rostro.models.registry import load_weights, model_spec


def test_the_registry_builds_each_small_network_at_its_size_and_suggests_a_near_name():
    assert {"attr_net", "small_cnn", "dlib_resnet"} <= set(list_models())
    rng = np.random.default_rng(0)
    for name in ("attr_net", "small_cnn"):
        spec = model_spec(name)
        torch.manual_seed(0)
        model = create_model(name, num_outputs=3, input_size=spec.input_size)
        images = rng.integers(0, 255, (5, spec.input_size, spec.input_size, 3), dtype=np.uint8)
        logits = predict_logits(model, images, mean=spec.mean, std=spec.std)
        assert logits.shape == (5, 3) and np.isfinite(logits).all()
        assert extract_features(model, images, mean=spec.mean, std=spec.std).shape[0] == 5
    with pytest.raises(ValueError, match="Did you mean 'attr_net'"):
        model_spec("attr_nett")


def test_weights_of_another_shape_are_refused_by_name():
    model = create_model("small_cnn", num_outputs=2, input_size=32)
    state = create_model("small_cnn", num_outputs=3, input_size=32).state_dict()
    with pytest.raises(ValueError, match="has shape"):
        load_weights(model, state, source="other.pt")


def test_the_onnx_export_gives_the_torch_outputs(tmp_path):
    torch.manual_seed(1)
    model = create_model("attr_net", num_outputs=4, input_size=32).eval()
    images = np.random.default_rng(1).integers(0, 255, (6, 32, 32, 3), dtype=np.uint8)
    path = export_onnx(model, tmp_path / "m.onnx", input_size=32)
    onnx = OnnxModel(path, threads=1).predict_logits(images, mean=0.5, std=0.5)
    np.testing.assert_allclose(onnx, predict_logits(model, images, mean=0.5, std=0.5), atol=1e-4)


def test_embedding_heads_learn_a_planted_direction_and_round_trip():
    rng = np.random.default_rng(2)
    X = rng.normal(size=(300, 8))
    Y = np.stack([X[:, 0] > 0, X[:, 1] + X[:, 2] > 0], 1).astype(int)
    for kind, least in (("logistic", 0.9), ("mlp", 0.8)):  # 3 x 60 units on 200 faces overfit a little
        head = EmbeddingClassifier(kind, seed=0).fit(X[:200], Y[:200])
        assert (head.predict(X[200:]) == Y[200:]).mean() > least, kind
        again = EmbeddingClassifier.from_dict(head.to_dict())
        np.testing.assert_allclose(again.predict_proba(X[200:]), head.predict_proba(X[200:]), atol=1e-9)
    with pytest.raises(ValueError, match="single class"):
        EmbeddingClassifier().fit(X, np.zeros(len(X), int))
