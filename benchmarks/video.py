"""How well ``rostro video`` follows people through the Hamilton clip, against a hand-made truth.

Run: ``python -m benchmarks.video [--clip ../shared/data/video/short_hamilton_clip.mp4] [--model v2]
[--every 3] [--out benchmarks/work/video]``.

``benchmarks/video_truth.csv`` lists who is on screen, by hand from frames extracted with PyAV: per
person and frame range, the region where the face's centre lies. The command runs once as a
subprocess (``rostro video``, start-up included, timed from outside); its ``frames.csv`` is then
scored: a track's box belongs to the listed person whose region holds its centre.

- *faces missed*: person-frames with no track box on that person;
- *ID switches*: changes of track along a person's frames within one shot;
- *fragmented*: person-shots covered by more than one track (and the extra tracks);
- *unmatched tracks*: tracks on nobody listed (out-of-focus audience, false detections);
- *flicker*: within a person, over the frames where a confident detection gives answers, the standard
  deviation of the per-frame answers (Male probability, age) against the standard deviation of the
  answer of the track each of those frames belongs to (what the outputs give per track), averaged
  over people.

Prints one table and writes ``benchmarks/results/video.{md,json}``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT.parent / "shared" / "data" / "video" / "short_hamilton_clip.mp4"
TRUTH = ROOT / "benchmarks" / "video_truth.csv"


def assign(frames: pd.DataFrame, truth: pd.DataFrame) -> pd.Series:
    """The listed person each row's box belongs to ('' for none): among the people whose region holds the box's
    centre, the one whose region the box overlaps most (regions of neighbours in the audience overlap)."""
    cx, cy = (frames["left"] + frames["right"]) / 2, (frames["top"] + frames["bottom"]) / 2
    who = pd.Series("", index=frames.index, dtype=object)
    best = pd.Series(0.0, index=frames.index)
    for t in truth.itertuples():
        overlap = (np.minimum(frames["right"], t.right) - np.maximum(frames["left"], t.left)).clip(lower=0) * (
            np.minimum(frames["bottom"], t.bottom) - np.maximum(frames["top"], t.top)
        ).clip(lower=0)
        on = (frames["frame"].between(t.first_frame, t.last_frame) & cx.between(t.left, t.right)
              & cy.between(t.top, t.bottom) & (overlap > best))  # fmt: skip
        who[on], best[on] = t.person, overlap[on]
    return who


def score(frames: pd.DataFrame, tracks: pd.DataFrame, truth: pd.DataFrame) -> dict:
    frames = frames.assign(person=assign(frames, truth))
    # a track is the person most of its rows fall on
    owner = frames[frames["person"] != ""].groupby("track")["person"].agg(lambda s: s.value_counts().index[0])
    unmatched = sorted(set(tracks["track"]) - set(owner.index))
    truth_frames = sum(t.last_frame - t.first_frame + 1 for t in truth.itertuples())
    covered = frames[frames["person"] != ""].drop_duplicates(["frame", "person"])
    switches = fragmented = extra = 0
    for _, rows in covered.sort_values("frame").groupby(["person", "shot"]):
        ids = rows["track"].to_numpy()
        switches += int((ids[1:] != ids[:-1]).sum())
        n = len(set(ids))
        fragmented += n > 1
        extra += n - 1
    male_f, male_t, age_f, age_t = [], [], [], []
    mean = tracks.set_index("track")
    det = frames[frames["Male"].notna() & (frames["person"] != "")]  # frames with their own answers
    for _, rows in det.groupby("person"):
        if len(rows) < 2:
            continue
        male_f.append(rows["Male"].std(ddof=0))
        male_t.append(mean.loc[rows["track"], "Male"].std(ddof=0))
        age_f.append(rows["age"].std(ddof=0))
        age_t.append(mean.loc[rows["track"], "age"].std(ddof=0))
    return {
        "frames with a face": int(frames["frame"].nunique()), "tracks": len(tracks),
        "tracks on a listed person": int(len(owner)), "unmatched tracks": len(unmatched),
        "listed person-frames": truth_frames, "faces missed (person-frames)": truth_frames - len(covered),
        "ID switches": switches, "fragmented person-shots": fragmented, "extra tracks from fragmentation": extra,
        "Male std within a person: per-frame answers": float(np.mean(male_f)),
        "Male std within a person: their track's answer": float(np.mean(male_t)),
        "age std within a person (years): per-frame answers": float(np.mean(age_f)),
        "age std within a person (years): their track's answer": float(np.mean(age_t)),
    }  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clip", default=str(CLIP))
    parser.add_argument("--model", default=None, help="run folder or shipped model name; none: the default")
    parser.add_argument("--every", type=int, default=None)
    parser.add_argument("--out", default=str(ROOT / "benchmarks" / "work" / "video"))
    args = parser.parse_args()
    cmd = [sys.executable, "-m", "rostro", "video", args.clip, "--out", args.out, "--no-progress"]
    cmd += ["--model", args.model] if args.model else []
    cmd += ["--every", str(args.every)] if args.every else []
    start = time.perf_counter()
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT)
    wall = time.perf_counter() - start
    if run.returncode:
        sys.exit(f"rostro video failed:\n{run.stdout}\n{run.stderr}")
    out = Path(args.out)
    frames, tracks = pd.read_csv(out / "frames.csv"), pd.read_csv(out / "tracks.csv")
    figures = score(frames, tracks, pd.read_csv(TRUTH))
    import av

    with av.open(str(out / "annotated.mp4")) as c:
        annotated = sum(1 for _ in c.decode(video=0))
    speed = next((line for line in run.stdout.splitlines() if "frames/s" in line), "")
    load = os.getloadavg()[0]
    figures |= {"annotated.mp4 frames": annotated, "pass (frames/s)": speed.split(" frames/s")[0],
                "whole command, start-up included (s)": round(wall, 2),
                "load average while measured (2 cores)": round(load, 2)}  # fmt: skip
    table = pd.DataFrame({"figure": list(figures), "value": [_fmt(v) for v in figures.values()]})
    print(f"rostro video {Path(args.clip).name} (--every {args.every or 'default'}, model {args.model or 'default'})")
    print(table.to_string(index=False))
    results = ROOT / "benchmarks" / "results"
    results.mkdir(parents=True, exist_ok=True)
    (results / "video.json").write_text(json.dumps(figures, indent=1))
    (results / "video.md").write_text(table.to_markdown(index=False) if _has_tabulate() else table.to_string())


def _fmt(v) -> str:
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
