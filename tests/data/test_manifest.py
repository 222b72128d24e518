import pandas as pd
import pytest

from rostro.data import load_dataset, read_manifest
from rostro.errors import DataFormatError, MissingImagesError
from tests.conftest import save


@pytest.fixture
def manifest(tmp_path, rgb):
    rows = []
    for i in range(40):
        save(rgb, tmp_path / "imgs" / f"{i}.jpg")
        rows.append(
            {
                "file": f"imgs/{i}.jpg",
                "smiling": i % 2,
                "male": -1 if i % 3 else 1,
                "person": f"p{i // 4}",
                "ethnicity": "ab"[i % 2],
                "note": "x",
            }
        )
    path = tmp_path / "faces.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def test_reads_labels_groups_identity(manifest):
    ds = read_manifest(manifest, path_column="file", groups=["ethnicity"], identity="person", seed=0)
    assert ds.labels == ["smiling", "male"] and ds.groups == ["ethnicity"]
    assert ds.frame["male"].sum() == 14 and ds.frame["smiling"].sum() == 20
    assert ds.frame["path"].iloc[0] == str(manifest.parent / "imgs" / "0.jpg")
    per_person = ds.frame.groupby("identity")["split"].nunique()
    assert (per_person == 1).all()
    assert load_dataset(manifest, path_column="file").labels == ["smiling", "male"]


def test_split_column(manifest):
    df = pd.read_csv(manifest)
    df["part"] = ["train", "val", "test", "2"] * 10
    df.to_csv(manifest, index=False)
    ds = read_manifest(manifest, path_column="file", split_column="part")
    assert ds.split_sizes() == {"train": 10, "validation": 10, "test": 20}
    df.loc[3, "part"] = "holdout"
    df.to_csv(manifest, index=False)
    with pytest.raises(DataFormatError, match=r"faces.csv:5: split 'holdout'"):
        read_manifest(manifest, path_column="file", split_column="part")


def test_missing_path_column_suggests(manifest):
    with pytest.raises(DataFormatError, match=r"no path column 'files'. Did you mean 'file'\?"):
        read_manifest(manifest, path_column="files")
    with pytest.raises(DataFormatError, match="no group column 'race'"):
        read_manifest(manifest, path_column="file", groups=["race"])


def test_bad_label_value_names_line(manifest):
    df = pd.read_csv(manifest)
    df.loc[6, "smiling"] = 5
    df.to_csv(manifest, index=False)
    with pytest.raises(DataFormatError, match=r"faces.csv:8: column 'smiling' must hold -1/0/1 labels, found '5'"):
        read_manifest(manifest, path_column="file", labels=["smiling"])


def test_paths_may_not_leave_the_root(manifest):
    df = pd.read_csv(manifest)
    df.loc[2, "file"] = "../outside.jpg"
    df.to_csv(manifest, index=False)
    with pytest.raises(DataFormatError, match=r":4: image path '../outside.jpg' leaves the folder"):
        read_manifest(manifest, path_column="file")
    df.loc[2, "file"] = "/etc/passwd"
    df.to_csv(manifest, index=False)
    with pytest.raises(DataFormatError, match="absolute image path '/etc/passwd' refused"):
        read_manifest(manifest, path_column="file")


def test_missing_images_and_duplicates(manifest):
    (manifest.parent / "imgs" / "3.jpg").unlink()
    with pytest.raises(MissingImagesError, match="1 listed image"):
        read_manifest(manifest, path_column="file")
    assert len(read_manifest(manifest, path_column="file", missing="drop")) == 39
    df = pd.read_csv(manifest)
    df.loc[5, "file"] = df.loc[4, "file"]
    df.to_csv(manifest, index=False)
    with pytest.raises(DataFormatError, match="duplicate image id 'imgs/4.jpg' on lines"):
        read_manifest(manifest, path_column="file", missing="drop")
    df.loc[5, "file"] = "./imgs/../imgs/4.jpg"  # the same image, spelled otherwise
    df.to_csv(manifest, index=False)
    with pytest.raises(DataFormatError, match=r"csv:7: one image listed twice, as 'imgs/4.jpg' \(line 6\) and "
                                              r"'./imgs/../imgs/4.jpg'; list each image once"):  # fmt: skip
        read_manifest(manifest, path_column="file", missing="drop")


def test_empty_and_absent_manifest(tmp_path):
    with pytest.raises(DataFormatError, match="manifest not found"):
        read_manifest(tmp_path / "none.csv")
    (tmp_path / "e.csv").write_text("")
    with pytest.raises(DataFormatError, match="empty manifest"):
        read_manifest(tmp_path / "e.csv")


def test_conventional_column_names_need_no_options(manifest):
    """A manifest with path, identity and split columns reads with defaults; other text columns are groups."""
    df = pd.read_csv(manifest).rename(columns={"file": "path", "person": "identity"})
    df["split"] = ["train", "validation", "test", "train"] * 10
    df.to_csv(manifest, index=False)
    ds = read_manifest(manifest)
    assert ds.labels == ["smiling", "male"] and ds.groups == ["ethnicity", "note"]
    assert ds.has_identity and ds.frame["identity"].iloc[5] == "p1"
    assert ds.split_sizes() == {"train": 20, "validation": 10, "test": 10}
