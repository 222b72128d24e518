"""Figures on the real CelebA subsets in ../shared/data (skipped where that folder is absent)."""

import pytest

from rostro.data import read_celeba, read_folders
from rostro.data.sampling import check_no_leakage, ensure_splits
from rostro.data.stats import describe_dataset

pytestmark = pytest.mark.shared


def test_celeba_aligned_agrees_with_full_celeba(shared_data):
    ds = ensure_splits(read_celeba(shared_data / "celeba-aligned"), stratify="Male", seed=0)
    check_no_leakage(ds)
    s = describe_dataset(ds, target="Male")
    assert len(ds.labels) == 40 and s.n_images == 8003
    assert s.class_balance["positive_rate"] == pytest.approx(0.42, abs=0.02)
    c = s.correlation
    assert c.loc["Heavy_Makeup", "Wearing_Lipstick"] == pytest.approx(0.80, abs=0.04)
    assert c.loc["High_Cheekbones", "Smiling"] == pytest.approx(0.68, abs=0.04)
    assert c.loc["No_Beard", "Goatee"] == pytest.approx(-0.54, abs=0.06)
    assert s.top_positive[0][:2] == ("Heavy_Makeup", "Wearing_Lipstick")


def test_celeba_wild_and_eyeglasses_read(shared_data):
    wild = read_celeba(shared_data / "celeba-wild")
    assert wild.labels == ["Attractive", "Male"] and len(wild) == 2574
    glasses = read_folders(shared_data / "eyeglasses")
    assert glasses.labels == ["eyeglasses"] and glasses.split_sizes() == {
        "train": 749,
        "validation": 157,
        "test": 158,
    }
