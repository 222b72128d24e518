"""Kills and full disks: nothing finished is lost, nothing written is torn."""

import errno
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rostro import files
from rostro import runs as checkpoint

EPOCHS = 6
METRICS = ["epoch", "train_loss", "val_loss", "val_mean_accuracy", "val_mean_balanced_accuracy", "val_mean_roc_auc"]


def _train(data, out, *extra) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "rostro", "train", str(data), "--out", str(out), "--model", "small_cnn",
           "--input-size", "32", "--epochs", str(EPOCHS), "--batch-size", "16", "--labels", "Male,Smiling",
           "--threads", "1", "--patience", "99", *extra]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)


def _rows(path) -> int:
    try:
        return len(path.read_text().splitlines()) - 1
    except FileNotFoundError:
        return 0


def test_sigkill_at_three_points_then_resume_matches_an_uninterrupted_run(celeba_dir, tmp_path):
    ref = _train(celeba_dir, tmp_path / "ref")
    assert ref.wait(300) == 0, ref.stdout.read()[-2000:]
    run = tmp_path / "killed"
    for after_epochs, delay in ((1, 0.0), (3, 0.15), (4, 0.05)):  # seeded points: mid-epoch, just after a write
        job = _train(celeba_dir, run, *(["--resume"] if (run / "last.pt").exists() else []))
        deadline = time.time() + 120
        while _rows(run / "history.csv") < after_epochs and time.time() < deadline and job.poll() is None:
            time.sleep(0.01)
        time.sleep(delay)
        job.send_signal(signal.SIGKILL)
        job.wait(30)
        assert job.returncode == -signal.SIGKILL
        checkpoint.load_checkpoint(run / "last.pt")  # never torn
        assert not list(run.glob("*.tmp"))
    job = _train(celeba_dir, run, "--resume")
    assert job.wait(300) == 0, job.stdout.read()[-2000:]
    a = pd.read_csv(tmp_path / "ref" / "history.csv")[METRICS]
    b = pd.read_csv(run / "history.csv")[METRICS]
    pd.testing.assert_frame_equal(a, b)
    assert (run / "run.json").read_text().count('"best_epoch"') == 1


def test_a_full_disk_is_a_clear_error_and_keeps_earlier_files(celeba_dir, tmp_path, monkeypatch):
    from rostro.commands import train
    from rostro.errors import RostroError
    from rostro.training.config import TrainConfig

    cfg = TrainConfig(data=str(celeba_dir), out=str(tmp_path / "run"), model="small_cnn", input_size=32, epochs=3,
                      labels=["Male"], progress=False, cache_dir=str(tmp_path / "cache"), patience=99)  # fmt: skip
    real = checkpoint.atomic_write_bytes
    calls = {"last.pt": 0}

    def filling(path, data):
        calls["last.pt"] += Path(path).name == "last.pt"
        if calls["last.pt"] > 1:  # the disk fills at epoch 2's checkpoint and stays full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real(path, data)

    for module in (checkpoint, files):  # checkpoints, and the run's text files
        monkeypatch.setattr(module, "atomic_write_bytes", filling)
    with pytest.raises(OSError, match="No space left on device"):
        train(cfg)
    for module in (checkpoint, files):
        monkeypatch.setattr(module, "atomic_write_bytes", real)
    state = checkpoint.load_checkpoint(tmp_path / "run" / "last.pt")  # the last complete write is intact
    shown = pd.read_csv(tmp_path / "run" / "history.csv")  # a complete file, at most one epoch behind last.pt
    assert state["epoch"] < 2 and 0 <= len(state["history"]) - len(shown) <= 1
    assert shown["train_loss"].tolist() == [h["train_loss"] for h in state["history"][: len(shown)]]
    assert not list((tmp_path / "run").glob("*.tmp"))
    from dataclasses import replace

    train(replace(cfg, resume=True))
    assert len(pd.read_csv(tmp_path / "run" / "history.csv")) == 3
    with pytest.raises(RostroError, match="already holds a run"):
        train(cfg)


def test_predict_killed_mid_folder_resumes_without_duplicates(celeba_dir, tiny_run, tmp_path):
    imgs = celeba_dir / "img_align_celeba"
    out = tmp_path / "p.csv"
    cmd = [sys.executable, "-m", "rostro", "predict", str(imgs), "--aligned", "--model", str(tiny_run), "--out",
           str(out), "--batch-size", "4"]  # fmt: skip
    job = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while _rows(out) < 20 and time.time() < deadline and job.poll() is None:
        time.sleep(0.01)
    job.send_signal(signal.SIGKILL)
    job.wait(30)
    assert 0 < _rows(out) < 96
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    resumed = pd.read_csv(out)
    clean = tmp_path / "clean.csv"
    assert subprocess.run([*cmd[:-3], str(clean), "--batch-size", "4"], capture_output=True).returncode == 0
    expected = pd.read_csv(clean)
    assert resumed["path"].is_unique and len(resumed) == 96
    pd.testing.assert_frame_equal(resumed, expected, check_exact=False, atol=1e-6)


def test_training_skips_unreadable_images_and_says_how_many(folders_dir, tmp_path, caplog):
    import logging
    import shutil

    from rostro.commands import train
    from rostro.training.config import TrainConfig

    data = shutil.copytree(folders_dir, tmp_path / "data")
    victims = sorted((data / "train").rglob("*.jpg"))[:3]
    victims[0].write_bytes(b"")
    victims[1].write_bytes(victims[2].read_bytes()[:100])
    victims[2].write_text("not an image")
    cfg = TrainConfig(data=str(data), out=str(tmp_path / "run"), model="small_cnn", input_size=32, epochs=1,
                      progress=False, cache_dir=str(tmp_path / "cache"))  # fmt: skip
    with caplog.at_level(logging.WARNING):
        trained = train(cfg)
        info, run = trained.info, trained.run_dir
    assert "3 unreadable image(s) left out" in caplog.text
    assert (run / "best.pt").is_file() and info.labels


def _parquet_rows(path) -> int:
    try:
        return len(pd.read_parquet(path))
    except (FileNotFoundError, OSError, ValueError):
        return 0


def test_embed_killed_mid_folder_resumes_without_duplicates(celeba_dir, tmp_path):
    out = tmp_path / "e.parquet"
    cmd = [sys.executable, "-m", "rostro", "embed", str(celeba_dir), "--aligned", "--workers", "1", "--chunk", "2",
           "--out", str(out)]  # fmt: skip
    job = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while _parquet_rows(out) == 0 and time.time() < deadline and job.poll() is None:
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)
    job.wait(30)
    kept = _parquet_rows(out)
    assert kept == 40  # the first save: 20 chunks of 2 images
    assert subprocess.run(cmd, capture_output=True).returncode == 0
    resumed = pd.read_parquet(out)
    clean = tmp_path / "clean.parquet"
    assert subprocess.run([*cmd[:-1], str(clean)], capture_output=True).returncode == 0
    expected = pd.read_parquet(clean)
    assert resumed["path"].is_unique and len(resumed) == len(expected) == 96
    assert resumed["path"].tolist() == expected["path"].tolist()
    a, b = np.stack(resumed["embedding"]), np.stack(expected["embedding"])
    np.testing.assert_allclose(a, b, atol=1e-6)
    pd.testing.assert_frame_equal(resumed.drop(columns="embedding"), expected.drop(columns="embedding"))


def test_an_interrupted_run_can_be_evaluated_from_what_it_saved(celeba_dir, tmp_path, monkeypatch):
    import json

    from rostro.commands import EvaluateConfig, evaluate, train
    from rostro.training.config import TrainConfig

    module = sys.modules["rostro.commands.train"]
    real = module.write_training_curves

    def interrupted(history, run_dir, **kw):
        real(history, run_dir, **kw)
        if len(history) == 1:
            raise KeyboardInterrupt  # the user stops the run after its first epoch

    monkeypatch.setattr(module, "write_training_curves", interrupted)
    cfg = TrainConfig(data=str(celeba_dir), out=str(tmp_path / "run"), model="small_cnn", input_size=32, epochs=3,
                      labels=["Male", "Smiling"], progress=False, cache_dir=str(tmp_path / "cache"))  # fmt: skip
    with pytest.raises(KeyboardInterrupt):
        train(cfg)
    info = json.loads((tmp_path / "run" / "run.json").read_text())
    assert info["labels"] == ["Male", "Smiling"] and info["thresholds"] == [0.5, 0.5] and info["best_epoch"] == -1
    result = evaluate(EvaluateConfig(run=str(tmp_path / "run"), split="validation", progress=False)).metrics
    assert result.n > 0 and 0 <= result.summary["mean_accuracy"] <= 1
