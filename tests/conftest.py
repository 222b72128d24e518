"""Shared fixtures: small synthetic datasets written once per session, and the shared data path."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from rostro.data.synthetic import write_celeba, write_folders

SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "data"
SMALL = (44, 54)  # CelebA's aspect ratio, small enough to keep tests fast


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "celeba-aligned" / "list_attr_celeba.txt").is_file():
        pytest.skip("../shared/data is absent")
    return SHARED


@pytest.fixture(scope="session")
def celeba_dir(tmp_path_factory) -> Path:
    """A synthetic CelebA-layout folder; tests copy it before changing anything."""
    return write_celeba(tmp_path_factory.mktemp("celeba"), 96, size=SMALL, seed=3)


@pytest.fixture(scope="session")
def folders_dir(tmp_path_factory) -> Path:
    return write_folders(tmp_path_factory.mktemp("folders"), 80, size=SMALL, seed=4)


@pytest.fixture(scope="session")
def tiny_run(celeba_dir, tmp_path_factory) -> Path:
    """A one-epoch small_cnn run on the synthetic CelebA set (Male, Smiling), for inference tests.

    Tests that change a run folder copy it first.
    """
    from rostro.commands import train
    from rostro.training.config import TrainConfig

    root = tmp_path_factory.mktemp("run")
    cfg = TrainConfig(data=str(celeba_dir), out=str(root / "run"), model="small_cnn", input_size=32, epochs=1,
                      labels=["Male", "Smiling"], progress=False, cache_dir=str(root / "cache"))  # fmt: skip
    return train(cfg).run_dir


@pytest.fixture
def rgb() -> np.ndarray:
    """A deterministic 40 x 30 test picture with a distinct top-left corner."""
    rng = np.random.default_rng(0)
    img = rng.integers(0, 255, (40, 30, 3), dtype=np.uint8)
    img[:10, :10] = (255, 0, 0)
    return img


def save(img: np.ndarray, path: Path, **kw) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(img).save(path, **kw)
    return path
