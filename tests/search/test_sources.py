"""What a gallery's sources may be, and the errors for what they may not."""

import pytest

from rostro.errors import RostroError
from rostro.search.sources import parquet_faces, source_kind
from tests.search.conftest import people_vectors, write_embeddings


def test_source_kinds_and_a_flat_folder_called_people(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.jpg").write_bytes(b"\xff\xd8\xff")
    (tmp_path / "people" / "ada").mkdir(parents=True)
    (tmp_path / "people" / "ada" / "a.png").write_bytes(b"\x89PNG\r\n\x1a\n")
    assert source_kind(tmp_path / "flat") == "photos" and source_kind(tmp_path / "people") == "people"
    with pytest.raises(RostroError, match="--kind people: expected one sub-folder of photos per person, found no"):
        source_kind(tmp_path / "flat", "people")


def test_embeddings_of_two_lengths_are_refused_naming_the_file(tmp_path):
    vecs, names = people_vectors(2, 2)
    file = write_embeddings(tmp_path / "e.parquet", vecs, names)
    faces, _ = parquet_faces(file)
    assert faces.vectors.shape == (4, 128) and faces.rows["name"].tolist() == names
    ids = write_embeddings(tmp_path / "ids.parquet", vecs, [7, None, 12, 7.5])  # whole numbers, a gap, a fraction
    assert parquet_faces(ids)[0].rows["name"].tolist() == ["7", "", "12", "7.5"]
    import pandas as pd

    frame = pd.read_parquet(ids)
    frame["image_id"] = pd.array([7, None, 12, 8], "Int64")  # pandas' own missing value survives Parquet
    frame.to_parquet(tmp_path / "na.parquet")
    assert parquet_faces(tmp_path / "na.parquet")[0].rows["name"].tolist() == ["7", "", "12", "8"]
    ragged = write_embeddings(tmp_path / "r.parquet", [v[: 64 if i else 128] for i, v in enumerate(vecs)], names)
    with pytest.raises(RostroError, match=r"r.parquet: embedding: expected one vector of one length .*64: 3, 128: 1"):
        parquet_faces(ragged)
