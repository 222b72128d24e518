import numpy as np
import pytest
import torch

from rostro.data.transforms import Augment, resize_square, to_float_tensor


def test_resize_square_centre_crops():
    img = np.zeros((218, 178, 3), np.uint8)
    img[20:198] = 200  # the central square
    out = resize_square(img, 64)
    assert out.shape == (64, 64, 3) and out.dtype == np.uint8
    assert out.min() == 200
    assert resize_square(np.zeros((10, 30, 3), np.uint8), 10).shape == (10, 10, 3)
    with pytest.raises(ValueError, match="HxWx3"):
        resize_square(np.zeros((10, 10)), 5)


def test_to_float_tensor_layout_and_scale():
    batch = np.full((2, 8, 8, 3), 255, np.uint8)
    x = to_float_tensor(batch)
    assert x.shape == (2, 3, 8, 8) and x.dtype == torch.float32
    assert torch.allclose(x, torch.ones_like(x))


def _batch(n=6, size=32):
    g = torch.Generator().manual_seed(0)
    return torch.rand(n, 3, size, size, generator=g)


def test_augment_shapes_and_seeded_determinism():
    x = _batch()
    aug = Augment()
    a = aug(x, torch.Generator().manual_seed(1))
    b = aug(x, torch.Generator().manual_seed(1))
    c = aug(x, torch.Generator().manual_seed(2))
    assert a.shape == x.shape and a.dtype == x.dtype
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_no_op_augment_is_identity_and_flip_mirrors():
    x = _batch()
    same = Augment(rotation=0, zoom=0, flip=False)(x, torch.Generator().manual_seed(0))
    assert torch.allclose(same, x, atol=1e-5)
    flipped = Augment(rotation=0, zoom=0, flip=True)(x, torch.Generator().manual_seed(0))
    for i in range(len(x)):
        ok_same = torch.allclose(flipped[i], x[i], atol=1e-5)
        ok_flip = torch.allclose(flipped[i], x[i].flip(-1), atol=1e-5)
        assert ok_same or ok_flip
    assert not all(torch.allclose(flipped[i], x[i], atol=1e-5) for i in range(len(x)))


def test_rotation_and_zoom_stay_in_range():
    x = torch.zeros(64, 1, 33, 33)
    x[:, :, 16, 16] = 1.0  # centre pixel stays put under rotation and zoom about the centre
    out = Augment(rotation=10, zoom=0.2, flip=True)(x, torch.Generator().manual_seed(0))
    assert (out[:, 0, 16, 16] > 0.5).all()
    with pytest.raises(ValueError, match="zoom in"):
        Augment(zoom=1.5)
