import pytest

from rostro.data.lfw import read_lfw_pairs
from rostro.data.utkface import parse_utkface_name, read_utkface
from rostro.errors import DataFormatError
from tests.conftest import save


def test_utkface_names():
    assert parse_utkface_name("26_1_2_20170116174525125.jpg.chip.jpg") == {
        "age": 26, "gender": 1, "race_code": 2, "race": "Asian", "age_band": "18-29"}  # fmt: skip
    assert parse_utkface_name("61_0_0_20170117190556731.jpg")["age_band"] == "60+"
    with pytest.raises(ValueError, match="found 3 field"):
        parse_utkface_name("39_1_20170116174525125.jpg.chip.jpg")
    with pytest.raises(ValueError, match="broken date"):
        parse_utkface_name("61_1_3_20179917190556731.jpg.chip.jpg")
    with pytest.raises(ValueError, match="fields are not"):
        parse_utkface_name("61_3_3_20170117190556731.jpg.chip.jpg")


def test_utkface_reader_skips_or_fails_on_bad_names(tmp_path, rgb):
    for name in ("20_0_0_20170110223927225.jpg.chip.jpg", "30_1_1_20170110223927225.jpg.chip.jpg",
                 "40_0_2_20170110223927225.jpg.chip.jpg", "50_1_3_20170110223927225.jpg.chip.jpg",
                 "39_1_20170116174525125.jpg.chip.jpg"):  # fmt: skip
        save(rgb, tmp_path / name, format="JPEG")
    ds = read_utkface(tmp_path, fractions=(0.5, 0.25, 0.25))
    assert len(ds) == 4 and ds.dropped == ["39_1_20170116174525125.jpg.chip.jpg"]
    assert ds.frame.sort_values("age")["Male"].tolist() == [1, 0, 1, 0]
    assert set(ds.frame["race"]) == {"White", "Black", "Asian", "Indian"} and ds.groups == [
        "race",
        "gender",
        "age_band",
    ]
    with pytest.raises(DataFormatError, match="39_1_20170116174525125.jpg.chip.jpg: bad UTKFace file name"):
        read_utkface(tmp_path, on_error="raise")


@pytest.fixture
def lfw(tmp_path, rgb):
    for person, n in (("Ann_A", 3), ("Bob_B", 2), ("Cy_C", 1)):
        for i in range(1, n + 1):
            save(rgb, tmp_path / "lfw" / person / f"{person}_{i:04d}.jpg")
    (tmp_path / "pairs.txt").write_text("2\t1\nAnn_A\t1\t2\nAnn_A\t1\tBob_B\t1\nBob_B\t1\t2\nAnn_A\t3\tCy_C\t1\n")
    return tmp_path


def test_lfw_pairs_both_line_kinds(lfw):
    pairs = read_lfw_pairs(lfw)
    assert pairs["fold"].tolist() == [0, 0, 1, 1] and pairs["same"].tolist() == [True, False, True, False]
    assert pairs.loc[1, "path_b"].endswith("Bob_B/Bob_B_0001.jpg") and pairs.loc[3, "line"] == 5


def test_lfw_missing_image_names_the_line(lfw):
    (lfw / "pairs.txt").write_text("1\t1\nAnn_A\t1\t9\nAnn_A\t1\tBob_B\t1\n")
    with pytest.raises(DataFormatError, match=r"pairs.txt:2: pair names a missing image .*Ann_A_0009.jpg"):
        read_lfw_pairs(lfw)
    (lfw / "pairs.txt").write_text("1\t2\nAnn_A\t1\t2\n")
    with pytest.raises(DataFormatError, match="announces 1 fold"):
        read_lfw_pairs(lfw)


def test_lfw_eval_scores_every_pair_even_without_a_detected_face(lfw, tmp_path):
    from rostro.commands import LfwConfig, lfw_eval

    res = lfw_eval(LfwConfig(root=str(lfw), workers=1, out=str(tmp_path / "out")))
    folds, result, summary, html = res.folds, res.verification, res.summary, res.html
    assert list(folds["fold"]) == [1, 2] and folds["pairs"].sum() == 4
    assert summary["images"] == 6 and summary["centre_fallback"] == 6  # noise images: no face detected
    assert result.n_genuine == 2 and result.n_impostor == 2 and html.is_file()
    assert (tmp_path / "out" / "lfw_embeddings_centre_flip.parquet").is_file()


def test_lfw_eval_refines_only_the_images_of_doubtful_pairs(lfw, tmp_path):
    import pandas as pd

    from rostro.commands import LfwConfig, lfw_eval

    out = tmp_path / "out"
    plain = lfw_eval(LfwConfig(root=str(lfw), workers=1, out=str(out))).folds
    res = lfw_eval(LfwConfig(root=str(lfw), refine_jitter=2, refine_band=1.9, workers=1, out=str(out)))
    folds, summary = res.folds, res.summary
    assert folds["refined_pairs"].sum() == 4 and summary["refined_images"] == 6 and summary["refine_jitter"] == 2
    assert summary["mean_accuracy_unrefined"] == plain["accuracy"].mean()
    assert len(pd.read_parquet(out / "lfw_embeddings_centre_jitter2.parquet")) == 6
    res = lfw_eval(LfwConfig(root=str(lfw), refine_jitter=2, refine_band=1e-9, workers=1, out=str(out)))
    folds, summary = res.folds, res.summary
    assert folds["refined_pairs"].sum() == 0 and summary["refined_images"] == 0
    assert folds["accuracy"].tolist() == plain["accuracy"].tolist()
    with pytest.raises(ValueError, match="refine_band"):
        LfwConfig(root=str(lfw), refine_jitter=2, refine_band=0)
    assert LfwConfig(root=str(lfw), refine_jitter=2, refine_band=2).refine_band == 2  # every pair
    with pytest.raises(ValueError, match=r"expected in \(0, 2\] \(2: every pair\), got 2.5"):
        LfwConfig(root=str(lfw), refine_jitter=2, refine_band=2.5)


def test_verify_eval_cli_refines_and_names_a_bad_band(lfw, tmp_path):
    from typer.testing import CliRunner

    from rostro.cli import app

    args = ["verify-eval", "--lfw", str(lfw), "--refine-jitter", "1", "--out", str(tmp_path / "o")]
    res = CliRunner().invoke(app, [*args, "--refine-band", "1.9"])
    assert res.exit_code == 0, res.output
    assert "6 images of pairs near the threshold re-embedded with 1 jittered copies" in res.output
    res = CliRunner().invoke(app, [*args, "--refine-band", "-1"])
    assert res.exit_code != 0 and "refine_band is how far from the threshold" in res.output
