"""Load test of ``rostro serve``: concurrent clients on loopback for a bounded time.

Run: ``python -m benchmarks.load [--clients 50] [--seconds 60] [--queue 64 16] [--photos DIR]``;
the soak is ``--seconds 300 --mix`` (good, bad and oversized uploads; RSS sampled every 10 s).
Starts the service in a subprocess, sends photos to ``/analyze`` from N concurrent clients,
and prints requests/s, p50/p95/p99 latency, 503s and other errors. ``--compare N`` also
times ``rostro predict`` (the batch path, same process) and ``/analyze`` on the same N photos.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np

from rostro.data.images import list_images
from rostro.inference.predict import AttributePredictor, sample_photo

ROOT = Path(__file__).resolve().parents[1]


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(queue: int) -> tuple[subprocess.Popen, str]:
    port = _port()
    cmd = [sys.executable, "-m", "rostro", "serve", "--port", str(port), "--max-queue", str(queue)]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 120
    while time.time() < deadline:
        try:
            if httpx.get(url + "/health", timeout=2).status_code == 200:
                return proc, url
        except httpx.HTTPError:
            time.sleep(0.5)
    proc.kill()
    raise SystemExit("the server did not start within 120 s")


async def _client(url: str, photos: list[bytes], stop: float, seed: int, out: list) -> None:
    rng = np.random.default_rng(seed)
    async with httpx.AsyncClient(timeout=600) as c:
        while time.perf_counter() < stop:
            data = photos[rng.integers(len(photos))]
            t = time.perf_counter()
            try:
                r = await c.post(url + "/analyze", files={"file": ("photo.jpg", data)})
                out.append((time.perf_counter() - t, r.status_code))
            except httpx.HTTPError as exc:
                out.append((time.perf_counter() - t, type(exc).__name__))


def _rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


async def _sample_rss(pid: int, every: float, stop: float, samples: list) -> None:
    while time.perf_counter() < stop:
        samples.append(_rss_mib(pid))
        await asyncio.sleep(every)


async def load(url: str, photos: list[bytes], clients: int, seconds: float, pid: int | None = None) -> dict:
    """Requests that started before the deadline all finish; figures cover every one of them.

    Answers are counted by kind: 200, 4xx (refused bad input, as designed), 503 (queue
    full) and server errors (any other 5xx or a broken connection), which must stay 0.
    """
    out: list = []
    rss: list = []
    start = time.perf_counter()
    tasks = [_client(url, photos, start + seconds, i, out) for i in range(clients)]
    if pid is not None:
        tasks.append(_sample_rss(pid, 10.0, start + seconds, rss))
    await asyncio.gather(*tasks)
    wall = time.perf_counter() - start
    if pid is not None:
        rss.append(_rss_mib(pid))
    ok = np.array([t for t, s in out if s == 200])
    busy = sum(1 for _, s in out if s == 503)
    refused = sum(1 for _, s in out if isinstance(s, int) and 400 <= s < 500)
    return {"clients": clients, "requests": len(out), "ok": len(ok), "refused_4xx": refused, "busy_503": busy,
            "errors": len(out) - len(ok) - busy - refused, "wall_s": wall, "rps": len(ok) / wall,
            "rss_start": rss[0] if rss else float("nan"), "rss_peak": max(rss) if rss else float("nan"),
            "rss_end": rss[-1] if rss else float("nan"), "rss_series": rss,
            **{f"p{q}": float(np.percentile(ok, q)) if len(ok) else float("nan") for q in (50, 95, 99)}}  # fmt: skip


def compare(url: str, paths: list[Path]) -> dict:
    """Photos/s of ``rostro predict``'s batch path and of sequential and 4-way ``/analyze``."""
    pred = AttributePredictor()
    pred.predict_paths(paths[:2], progress=False)
    t = time.perf_counter()
    pred.predict_paths(paths, progress=False)
    batch = len(paths) / (time.perf_counter() - t)
    data = [p.read_bytes() for p in paths]
    with httpx.Client(timeout=600) as c:
        t = time.perf_counter()
        for d in data:
            c.post(url + "/analyze", files={"file": ("p.jpg", d)}).raise_for_status()
        sequential = len(paths) / (time.perf_counter() - t)

    async def four():
        async with httpx.AsyncClient(timeout=600) as c:
            sem = asyncio.Semaphore(4)

            async def one(d):
                async with sem:
                    (await c.post(url + "/analyze", files={"file": ("p.jpg", d)})).raise_for_status()

            await asyncio.gather(*(one(d) for d in data))

    t = time.perf_counter()
    asyncio.run(four())
    return {"photos": len(paths), "predict_batch": batch, "analyze_sequential": sequential,
            "analyze_4_clients": len(paths) / (time.perf_counter() - t)}  # fmt: skip


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=50)
    ap.add_argument("--seconds", type=float, default=60)
    ap.add_argument("--queue", type=int, nargs="+", default=[64, 16], help="Queue limits to test, one run each.")
    default_photos = ROOT.parent / "shared" / "data" / "celeba-wild" / "img_celeba"
    ap.add_argument("--photos", type=Path, default=default_photos if default_photos.is_dir() else None)
    ap.add_argument("--limit", type=int, default=200, help="Photos to draw requests from.")
    ap.add_argument("--compare", type=int, default=0, help="Also time predict vs /analyze on N photos.")
    ap.add_argument("--mix", action="store_true", help="Soak: add bad and oversized uploads to the good photos.")
    args = ap.parse_args()
    paths = list_images(args.photos)[: args.limit] if args.photos else [sample_photo()]
    photos = [p.read_bytes() for p in paths]
    if args.mix:  # one in five requests: not an image, a truncated JPEG, or 11 MB (over the 10 MB limit)
        bad = [b"not an image at all", photos[0][: len(photos[0]) // 3], b"\xff" * (11 * 2**20)]
        photos = photos + bad * max(1, len(photos) // 12)
    print(f"{os.cpu_count()} cores; {len(photos)} photos from {args.photos or 'matplotlib sample'}\n")
    head = ["clients", "queue limit", "seconds", "requests", "ok", "4xx (bad input)", "503", "server errors",
            "requests/s", "p50 s", "p95 s", "p99 s", "RSS MiB start / peak / end"]  # fmt: skip
    print("| " + " | ".join(head) + " |\n" + "|---" * len(head) + "|")
    series: dict[int, list[float]] = {}
    for queue in args.queue:
        proc, url = start_server(queue)
        try:
            r = asyncio.run(load(url, photos, args.clients, args.seconds, pid=proc.pid))
            cells = [r["clients"], queue, f"{r['wall_s']:.0f}", r["requests"], r["ok"], r["refused_4xx"], r["busy_503"],
                     r["errors"], *(f"{r[k]:.2f}" for k in ("rps", "p50", "p95", "p99")),
                     f"{r['rss_start']:.0f} / {r['rss_peak']:.0f} / {r['rss_end']:.0f}"]  # fmt: skip
            print("| " + " | ".join(map(str, cells)) + " |", flush=True)
            series[queue] = r["rss_series"]
            if args.compare and queue == args.queue[0]:
                c = compare(url, paths[: args.compare])
        finally:
            proc.terminate()
            proc.wait(30)
    for queue, rss in series.items():
        half = rss[len(rss) // 2] if rss else float("nan")
        print(f"\nRSS MiB every 10 s, queue {queue}: " + " ".join(f"{v:.0f}" for v in rss)
              + f"\n  second half of the run: {half:.0f} -> {rss[-1]:.0f} ({rss[-1] - half:+.0f} MiB)")  # fmt: skip
    if args.compare:
        print(f"\nSame {c['photos']} photos: `rostro predict` batch {c['predict_batch']:.2f} photos/s; /analyze "
              f"sequential {c['analyze_sequential']:.2f}/s, 4 clients {c['analyze_4_clients']:.2f}/s")  # fmt: skip


if __name__ == "__main__":
    main()
