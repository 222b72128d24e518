"""Distillation data: soft-label tables are read strictly and their images join training only."""

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from rostro.commands import EvaluateConfig, evaluate, train
from rostro.data.soft import StackedImages, read_soft_labels
from rostro.data.synthetic import make_faces, write_celeba
from rostro.errors import DataFormatError
from rostro.runs import load_run
from rostro.training.config import TrainConfig

LABELS = ["Male", "Smiling"]


def _table(tmp_path, frame: pd.DataFrame, name: str = "soft.csv"):
    path = tmp_path / name
    frame.to_csv(path, index=False)
    return path


def test_reader_resolves_paths_and_leaves_out_failed_rows(tmp_path):
    frame = pd.DataFrame({
        "path": ["a.jpg", "b.jpg", "c.jpg", str(tmp_path / "d.jpg")],
        "face_found": [True, False, True, True],
        "error": ["", "no face found", "corrupt or unreadable image", ""],
        "Male": [0.9, 0.5, 0.5, 0.1], "Smiling": [0.2, 0.5, 0.5, 1.0], "Bald": [0.0, 0.0, 0.0, 0.0],
    })  # fmt: skip
    table = read_soft_labels(_table(tmp_path, frame), LABELS)
    assert table.columns.tolist() == ["path", *LABELS]
    assert table["path"].tolist() == [str(tmp_path / "a.jpg"), str(tmp_path / "d.jpg")]
    np.testing.assert_allclose(table[LABELS].to_numpy(), [[0.9, 0.2], [0.1, 1.0]], rtol=1e-6)
    assert table[LABELS].dtypes.eq(np.float32).all()


@pytest.mark.parametrize(
    "frame, message",
    [
        (pd.DataFrame({"file": ["a.jpg"], "Male": [0.5], "Smiling": [0.5]}), "expected a 'path' column"),
        (pd.DataFrame({"path": ["a.jpg"], "male": [0.5], "Smiling": [0.5]}), "Did you mean 'male'?"),
        (pd.DataFrame({"path": ["a.jpg", "b.jpg"], "Male": [0.5, 1.5], "Smiling": [0.5, 0.5]}), ":3: Male must be"),
        (pd.DataFrame({"path": ["a.jpg"], "Male": ["yes"], "Smiling": [0.5]}), "found 'yes'"),
    ],
)
def test_reader_names_what_is_wrong(tmp_path, frame, message):
    with pytest.raises(DataFormatError, match=message):
        read_soft_labels(_table(tmp_path, frame), LABELS)


def test_reader_names_a_missing_table(tmp_path):
    with pytest.raises(DataFormatError, match="soft-label table not found"):
        read_soft_labels(tmp_path / "nope.parquet", LABELS)


def test_stacked_images_index_like_one_array():
    rng = np.random.default_rng(0)
    a, b = rng.integers(0, 255, (5, 4, 4, 3), np.uint8), rng.integers(0, 255, (3, 4, 4, 3), np.uint8)
    stacked, both = StackedImages(a, b), np.concatenate([a, b])
    rows = np.array([0, 4, 5, 7, 2, 6])
    assert len(stacked) == 8 and stacked.shape == both.shape
    np.testing.assert_array_equal(stacked[rows], both[rows])
    with pytest.raises(ValueError, match="cannot stack"):
        StackedImages(a, b[:, :2])


def test_teacher_scored_faces_join_the_training_split_only(tmp_path, caplog):
    """A teacher that says the opposite of the truth about Male, on 400 extra faces against about
    70 labelled ones, must drag the student's Male below chance (validation AUC 0.28 here, 0.72
    without the teacher); validation keeps its own labels."""
    data = write_celeba(tmp_path / "celeba", 240, size=(44, 54), seed=5)
    names = [ln.split()[0] for ln in (data / "list_eval_partition.txt").read_text().splitlines()]
    (data / "list_eval_partition.txt").write_text("".join(f"{n} 0\n" for n in names))  # split by fractions
    images, frame = make_faces(400, size=(44, 54), seed=11)
    extra = tmp_path / "extra"
    extra.mkdir()
    rows = []
    for i, img in enumerate(images):
        Image.fromarray(img).save(extra / f"{i}.png")
        rows.append({"path": f"extra/{i}.png", "Male": 0.95 - 0.9 * frame["Male"].iloc[i],
                     "Smiling": 0.05 + 0.9 * frame["Smiling"].iloc[i]})  # fmt: skip
    (extra / "broken.png").write_text("not an image")  # left out with a warning, not a crash
    rows.append({"path": "extra/broken.png", "Male": 0.5, "Smiling": 0.5})
    soft = _table(tmp_path, pd.DataFrame(rows))
    base = dict(data=str(data), fractions=(0.3, 0.6, 0.1), model="small_cnn", input_size=32, epochs=8, labels=LABELS,
                progress=False, cache_dir=str(tmp_path / "cache"), monitor="val_loss", seed=0)  # fmt: skip

    def male_auc(name: str, **kw) -> float:
        trained = train(TrainConfig(out=str(tmp_path / name), **base, **kw))
        run_dir = trained.run_dir
        res = evaluate(EvaluateConfig(run=str(run_dir), split="validation", progress=False,
                                      out=str(tmp_path / name / "ev"))).metrics  # fmt: skip
        return res.table.loc["Male", "roc_auc"]

    plain, student = male_auc("plain"), male_auc("student", soft_labels=str(soft))
    assert student < 0.4 < 0.6 < plain, (plain, student)  # chance is 0.5
    assert "1 unreadable soft-labelled image(s) left out" in caplog.text
    assert load_run(tmp_path / "student")[1].data["soft_labels"] == str(soft)  # the run says what taught it
