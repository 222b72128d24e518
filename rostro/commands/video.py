"""``rostro video``: faces tracked through a clip, with attributes and age per track, an annotated copy
and an HTML report; resumable after a kill."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from rostro.commands._base import set_threads
from rostro.files import check_writable

if TYPE_CHECKING:  # the CLI reads VideoConfig before the command runs: it starts without pandas
    import pandas as pd

WORK = ".video-work"  # the unfinished pass's rows and state, inside --out


@dataclass
class VideoConfig:
    """Track every face of ``clip`` (any file FFmpeg reads) and describe each track."""

    clip: str
    out: str = "rostro-report/video"
    model: str | None = None  # a run folder or shipped model's name; None: the shipped model
    every: int = 3  # detect on every n-th frame (and at every shot cut); track in between
    max_seconds: float | None = None  # stop after this much of the clip
    gallery: str | None = None  # name tracks from this face-search gallery (`rostro index`)
    detector: str = "blazeface"  # the predictor's detector; auto falls back to dlib's CNN, seconds a frame
    runtime: str = "onnx"
    annotate: bool = True  # write annotated.mp4
    report: bool = True  # write report.html
    threads: int | None = 1  # small work per frame: 1 thread measured 77 frames/s, all cores 26 (2 busy cores)
    progress: bool = True


@dataclass(kw_only=True)
class VideoResult:
    """The tracks' table, the counts, and where the outputs are."""

    tracks: pd.DataFrame
    out: Path
    n_frames: int
    frames_with_faces: int
    n_detection_frames: int
    n_shots: int
    frames_per_second: float  # this session's pass (detection, tracking, prediction), not the rendering
    seconds: float  # the whole command
    resumed_at: int = 0
    written: int | None = None  # frames in annotated.mp4
    error: str | None = None
    files: list[Path] = field(default_factory=list)

    def lines(self) -> list[str]:
        named = int((self.tracks["name"].fillna("") != "").sum()) if len(self.tracks) else 0
        head = (f"{self.n_frames:,} frames in {self.n_shots} shot(s): faces in {self.frames_with_faces:,} frames, "
                f"{len(self.tracks):,} track(s)" + (f", {named} named" if named else "") + ".")  # fmt: skip
        speed = f"{self.frames_per_second:.1f} frames/s analysed; {self.seconds:.1f} s in all"
        if self.resumed_at:
            speed += f" (resumed at frame {self.resumed_at:,})"
        lines = [head, speed + "."]
        if not len(self.tracks):
            lines.append("No face was found.")
        if self.error:
            lines.append(f"The clip is damaged: {self.error}; the frames before are analysed.")
        return [*lines, *(f"Wrote {p}" for p in self.files)]


def video(cfg: VideoConfig) -> VideoResult:
    """Analyse ``cfg.clip`` into ``cfg.out``: frames.csv, tracks.csv, annotated.mp4, report.html."""
    from rostro.inference.predict import AttributePredictor
    from rostro.video.analyse import VideoAnalyser, check_options
    from rostro.video.outputs import finish

    started = time.perf_counter()
    check_options(cfg.every, cfg.max_seconds)
    set_threads(cfg.threads)
    out = check_writable(cfg.out)
    namer, embedding = None, None
    if cfg.gallery is not None:
        from rostro.video.naming import open_namer

        namer, embedding = open_namer(cfg.gallery)
    predictor = AttributePredictor(cfg.model, runtime=cfg.runtime, detector=cfg.detector, threads=cfg.threads)
    analyser = VideoAnalyser(cfg.clip, out / WORK, predictor, every=cfg.every, max_seconds=cfg.max_seconds,
                             embedding=embedding, progress=cfg.progress)  # fmt: skip
    analysis = analyser.run()
    done = finish(analysis, Path(cfg.clip), out, thresholds=predictor.thresholds, namer=namer, annotate=cfg.annotate,
                  report=cfg.report, max_seconds=cfg.max_seconds, config=cfg)  # fmt: skip
    return VideoResult(
        tracks=done["tracks"], out=out, n_frames=analysis.n_frames, frames_with_faces=done["frames_with_faces"],
        n_detection_frames=analysis.n_detection_frames, n_shots=len(analysis.cuts) + 1,
        frames_per_second=analysis.frames_done_here / max(analysis.seconds, 1e-9),
        seconds=time.perf_counter() - started, resumed_at=analysis.resumed_at, written=done["written"],
        error=analysis.error, files=done["files"],
    )  # fmt: skip
