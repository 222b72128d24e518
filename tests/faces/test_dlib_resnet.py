import numpy as np
import pytest
import torch

from rostro.errors import RostroError
from rostro.faces import dlib_resnet
from rostro.faces.dlib_resnet import (
    DlibRand,
    DlibResNet,
    face_network_weights,
    jitter_chips,
    load_face_network,
    read_dlib_layers,
    read_dlib_resnet,
)
from rostro.faces.models import dlib_models, model_file


@pytest.fixture(scope="module")
def dat():
    return model_file("resnet")


@pytest.fixture(scope="module")
def net(dat):
    model = DlibResNet()
    model.load_state_dict(read_dlib_resnet(dat))
    return model.eval()


@pytest.fixture(scope="module")
def chips() -> np.ndarray:
    """Chips cut as dlib cuts them: 8 synthetic faces (5 landmarks on the CelebA template box), 2 noise images."""
    from rostro.data.synthetic import make_faces

    models = dlib_models()
    dlib = models["dlib"]
    faces, _ = make_faces(8, seed=11)
    out = []
    for img in faces:
        img = np.ascontiguousarray(img)
        shape = models["shape5"](img, dlib.rectangle(25, 70, 153, 198))
        out.append(dlib.get_face_chip(img, shape, size=150, padding=0.25))
    out += list(np.random.default_rng(12).integers(0, 256, (2, 150, 150, 3), dtype=np.uint8))
    return np.stack(out)


@pytest.fixture(scope="module")
def dlib_vectors(dat, chips) -> np.ndarray:
    net = dlib_models()["dlib"].face_recognition_model_v1(str(dat))
    return np.array([list(v) for v in net.compute_face_descriptor(list(chips))], dtype=np.float32)


def _tensor(chips: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(chips).permute(0, 3, 1, 2).float()


def test_the_whole_file_is_read_with_the_expected_shapes(dat):
    raw = read_dlib_layers(dat)
    expected = {"mean": (1, 3, 1, 1), "stem.weight": (32, 3, 7, 7), "fc.weight": (128, 256)}
    expected |= {f"stem.{field}": (32,) for field in ("bias", "gamma", "beta")}
    cin = 32
    for i, cout in enumerate([32] * 3 + [64] * 4 + [128] * 3 + [256] * 4):
        for conv, inputs in (("conv1", cin), ("conv2", cout)):
            expected[f"blocks.{i}.{conv}.weight"] = (cout, inputs, 3, 3)
            expected |= {f"blocks.{i}.{conv}.{field}": (cout,) for field in ("bias", "gamma", "beta")}
        cin = cout
    assert {k: tuple(v.shape) for k, v in raw.items()} == expected
    assert sum(v.numel() for k, v in raw.items() if k != "mean") == 5_614_592
    assert np.allclose(raw["mean"].ravel(), [122.782, 117.001, 104.298])
    assert all(v.dtype == torch.float32 and torch.isfinite(v).all() for v in raw.values())


def test_descriptors_equal_dlibs(net, chips, dlib_vectors):
    with torch.no_grad():
        vectors = net(_tensor(chips)).numpy()
    assert vectors.shape == (len(chips), 128)
    assert np.abs(vectors - dlib_vectors).max() < 1e-5
    assert np.linalg.norm(vectors, axis=1).min() > 1.0  # not normalised, like dlib's


@pytest.mark.filterwarnings("ignore:Constant folding")  # F.pad's reversed pad list: harmless
def test_the_onnx_export_gives_the_same(net, chips, dlib_vectors, tmp_path):
    import onnxruntime as ort

    from rostro.models.export import export_onnx

    path = export_onnx(net, tmp_path / "dlib_resnet.onnx", input_size=150)
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    x = _tensor(chips).numpy()
    batched = session.run(None, {"images": x})[0]
    single = session.run(None, {"images": x[:1]})[0]
    with torch.no_grad():
        assert np.abs(batched - net(torch.from_numpy(x)).numpy()).max() < 1e-5
    assert np.abs(batched - dlib_vectors).max() < 1e-5
    assert np.abs(single[0] - dlib_vectors[0]).max() < 1e-5


def test_a_truncated_or_different_file_is_refused_naming_what_was_found(dat, tmp_path):
    data = dat.read_bytes()
    short = tmp_path / "short.dat"
    short.write_bytes(data[:1_000_000])
    with pytest.raises(RostroError, match=r"short\.dat: expected .* at byte \d+, found the end of the file"):
        read_dlib_layers(short)
    other = tmp_path / "other.dat"
    other.write_bytes(data.replace(b"loss_metric_2", b"loss_metric_X", 1))
    with pytest.raises(RostroError, match=r"expected the loss layer's name '\S+' at byte 2, found 'loss_metric_X'"):
        read_dlib_layers(other)
    longer = tmp_path / "longer.dat"
    longer.write_bytes(data + b"\0\0")
    with pytest.raises(RostroError, match=r"expected the end of the file at byte 22466066, found 2 more bytes"):
        read_dlib_layers(longer)
    shape68 = model_file("shape68")
    with pytest.raises(RostroError, match=rf"{shape68.name}: expected .* at byte \d+, found"):
        read_dlib_layers(shape68)


def test_the_conversion_is_cached_by_content(dat, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    first = face_network_weights(dat)
    (cached,) = (tmp_path / "rostro" / "dlib").iterdir()
    assert len(cached.stem) == 16 and cached.suffix == ".pt"

    def no_conversion(*args):
        raise AssertionError("converted again")

    monkeypatch.setattr(dlib_resnet, "_parse", no_conversion)
    second = face_network_weights(dat)
    assert second.keys() == first.keys() and all(torch.equal(first[k], second[k]) for k in first)


def test_an_unwritable_cache_only_costs_the_conversion(dat, monkeypatch, tmp_path):
    blocked = tmp_path / "a-file"
    blocked.write_text("not a folder")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocked))
    state = face_network_weights(dat)
    DlibResNet().load_state_dict(state)
    assert blocked.read_text() == "not a folder"


def test_jittered_descriptors_equal_dlibs(net, dat, chips):
    model = dlib_models()["dlib"].face_recognition_model_v1(str(dat))  # a fresh model: a fresh dlib::rand
    rnd = DlibRand()
    for chip, n in ((chips[0], 5), (chips[8], 3), (chips[1], 4)):  # the draws go on from call to call
        expected = np.array(model.compute_face_descriptor(chip, n))
        crops = jitter_chips(chip, n, rnd)
        assert crops.shape == (n, 150, 150, 3) and crops.dtype == np.uint8
        with torch.no_grad():
            assert np.abs(net(_tensor(crops)).mean(0).numpy() - expected).max() < 1e-5
    with pytest.raises(ValueError, match="square HxWx3 uint8"):
        jitter_chips(chips[0][:100], 2, rnd)


def test_the_network_is_loaded_once_per_file_in_eval_mode(dat, net, chips, monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    loaded = load_face_network(dat)
    assert load_face_network(str(dat)) is loaded and not loaded.training
    with torch.no_grad():
        assert torch.equal(loaded(_tensor(chips[:2])), net(_tensor(chips[:2])))
