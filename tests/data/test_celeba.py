import shutil

import numpy as np
import pandas as pd
import pytest

from rostro.data import detect_format, load_dataset, read_celeba
from rostro.errors import DataFormatError, MissingImagesError


@pytest.fixture
def copy(celeba_dir, tmp_path):
    dst = tmp_path / "celeba"
    shutil.copytree(celeba_dir, dst)
    return dst


def _rewrite(path, fn):
    lines = path.read_text().splitlines()
    path.write_text("\n".join(fn(lines)) + "\n")


def test_reads_official_layout(celeba_dir):
    ds = read_celeba(celeba_dir)
    assert len(ds) == 96 and ds.source == "celeba"
    assert "Male" in ds.labels and "Eyeglasses" in ds.labels
    assert set(ds.frame["split"]) <= {"train", "validation", "test"}
    assert ds.frame[ds.labels].isin([0, 1]).all().all()
    raw = celeba_dir.joinpath("list_attr_celeba.txt").read_text().splitlines()
    header = raw[1].split()
    first = raw[2].split()
    male = int(first[1 + header.index("Male")])
    assert ds.frame.loc[0, "Male"] == (1 if male == 1 else 0)
    assert ds.frame["path"].map(lambda p: p.endswith(first[0])).iloc[0]
    assert ds.has_identity and ds.frame["identity"].nunique() > 5
    assert detect_format(celeba_dir) == "celeba"


def test_kaggle_csv_with_01_values_and_nested_images(copy):
    ds_txt = read_celeba(copy)
    lines = copy.joinpath("list_attr_celeba.txt").read_text().splitlines()
    header = lines[1].split()
    rows = [ln.split() for ln in lines[2:]]
    frame = pd.DataFrame([[r[0]] + [(int(v) + 1) // 2 for v in r[1:]] for r in rows], columns=["image_id", *header])
    copy.joinpath("list_attr_celeba.txt").unlink()
    frame.to_csv(copy / "list_attr_celeba.csv", index=False)
    part = pd.read_csv(copy / "list_eval_partition.txt", sep=" ", header=None, names=["image_id", "partition"])
    copy.joinpath("list_eval_partition.txt").unlink()
    part.to_csv(copy / "list_eval_partition.csv", index=False)
    nested = copy / "img_align_celeba" / "img_align_celeba"
    nested.mkdir()
    for f in (copy / "img_align_celeba").glob("*.jpg"):
        f.rename(nested / f.name)
    ds_csv = read_celeba(copy)
    pd.testing.assert_frame_equal(ds_txt.frame.drop(columns="path"), ds_csv.frame.drop(columns="path"))
    assert ds_csv.frame["path"].iloc[0].startswith(str(nested))


def test_crlf_bom_tabs_and_trailing_spaces_are_accepted(copy):
    ref = read_celeba(copy).frame
    p = copy / "list_attr_celeba.txt"
    text = p.read_text().splitlines()
    text = [text[0], text[1]] + [ln.replace(" ", "\t", 1) + "  " for ln in text[2:]]
    p.write_bytes(b"\xef\xbb\xbf" + "\r\n".join(text).encode() + b"\r\n")
    pd.testing.assert_frame_equal(read_celeba(copy).frame, ref)


def test_missing_attribute_file(copy):
    (copy / "list_attr_celeba.txt").unlink()
    with pytest.raises(DataFormatError, match="no attribute file.*list_attr_celeba.txt"):
        read_celeba(copy)


def test_row_with_too_few_fields_names_the_line(copy):
    _rewrite(copy / "list_attr_celeba.txt", lambda ls: ls[:5] + [ls[5].rsplit(" ", 1)[0]] + ls[6:])
    with pytest.raises(DataFormatError, match=r"list_attr_celeba.txt:6: expected 10 fields") as e:
        read_celeba(copy)
    assert e.value.line == 6


def test_header_that_does_not_match_rows(copy):
    _rewrite(copy / "list_attr_celeba.txt", lambda ls: [ls[0], ls[1] + " Extra_Attr"] + ls[2:])
    with pytest.raises(DataFormatError, match=r":3: expected 11 fields .* found 10"):
        read_celeba(copy)


def test_count_line_that_disagrees(copy):
    _rewrite(copy / "list_attr_celeba.txt", lambda ls: ["97"] + ls[1:])
    with pytest.raises(DataFormatError, match="declares 97 images but 96 rows follow"):
        read_celeba(copy)


def test_value_outside_minus_one_zero_one(copy):
    _rewrite(copy / "list_attr_celeba.txt", lambda ls: ls[:4] + [ls[4][:-2] + " 2"] + ls[5:])
    with pytest.raises(DataFormatError, match=r":5: column 'Smiling' must hold -1/0/1 labels, found '2'"):
        read_celeba(copy)


def test_mixed_minus_one_and_zero_is_ambiguous(copy):
    _rewrite(copy / "list_attr_celeba.txt", lambda ls: ls[:4] + [ls[4][:-2] + " 0"] + ls[5:])
    with pytest.raises(DataFormatError, match="mixes -1 and 0"):
        read_celeba(copy)


def test_duplicate_image_ids(copy):
    _rewrite(copy / "list_attr_celeba.txt", lambda ls: ["97"] + ls[1:] + [ls[3]])
    with pytest.raises(DataFormatError, match=r"duplicate image id '000002.jpg' on lines \[4, 99\]"):
        read_celeba(copy)


def test_empty_attribute_file(copy):
    (copy / "list_attr_celeba.txt").write_text("")
    with pytest.raises(DataFormatError, match="empty attribute file"):
        read_celeba(copy)


def test_missing_images_error_then_drop(copy):
    for name in ("000005.jpg", "000009.jpg"):
        (copy / "img_align_celeba" / name).unlink()
    with pytest.raises(MissingImagesError, match="2 listed image") as e:
        read_celeba(copy)
    assert e.value.missing == ["000005.jpg", "000009.jpg"]
    ds = read_celeba(copy, missing="drop")
    assert len(ds) == 94 and ds.dropped == ["000005.jpg", "000009.jpg"]
    assert not ds.frame["image_id"].isin(ds.dropped).any()


def test_unknown_label_suggests_the_closest(copy):
    with pytest.raises(ValueError, match="unknown attribute 'Eyeglass'. Did you mean 'Eyeglasses'"):
        read_celeba(copy, labels=["Eyeglass"])
    ds = read_celeba(copy, labels=["Male"])
    assert ds.labels == ["Male"] and "Smiling" not in ds.frame.columns


def test_partition_missing_an_image(copy):
    _rewrite(copy / "list_eval_partition.txt", lambda ls: ls[1:])
    with pytest.raises(DataFormatError, match="1 image.* have no partition"):
        read_celeba(copy)


def test_bad_partition_value(copy):
    _rewrite(copy / "list_eval_partition.txt", lambda ls: [ls[0].split()[0] + " 7"] + ls[1:])
    with pytest.raises(DataFormatError, match="partition value '7'"):
        read_celeba(copy)


def test_without_partition_everything_is_train(copy):
    (copy / "list_eval_partition.txt").unlink()
    (copy / "identity_CelebA.txt").unlink()
    ds = load_dataset(copy)
    assert (ds.frame["split"] == "train").all() and not ds.has_identity


def test_label_matrix_is_int8_zero_one(celeba_dir):
    m = read_celeba(celeba_dir).label_matrix()
    assert m.dtype == np.int8 and set(np.unique(m)) <= {0, 1}
