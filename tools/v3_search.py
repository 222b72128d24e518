"""Issue 28's search on one GPU: candidate networks trained at once from one training pack, chosen on validation.

    python tools/v3_search.py split PACK N DEST_A DEST_B      # here: a pack in two packs (rows < N, the rest)
    python tools/v3_search.py run PACK_A [PACK_B] --out DIR --budget S   # there: every candidate, S s each
    python tools/v3_search.py run PACK_A --out DIR --smoke    # there: each candidate for a few steps

Each candidate is ``configs/model_v3_net.yaml`` with the overrides in ``CANDIDATES``; its epochs are as many
as its measured speed fits in the budget (written into the run's config.yaml, so the run is reproducible
from it on any machine). ``DIR/summary.json`` holds every history; the best network other than the fast
one, by validation mean accuracy, and the fast one are tarred into DIR for the trip back.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import subprocess
import sys
import tarfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from rostro.data.pack import _INPUTS, _META, _TABLE  # noqa: E402

CONFIG = ROOT / "configs" / "model_v3_net.yaml"
CANDIDATES = {
    "fast": {"model_kwargs": {"widths": [16, 32, 64, 128]}},
    "net48": {"model_kwargs": {"widths": [48, 96, 192, 384]}},
    "net64": {"model_kwargs": {"widths": [64, 128, 256, 512]}},
    "net64wd": {"model_kwargs": {"widths": [64, 128, 256, 512]}, "weight_decay": 0.05, "dropout": 0.3},
}
PART = 15_500_000  # bytes: what comes back is at most 16 MB a file


def _parts(folder: Path) -> tuple[pd.DataFrame, np.ndarray, np.ndarray, dict]:
    saved = np.load(folder / _INPUTS)
    return pd.read_parquet(folder / _TABLE), saved["data"], saved["offsets"], json.loads((folder / _META).read_text())


def _write(dest: Path, table: pd.DataFrame, data: np.ndarray, offsets: np.ndarray, meta: dict) -> None:
    dest.mkdir(parents=True, exist_ok=True)
    table.reset_index(drop=True).to_parquet(dest / _TABLE, index=False)
    with open(dest / _INPUTS, "wb") as fh:
        np.savez(fh, data=data, offsets=offsets)
    (dest / _META).write_text(json.dumps({**meta, "rows": len(table)}, indent=1))


def split(pack: Path, n: int, a: Path, b: Path) -> None:
    """Rows ``< n`` and the rest as two packs, without decoding (WebP bytes are sliced)."""
    table, data, offsets, meta = _parts(pack)
    _write(a, table.iloc[:n], data[: offsets[n]], offsets[: n + 1], meta)
    _write(b, table.iloc[n:], data[offsets[n] :], offsets[n:] - offsets[n], meta)


def join(packs: list[Path], dest: Path) -> Path:
    """Several packs of one layout as one, without decoding."""
    parts = [_parts(p) for p in packs]
    shift = np.cumsum([0] + [len(d) for _, d, _, _ in parts[:-1]])
    offsets = np.concatenate([parts[0][2][:1]] + [o[1:] + s for (_, _, o, _), s in zip(parts, shift, strict=True)])
    table = pd.concat([t for t, _, _, _ in parts], ignore_index=True)
    _write(dest, table, np.concatenate([d for _, d, _, _ in parts]), offsets, parts[0][3])
    return dest


def _probe(cfg, folder: Path, name: str) -> float:
    """Seconds a training step of ``cfg``'s network takes, timed while every worker times its own (so
    the measure includes the others' share of the GPU)."""
    import torch

    from rostro.models.registry import create_model

    (folder / f"ready.{name}").touch()
    t_wait = time.perf_counter()
    while len(list(folder.glob("ready.*"))) < len(CANDIDATES) and time.perf_counter() - t_wait < 90:
        time.sleep(0.5)
    model = create_model("attr_net", num_outputs=41, input_size=64, dropout=cfg.dropout,
                         **cfg.model_kwargs).cuda().to(memory_format=torch.channels_last)  # fmt: skip
    opt = torch.optim.AdamW(model.parameters())
    x = torch.rand(cfg.batch_size, 3, 64, 64, device="cuda").contiguous(memory_format=torch.channels_last)
    for i in range(60):
        if i == 10:
            torch.cuda.synchronize()
            t0 = time.perf_counter()
        with torch.autocast("cuda", dtype=torch.bfloat16):
            loss = model(x).float().square().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    torch.cuda.synchronize()
    return (time.perf_counter() - t0) / 50


def worker(name: str, pack: str, out: str, budget: float, smoke: bool) -> None:
    """One candidate: time a few steps, fit the epochs to the budget, train."""
    from rostro.config import load_config
    from rostro.training.multitask import MultiTaskConfig, train_multitask

    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(message)s", stream=sys.stdout)
    over = CANDIDATES[name]
    dev = os.environ.get("V3_DEVICE", "cuda")  # cpu: a dry run of the smoke test here
    cfg = load_config(MultiTaskConfig, CONFIG, pack=pack, out=out, progress=False, device=dev, **over)
    rows = json.loads((Path(pack) / _META).read_text())["rows"]
    step = _probe(cfg, Path(out).parent, name) if dev == "cuda" else float("nan")
    epoch = step * 1.6 * 0.82 * rows / cfg.batch_size  # augmentation and validation: a margin
    if smoke:
        cfg.epochs, cfg.batch_size = 1, 64
    else:
        cfg.epochs = int(max(4, min(40, budget // epoch)))
    print(f"{name}: {step * 1000:.1f} ms a step, about {epoch:.1f} s an epoch: {cfg.epochs} epochs", flush=True)
    train_multitask(cfg)


def run(packs: list[Path], out: Path, budget: float, smoke: bool) -> None:
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    pack = join(packs, out / "pack") if len(packs) > 1 else packs[0]
    if smoke:  # the first rows (celeba-aligned: training and validation) are enough to run every path
        split(pack, 3000, out / "smoke", out / "rest")
        pack = out / "smoke"
    print(f"pack joined in {time.perf_counter() - t0:.1f} s", flush=True)
    procs = {}
    for name in CANDIDATES:
        log = open(out / f"{name}.log", "w")
        cmd = [sys.executable, __file__, "worker", name, str(pack), str(out / name), str(budget)] + (
            ["--smoke"] * smoke
        )
        procs[name] = (subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT), log)
    deadline = time.perf_counter() + (budget + 150 if not smoke else 240)
    while any(p.poll() is None for p, _ in procs.values()) and time.perf_counter() < deadline:
        time.sleep(2)
    summary = {}
    for name, (p, log) in procs.items():
        if p.poll() is None:
            p.kill()
        log.close()
        run_json, hist = out / name / "run.json", out / name / "history.csv"
        done = p.returncode == 0 and (out / name / "calibration.json").is_file()
        summary[name] = {"done": done, "returncode": p.returncode, "overrides": CANDIDATES[name],
                         "history": pd.read_csv(hist).to_dict("records") if hist.is_file() else [],
                         "validation": json.loads(run_json.read_text())["validation"] if done else None}  # fmt: skip
        tail = (out / f"{name}.log").read_text().splitlines()[-4:]
        print(name, "done" if done else f"NOT done (rc {p.returncode})", *tail, sep="\n  ", flush=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=1, default=str))
    best = max((n for n, s in summary.items() if s["done"] and n != "fast"),
               key=lambda n: summary[n]["validation"]["mean_accuracy"], default=None)  # fmt: skip
    print("validation mean accuracy:", {n: s["history"][-1]["val_mean_accuracy"] if s["history"] else None
                                        for n, s in summary.items()}, "best:", best, flush=True)  # fmt: skip
    for name in [n for n in ("fast", best) if n and summary[n]["done"]]:
        tar = out / f"{name}.tar"
        with tarfile.open(tar, "w") as fh:
            for f in sorted((out / name).iterdir()):
                if f.name not in ("last.pt",):
                    fh.add(f, arcname=f"{name}/{f.name}")
        blob = tar.read_bytes()
        for i in range(0, len(blob), PART):
            (out / f"{name}.tar.{i // PART}").write_bytes(blob[i : i + PART])
        tar.unlink()


if __name__ == "__main__":
    ap = argparse.ArgumentParser()
    ap.add_argument("verb", choices=["split", "run", "worker"])
    ap.add_argument("args", nargs="+")
    ap.add_argument("--out")
    ap.add_argument("--budget", type=float, default=300)
    ap.add_argument("--smoke", action="store_true")
    a = ap.parse_args()
    if a.verb == "split":
        split(Path(a.args[0]), int(a.args[1]), Path(a.args[2]), Path(a.args[3]))
    elif a.verb == "worker":
        worker(a.args[0], a.args[1], a.args[2], float(a.args[3]), a.smoke)
    else:
        run([Path(p) for p in a.args], Path(a.out), a.budget, a.smoke)
