"""Data-parallel training with torch.distributed (gloo, CPU): N processes follow one process."""

import os
import socket
import subprocess
import sys
import time

import numpy as np
import pandas as pd
import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

from rostro.models.cnn import TrunkHeadNet
from rostro.training.config import TrainConfig
from rostro.training.loop import TrainData, fit

EPOCHS = 3


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _setup():
    """A batch-norm-free, dropout-free model and data: 1 and N processes must then agree to float noise."""
    torch.manual_seed(0)
    trunk = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 16), nn.ReLU())
    model = TrunkHeadNet(trunk, nn.Linear(16, 2), 16)
    rng = np.random.default_rng(0)
    images = rng.integers(0, 255, (90, 8, 8, 3), dtype=np.uint8)
    labels = (images.mean(axis=(1, 2))[:, :2] > 127).astype(np.uint8)
    data = TrainData(images, labels, np.arange(70), np.arange(70, 90))
    cfg = TrainConfig(epochs=EPOCHS, batch_size=16, lr=0.01, imbalance="none", monitor="val_loss", patience=10,
                      progress=False, rotation=15, zoom=0.1)  # fmt: skip
    return model, data, cfg


def _rank(rank: int, size: int, port: int, out: str) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(size), LOCAL_RANK=str(rank), MASTER_ADDR="127.0.0.1",
                      MASTER_PORT=str(port))  # fmt: skip
    torch.set_num_threads(1)
    from rostro.distributed import finish, init_world

    model, data, cfg = _setup()
    fit(model, data, cfg, out, ["a", "b"], world=init_world(timeout_s=60))
    finish()


def test_two_processes_train_the_same_model_as_one(tmp_path):
    model, data, cfg = _setup()
    one = fit(model, data, cfg, tmp_path / "one", ["a", "b"])
    mp.spawn(_rank, args=(2, _port(), str(tmp_path / "two")), nprocs=2, join=True)
    two = torch.load(tmp_path / "two" / "last.pt", weights_only=False)
    for name, w in model.state_dict().items():
        assert torch.allclose(w, two["model"][name], atol=1e-5), name
    hist = pd.read_csv(tmp_path / "two" / "history.csv")
    assert len(hist) == EPOCHS and not (tmp_path / "two" / "history.csv.tmp").exists()
    for col in ("train_loss", "val_loss", "val_mean_accuracy", "val_mean_roc_auc"):
        assert hist[col].to_numpy() == pytest.approx([r[col] for r in one.history], abs=1e-5), col


def _torchrun(args: list[str], *, nproc: int = 2) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "torch.distributed.run", f"--nproc_per_node={nproc}",
           f"--master-port={_port()}", "-m", "rostro", *args]  # fmt: skip
    return subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})  # fmt: skip


def _train_args(data, out, epochs):
    return ["train", str(data), "--out", str(out), "--model", "small_cnn", "--input-size", "32", "--epochs",
            str(epochs), "--batch-size", "16", "--labels", "Male,Smiling", "--threads", "1",
            "--patience", "99"]  # fmt: skip


def test_torchrun_cli_run_is_written_once_and_resumes_after_a_killed_rank(celeba_dir, tmp_path):
    out = tmp_path / "run"
    job = _torchrun(_train_args(celeba_dir, out, 12))
    deadline = time.time() + 120
    while not (out / "last.pt").is_file() and time.time() < deadline and job.poll() is None:
        time.sleep(0.2)
    assert (out / "last.pt").is_file(), job.communicate()[0]
    children = subprocess.run(["ps", "--ppid", str(job.pid), "-o", "pid="], capture_output=True, text=True)
    worker = int(children.stdout.split()[-1])
    os.kill(worker, 9)
    log = job.communicate(timeout=120)[0]
    assert job.returncode != 0
    assert "ChildFailedError" in log and "SIGKILL" in log, log[-2000:]
    done = pd.read_csv(out / "history.csv")
    assert 1 <= len(done) < 12
    again = _torchrun([*_train_args(celeba_dir, out, 12), "--resume"])
    log = again.communicate(timeout=300)[0]
    assert again.returncode == 0, log[-3000:]
    hist = pd.read_csv(out / "history.csv")
    assert hist["epoch"].tolist() == list(range(1, 13))
    assert (out / "run.json").is_file() and (out / "best.pt").is_file()
    assert log.count("Run: ") == 1  # rank 0 alone reports


def test_sharded_predict_and_embed_match_one_process(celeba_dir, tiny_run, tmp_path):
    from rostro.inference.predict import AttributePredictor, collect_paths, predict_table

    imgs = celeba_dir / "img_align_celeba"
    single = predict_table(AttributePredictor(tiny_run), collect_paths(imgs), tmp_path / "one.csv", aligned=True,
                           progress=False)  # fmt: skip
    job = _torchrun(["predict", str(imgs), "--aligned", "--model", str(tiny_run), "--out", str(tmp_path / "two.csv")])
    log = job.communicate(timeout=300)[0]
    assert job.returncode == 0, log[-3000:]
    two = pd.read_csv(tmp_path / "two.csv")
    pd.testing.assert_frame_equal(two, pd.read_csv(tmp_path / "one.csv"), check_exact=False, atol=1e-6)
    assert len(two) == len(single) and log.count("Wrote") == 1
    from typer.testing import CliRunner

    from rostro.cli import app

    args = ["embed", str(celeba_dir), "--aligned", "--model", str(tiny_run), "--workers", "1"]
    assert CliRunner().invoke(app, [*args, "--out", str(tmp_path / "one.parquet")]).exit_code == 0
    job = _torchrun([*args, "--out", str(tmp_path / "two.parquet")])
    log = job.communicate(timeout=300)[0]
    assert job.returncode == 0, log[-3000:]
    emb_one, emb_two = pd.read_parquet(tmp_path / "one.parquet"), pd.read_parquet(tmp_path / "two.parquet")
    assert emb_two["path"].tolist() == emb_one["path"].tolist() and len(emb_two) == 96
    assert np.allclose(np.stack(emb_two["embedding"]), np.stack(emb_one["embedding"]), atol=1e-5)
