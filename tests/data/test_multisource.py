"""Several labelled sets as one table: masked labels, splits by identity across folders."""

from __future__ import annotations

import shutil

import numpy as np
import pytest

from rostro.data import read_celeba
from rostro.data.multisource import Source, read_sources
from rostro.data.synthetic import write_utkface


@pytest.fixture(scope="module")
def utk_dir(tmp_path_factory):
    return write_utkface(tmp_path_factory.mktemp("utk"), 40, seed=5)


def test_labels_are_masked_where_a_source_does_not_label_them(celeba_dir, utk_dir):
    table, labels = read_sources([Source(str(celeba_dir)), Source(str(utk_dir), "utkface", "centre")])
    celeba = read_celeba(celeba_dir)
    assert labels == celeba.labels  # UTKFace's Male is one of them
    utk = table[table["source"] == 1]
    assert len(utk) == 40 and utk["age"].between(1, 90).all() and utk["identity"].isna().all()
    assert utk["Male"].notna().all() and utk[[n for n in labels if n != "Male"]].isna().all().all()
    cel = table[table["source"] == 0]
    assert cel["age"].isna().all() and cel[labels].notna().all().all()
    assert set(table["split"]) == {"train", "validation", "test"}


def test_an_identity_in_two_folders_has_one_split_and_the_reference_keeps_its_own(celeba_dir, tmp_path):
    second = shutil.copytree(celeba_dir, tmp_path / "second")  # the same identities, other photos
    table, _ = read_sources([Source(str(celeba_dir)), Source(str(second), labels=["Male"])], seed=1)
    splits = table.groupby("identity")["split"].nunique()
    assert (splits == 1).all()
    ref = read_celeba(celeba_dir).frame[["identity", "split"]].copy()
    ref["split"] = np.where(np.arange(len(ref)) % 2, "test", "train")
    ref = ref.drop_duplicates("identity")
    table, _ = read_sources([Source(str(celeba_dir))], reference=ref)
    want = dict(zip("celeba:" + ref["identity"].astype(str), ref["split"], strict=True))
    assert (table["identity"].map(want) == table["split"]).all()


def test_excluded_folders_remove_their_identities_everywhere(celeba_dir, tmp_path):
    frame = read_celeba(celeba_dir).frame
    person = frame["identity"].iloc[0]
    names = frame.loc[frame["identity"] == person, "image_id"].tolist()[:1]
    held = tmp_path / "held"
    held.mkdir()
    for name in names:
        (held / name).write_bytes(b"")
    table, _ = read_sources([Source(str(celeba_dir))], exclude=[held])
    assert f"celeba:{person}" not in set(table["identity"])
    assert len(table) == len(frame) - int((frame["identity"] == person).sum())
    with pytest.raises(Exception, match="exclusion folder not found"):
        read_sources([Source(str(celeba_dir))], exclude=[tmp_path / "missing"])


def test_a_bad_format_is_named():
    with pytest.raises(ValueError, match="format must be one of"):
        Source("x", format="lfw")


def test_a_box_goes_with_mode_box_and_only_with_it(tmp_path):
    with pytest.raises(ValueError, match="goes with mode 'box' and only with it"):
        Source(str(tmp_path), chips="box")
    with pytest.raises(ValueError, match="goes with mode 'box' and only with it"):
        Source(str(tmp_path), chips="centre", box=[0.1, 0.1, 0.9, 0.9])
    with pytest.raises(ValueError, match="box must be 4 fractions"):
        Source(str(tmp_path), chips="box", box=[0.9, 0.1, 0.1, 0.9])
    assert Source(str(tmp_path), chips="box", box=[-0.05, 0.12, 1.05, 0.99]).box[0] == -0.05
