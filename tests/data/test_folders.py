import shutil

import numpy as np
import pytest

from rostro.data import detect_format, read_folders
from rostro.data.folders import binary_label_name
from rostro.errors import DataFormatError
from tests.conftest import save


def test_split_layout_with_negated_class(folders_dir):
    ds = read_folders(folders_dir)
    assert ds.labels == ["eyeglasses"] and detect_format(folders_dir) == "folders"
    assert set(ds.frame["split"]) == {"train", "validation", "test"}
    positive = ds.frame["path"].str.contains("/eyeglasses/")
    assert (ds.frame.loc[positive, "eyeglasses"] == 1).all()
    assert (ds.frame.loc[~positive, "eyeglasses"] == 0).all()
    on_disk = sum(1 for _ in folders_dir.rglob("*.jpg"))
    assert len(ds) == on_disk == 80


def test_binary_label_names():
    assert binary_label_name(["eyeglasses", "no_eyeglasses"]) == (
        "eyeglasses",
        ["no_eyeglasses", "eyeglasses"],
    )
    assert binary_label_name(["Not-Me", "me"]) == ("me", ["Not-Me", "me"])
    assert binary_label_name(["cat", "dog"]) == ("dog", ["cat", "dog"])
    assert binary_label_name(["a", "b", "c"]) is None


def test_single_root_is_split_with_a_seed_and_stratified(tmp_path, rgb):
    for cls, n in (("me", 30), ("others", 50)):
        for i in range(n):
            save(rgb, tmp_path / cls / f"{i}.png")
    a = read_folders(tmp_path, seed=1)
    b = read_folders(tmp_path, seed=1)
    c = read_folders(tmp_path, seed=2)
    assert a.frame["split"].tolist() == b.frame["split"].tolist()
    assert a.frame["split"].tolist() != c.frame["split"].tolist()
    sizes = a.split_sizes()
    assert sizes["train"] == 56 and sizes["validation"] + sizes["test"] == 24
    rate = a.frame.groupby("split")["others"].mean()
    assert np.allclose(rate, 50 / 80, atol=0.05)


def test_formats_by_content_and_hidden_files_skipped(tmp_path, rgb):
    save(rgb, tmp_path / "a" / "x.jfif", format="JPEG")
    save(rgb, tmp_path / "a" / "y.webp")
    save(rgb, tmp_path / "a" / "no_extension", format="PNG")
    save(rgb, tmp_path / "a" / ".hidden.jpg")
    (tmp_path / "a" / "notes.txt").write_text("not an image")
    save(rgb, tmp_path / "b" / "z.TIFF", format="TIFF")
    save(rgb, tmp_path / "b" / "sub" / "w.bmp")
    ds = read_folders(tmp_path)
    names = sorted(p.rsplit("/", 1)[-1] for p in ds.frame["path"])
    assert names == ["no_extension", "w.bmp", "x.jfif", "y.webp", "z.TIFF"]


def test_multi_class_is_one_hot(tmp_path, rgb):
    for cls in ("black", "blond", "gray"):
        for i in range(6):
            save(rgb, tmp_path / "train" / cls / f"{i}.jpg")
    ds = read_folders(tmp_path)
    assert ds.labels == ["black", "blond", "gray"]
    assert (ds.frame[ds.labels].sum(axis=1) == 1).all()


def test_errors_name_the_problem(tmp_path, rgb, folders_dir):
    with pytest.raises(DataFormatError, match="does not exist"):
        read_folders(tmp_path / "nope")
    (tmp_path / "empty" / "a").mkdir(parents=True)
    with pytest.raises(DataFormatError, match="found no images; expected ROOT/"):
        read_folders(tmp_path / "empty")
    (tmp_path / "flat").mkdir()
    save(rgb, tmp_path / "flat" / "a.jpg")
    with pytest.raises(DataFormatError, match=r"found 1 image\(s\) outside class folders; expected ROOT/"):
        read_folders(tmp_path / "flat")
    mixed = tmp_path / "mixed"
    shutil.copytree(folders_dir, mixed)
    (mixed / "extras").mkdir()
    with pytest.raises(DataFormatError, match=r"mixes split folders with other folders \['extras'\]"):
        read_folders(mixed)
    save(rgb, tmp_path / "one" / "only" / "a.jpg")
    with pytest.raises(DataFormatError, match="single class"):
        read_folders(tmp_path / "one")
