"""Real full and read-only disks: a small tmpfs and a read-only bind mount where this machine lets
root mount them (else a folder without write permission for other users; else skipped, the
injected-ENOSPC test in test_no_lost_work still runs). Each entry point stops with one line
naming the file and the reason; inputs and earlier outputs are left as they were."""

import hashlib
import os
import shutil
import subprocess
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from rostro.cli import app


def _mount(*args: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    return subprocess.run(["mount", *args], capture_output=True).returncode == 0


@contextmanager
def _mounted(target: Path, *args: str):
    if not _mount(*args, str(target)):
        yield False
        return
    try:
        yield True
    finally:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


@contextmanager
def read_only(folder: Path):
    """Make ``folder`` read-only with its content kept: a read-only bind mount, else chmod for non-root."""
    with _mounted(folder, "--bind", str(folder)) as bound:
        if bound:
            if subprocess.run(["mount", "-o", "remount,ro,bind", str(folder)], capture_output=True).returncode == 0:
                yield
                return
        if os.geteuid() == 0:
            pytest.skip("root here cannot mount a read-only folder, and chmod does not stop root")
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(0o755)


def _digest(folder: Path) -> dict[str, str]:
    return {str(p): hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.rglob("*")) if p.is_file()}


def _one_line_error(res, *fragments: str, entry: str = "") -> None:
    text = " ".join(res.output.split())
    assert res.exit_code == 2, (entry, res.output)
    assert "Traceback" not in res.output and text.startswith("error:"), (entry, res.output)
    for fragment in fragments:
        assert fragment in text, (entry, fragment, text)


def test_a_read_only_output_folder_stops_every_writer_and_keeps_what_was_there(celeba_dir, tiny_run, tmp_path):
    imgs = celeba_dir / "img_align_celeba"
    out = tmp_path / "out"
    out.mkdir()
    first = CliRunner().invoke(app, ["predict", str(imgs), "--aligned", "--model", str(tiny_run), "--out",
                                     str(out / "p.csv")])  # fmt: skip
    assert first.exit_code == 0, first.output
    before_out, before_in = _digest(out), _digest(celeba_dir)
    more = tmp_path / "more"
    shutil.copytree(imgs, more)
    (more / "extra.jpg").write_bytes((imgs / "000001.jpg").read_bytes())
    reason = "Read-only file system" if os.geteuid() == 0 else "Permission denied"
    with read_only(out):
        runs = {
            "predict": ["predict", str(more), "--aligned", "--model", str(tiny_run), "--out", str(out / "p.csv")],
            "embed": ["embed", str(celeba_dir), "--aligned", "--out", str(out / "e.parquet")],
            "train": ["train", str(celeba_dir), "--out", str(out / "run"), "--epochs", "1", "--model", "small_cnn"],
            "eda": ["eda", str(celeba_dir), "--out", str(out / "eda")],
        }
        for name, args in runs.items():
            res = CliRunner().invoke(app, args)
            _one_line_error(res, reason, str(out), entry=name)
    assert _digest(out) == before_out and _digest(celeba_dir) == before_in


def test_a_full_disk_keeps_whole_rows_and_the_run_resumes_elsewhere(celeba_dir, tiny_run, tmp_path):
    imgs = celeba_dir / "img_align_celeba"
    disk = tmp_path / "disk"
    disk.mkdir()
    with _mounted(disk, "-t", "tmpfs", "-o", "size=8k", "tmpfs") as mounted:
        if not mounted:
            pytest.skip("no tmpfs can be mounted here (the injected-ENOSPC test covers the code path)")
        before_in = _digest(celeba_dir)
        args = ["predict", str(imgs), "--aligned", "--model", str(tiny_run), "--batch-size", "8", "--out"]
        res = CliRunner().invoke(app, [*args, str(disk / "p.csv")])
        _one_line_error(res, "No space left on device", str(disk / "p.csv"))
        kept = (disk / "p.csv").read_bytes()
        shutil.copy(disk / "p.csv", tmp_path / "p.csv")
        shutil.copy(disk / ".p.csv.json", tmp_path / ".p.csv.json")
    assert kept.endswith(b"\n")  # whole rows only: the failed batch was cut back
    rows = pd.read_csv(tmp_path / "p.csv")
    assert 0 < len(rows) < 96 and len(rows) % 8 == 0
    assert _digest(celeba_dir) == before_in
    res = CliRunner().invoke(app, [*args, str(tmp_path / "p.csv")])
    assert res.exit_code == 0, res.output
    resumed = pd.read_csv(tmp_path / "p.csv")
    assert resumed["path"].is_unique and len(resumed) == 96
    pd.testing.assert_frame_equal(resumed.iloc[: len(rows)], rows)
