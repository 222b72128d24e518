"""Scale: cache build time, peak memory and training speed on CelebA-layout sets of growing size.

Run: ``python -m benchmarks.scale [--sizes 10000 50000 200000] [--work /tmp/rostro-scale]``.

Each set is written in CelebA's layout (``img_align_celeba/`` and the three label files,
split 98/1/1 by identity) from a pool of 10,000 synthetic faces, re-encoded under each
name, so every file is decoded on its own. For each size the script runs, in separate
processes: the decoded cache build (wall time, peak RSS), then one short ``rostro train``
(attr_net, 64 px, ``--steps-per-epoch``) on 1 process and, with ``--procs 2``, under
torchrun. Time should grow linearly with the set and memory stay flat.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from rostro.data.synthetic import ATTRIBUTES, make_faces

POOL = 10_000


def write_set(root: Path, n: int, pool: tuple[list[bytes], pd.DataFrame]) -> Path:
    """``n`` images named 000001.jpg.. in CelebA's layout; identities repeat the pool's per copy."""
    blobs, frame = pool
    img_dir = root / "img_align_celeba"
    img_dir.mkdir(parents=True, exist_ok=True)
    names = [f"{i + 1:06d}.jpg" for i in range(n)]
    src = np.arange(n) % len(blobs)
    for name, k in zip(names, src, strict=True):
        (img_dir / name).write_bytes(blobs[k])
    ident = [f"{frame['identity'].iloc[k]}-{i // len(blobs)}" for i, k in enumerate(src)]
    signed = frame[ATTRIBUTES].to_numpy()[src] * 2 - 1
    lines = [str(n), " ".join(ATTRIBUTES)] + [f"{a} " + " ".join(f"{v:2d}" for v in row) for a, row in
                                              zip(names, signed, strict=True)]  # fmt: skip
    (root / "list_attr_celeba.txt").write_text("\n".join(lines) + "\n")
    people = pd.unique(pd.Series(ident))
    part = dict(zip(people, np.random.default_rng(0).choice(3, len(people), p=[0.98, 0.01, 0.01]), strict=True))
    (root / "list_eval_partition.txt").write_text(
        "".join(f"{a} {part[b]}\n" for a, b in zip(names, ident, strict=True))
    )
    (root / "identity_CelebA.txt").write_text("".join(f"{a} {b}\n" for a, b in zip(names, ident, strict=True)))
    return root


_WRAP = (
    "import resource, subprocess, sys; r = subprocess.run(sys.argv[1:]); "
    "print('PEAK', resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); sys.exit(r.returncode)"
)


def timed(cmd: list[str], env: dict | None = None) -> tuple[float, float, str]:
    """(wall seconds, peak RSS in MiB of its largest process, output) of a command run to its end.

    A fresh wrapper process runs each command, so one measurement's peak never carries over.
    """
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", _WRAP, *cmd], capture_output=True, text=True,
                          env={**os.environ, **(env or {})})  # fmt: skip
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd)} failed:\n{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    peak = int(proc.stderr.rsplit("PEAK", 1)[1].split()[0])
    return wall, peak / 1024, proc.stdout + proc.stderr


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="+", default=[10_000, 50_000, 200_000])
    ap.add_argument("--work", type=Path, default=Path("/tmp/rostro-scale"))
    ap.add_argument("--steps", type=int, default=40, help="Training steps (batch 64) per measurement.")
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2], help="Process counts for training speed.")
    ap.add_argument("--keep", action="store_true", help="Keep the generated sets.")
    args = ap.parse_args()
    faces, frame = make_faces(POOL, size=(64, 78), seed=0)
    blobs = []
    for img in faces:
        buf = io.BytesIO()
        Image.fromarray(img).save(buf, format="JPEG", quality=90)
        blobs.append(buf.getvalue())
    print(f"{os.cpu_count()} cores; pool of {POOL:,} synthetic faces, 64 x 78 px JPEG\n")
    print("| images | write set s | cache build s | cache img/s | cache peak RSS MiB | cache MiB | processes | "
          "train img/s | train peak RSS MiB |\n|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    py = sys.executable
    for n in args.sizes:
        root = args.work / f"celeba-{n}"
        shutil.rmtree(root, ignore_errors=True)
        t = time.perf_counter()
        write_set(root, n, (blobs, frame))
        write_s = time.perf_counter() - t
        cache_dir = args.work / "cache"
        shutil.rmtree(cache_dir, ignore_errors=True)
        code = (f"from rostro.data import read_celeba; from rostro.data.cache import build_cache; "
                f"ds = read_celeba({str(root)!r}); c = build_cache(ds.frame['path'], 64, cache_dir={str(cache_dir)!r}, "
                f"progress=False); print(c.images.shape)")  # fmt: skip
        cache_s, cache_rss, _ = timed([py, "-c", code])
        cache_mb = sum(f.stat().st_size for f in cache_dir.glob("*.npy")) / 2**20
        for procs in args.procs:
            out = args.work / f"run-{n}-{procs}"
            shutil.rmtree(out, ignore_errors=True)
            train = ["train", str(root), "--out", str(out), "--model", "attr_net", "--input-size", "64",
                     "--epochs", "1", "--steps-per-epoch", str(args.steps), "--batch-size", "64"]  # fmt: skip
            if procs == 1:
                cmd = [py, "-m", "rostro", *train]
            else:
                cmd = [py, "-m", "torch.distributed.run", f"--nproc_per_node={procs}", "-m", "rostro", *train]
            _, train_rss, _ = timed(cmd, env={"ROSTRO_CACHE": str(cache_dir), "OMP_NUM_THREADS": str(
                max(1, (os.cpu_count() or 1) // procs))})  # fmt: skip
            ips = pd.read_csv(out / "history.csv")["images_per_second"].iloc[-1]
            cells = [f"{n:,}", f"{write_s:.1f}", f"{cache_s:.1f}", f"{n / cache_s:,.0f}", f"{cache_rss:,.0f}",
                     f"{cache_mb:,.0f}", procs, f"{ips:,.0f}", f"{train_rss:,.0f}"]  # fmt: skip
            print("| " + " | ".join(map(str, cells)) + " |", flush=True)
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
