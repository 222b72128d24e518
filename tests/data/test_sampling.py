import numpy as np
import pandas as pd
import pytest

from rostro.data.dataset import FaceDataset
from rostro.data.sampling import (
    check_no_leakage,
    ensure_splits,
    identity_overlap,
    sample_balanced,
    split_dataset,
)
from rostro.errors import DataFormatError


def _toy(n_ids=200, seed=0, split="train"):
    rng = np.random.default_rng(seed)
    per = rng.integers(1, 8, n_ids)
    ident = np.repeat(np.arange(n_ids), per)
    male = np.repeat(rng.random(n_ids) < 0.4, per).astype(np.int8)
    frame = pd.DataFrame(
        {
            "image_id": [f"{i}.jpg" for i in range(len(ident))],
            "path": "x",
            "split": split,
            "Male": male,
            "identity": ident.astype(str),
        }
    )
    return FaceDataset(frame=frame, labels=["Male"], source="toy", root=__import__("pathlib").Path("."))


def test_identity_disjoint_stratified_split():
    ds = _toy()
    out = split_dataset(ds, fractions=(0.7, 0.15, 0.15), stratify="Male", seed=0)
    assert len(identity_overlap(out)) == 0
    check_no_leakage(out)
    share = np.array(list(out.split_sizes().values())) / len(ds)
    assert np.allclose(share, [0.7, 0.15, 0.15], atol=0.04)
    rate = out.frame.groupby("split")["Male"].mean()
    assert np.allclose(rate, ds.frame["Male"].mean(), atol=0.06)


def test_split_is_seeded():
    ds = _toy()
    a, b, c = (split_dataset(ds, seed=s).frame["split"].tolist() for s in (5, 5, 6))
    assert a == b and a != c


def test_split_without_identities_splits_images():
    ds = _toy()
    ds = ds.with_frame(ds.frame.drop(columns="identity"))
    out = split_dataset(ds, stratify="Male", seed=0)
    assert out.split_sizes()["train"] == pytest.approx(0.7 * len(ds), abs=2)


def test_ensure_splits_keeps_an_official_partition():
    ds = _toy()
    official = split_dataset(ds, seed=9)
    assert ensure_splits(official, seed=1).frame["split"].tolist() == official.frame["split"].tolist()
    assert ensure_splits(ds, seed=1).frame["split"].nunique() == 3


def test_overlap_is_reported_and_refused():
    ds = split_dataset(_toy(), seed=0)
    frame = ds.frame.copy()
    victim = frame.index[frame["split"] == "test"][0]
    frame.loc[victim, "identity"] = frame.loc[frame["split"] == "train", "identity"].iloc[0]
    leaky = ds.with_frame(frame)
    overlap = identity_overlap(leaky)
    assert len(overlap) == 1 and overlap[["train", "test"]].to_numpy().min() >= 1
    with pytest.raises(DataFormatError, match="1 identities appear in more than one split"):
        check_no_leakage(leaky)


def test_sample_balanced_stays_inside_each_split():
    ds = split_dataset(_toy(n_ids=600), stratify="Male", seed=0)
    out = sample_balanced(ds, "Male", {"train": 400, "validation": 100, "test": 100}, seed=1)
    assert out.split_sizes() == {"train": 400, "validation": 100, "test": 100}
    assert (out.frame.groupby("split")["Male"].mean() == 0.5).all()
    before = ds.frame.set_index("image_id")["split"]
    assert (out.frame.set_index("image_id")["split"] == before.loc[out.frame["image_id"]]).all()
    assert len(identity_overlap(out)) == 0
    again = sample_balanced(ds, "Male", {"train": 400, "validation": 100, "test": 100}, seed=1)
    assert again.frame["image_id"].tolist() == out.frame["image_id"].tolist()


def test_sample_balanced_caps_or_raises_when_short():
    ds = split_dataset(_toy(n_ids=100), stratify="Male", seed=0)
    pos = int(ds.split("validation").frame["Male"].sum())
    out = sample_balanced(ds, "Male", {"validation": 10_000}, seed=0)
    assert out.split_sizes()["validation"] == 2 * min(pos, len(ds.split("validation")) - pos)
    with pytest.raises(DataFormatError, match="split 'validation' has"):
        sample_balanced(ds, "Male", {"validation": 10_000}, strict=True)
    with pytest.raises(ValueError, match="unknown label 'male'. Did you mean 'Male'"):
        sample_balanced(ds, "male", {"train": 10})
