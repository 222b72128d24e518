import os
import time

import numpy as np
import pytest

from rostro.data import read_celeba
from rostro.data.cache import build_cache
from rostro.data.images import load_image
from rostro.data.transforms import resize_square
from rostro.errors import ImageDecodeError
from tests.conftest import save


@pytest.fixture
def images(tmp_path, rgb):
    rng = np.random.default_rng(0)
    return [save(rng.integers(0, 255, (40, 30, 3), dtype=np.uint8), tmp_path / "src" / f"{i}.png") for i in range(12)]


def test_miss_then_hit_with_same_content(images, tmp_path):
    c1 = build_cache(images, 16, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert not c1.hit and c1.images.shape == (12, 16, 16, 3) and not c1.errors
    assert np.array_equal(c1.images[3], resize_square(load_image(images[3]), 16))
    c2 = build_cache(images, 16, cache_dir=tmp_path / "c", progress=False)
    assert c2.hit and c2.file == c1.file and np.array_equal(c2.images, c1.images)
    assert isinstance(c2.images, np.memmap)


def test_invalidated_by_a_changed_file_or_size(images, tmp_path):
    c1 = build_cache(images, 16, cache_dir=tmp_path / "c", workers=1, progress=False)
    save(np.zeros((40, 30, 3), np.uint8), images[0])
    os.utime(images[0], ns=(time.time_ns(), time.time_ns() + 10**9))
    c2 = build_cache(images, 16, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert not c2.hit and c2.file != c1.file and c2.images[0].max() == 0
    c3 = build_cache(images, 20, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert not c3.hit and c3.images.shape[1] == 20


def test_bad_images_skipped_with_a_count_or_raised(images, tmp_path):
    (images[2]).write_bytes(b"junk")
    paths = [*images, tmp_path / "absent.png"]
    c = build_cache(paths, 16, cache_dir=tmp_path / "c", workers=1, progress=False)
    assert sorted(c.errors) == [2, 12] and c.valid.sum() == 11
    assert "not a recognised image" in c.errors[2] and "not found" in c.errors[12]
    assert c.images[2].max() == 0
    assert build_cache(paths, 16, cache_dir=tmp_path / "c", progress=False).errors == c.errors
    with pytest.raises(ImageDecodeError, match=r"2.png: not a recognised image format \(and 1 more\)"):
        build_cache(paths, 16, cache_dir=tmp_path / "c", on_error="raise", progress=False)
    with pytest.raises(ImageDecodeError, match="2.png"):
        build_cache(paths, 16, cache_dir=tmp_path / "d", on_error="raise", workers=1, progress=False)
    assert not list((tmp_path / "d").glob("*.npy")), "a failed build leaves no cache file"


def test_parallel_build_matches_serial(celeba_dir, tmp_path):
    paths = read_celeba(celeba_dir).frame["path"].tolist()
    serial = build_cache(paths, 24, cache_dir=tmp_path / "a", workers=1, progress=False)
    parallel = build_cache(paths * 2, 24, cache_dir=tmp_path / "b", workers=2, progress=False)
    assert np.array_equal(np.asarray(parallel.images[: len(paths)]), np.asarray(serial.images))


def test_one_setting_moves_every_cache(tmp_path, monkeypatch):
    from rostro.files import user_cache_dir

    monkeypatch.delenv("ROSTRO_CACHE", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert user_cache_dir("dlib") == tmp_path / "xdg" / "rostro" / "dlib"
    monkeypatch.setenv("ROSTRO_CACHE", str(tmp_path / "mine"))
    assert user_cache_dir("onnx") == tmp_path / "mine" / "onnx"
