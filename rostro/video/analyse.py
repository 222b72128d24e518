"""One pass over a clip: detect faces (every n-th frame and at every shot cut), track them between,
predict attributes and age on detection frames, and sum them per track.

Nothing of the clip is held: frames stream through, rows go to ``WORK/frames.csv`` and finished
tracks to ``WORK/tracks.jsonl`` a chunk at a time (appended and fsynced), and after each chunk the
state of what is still open (tracker, shot test, live tracks' sums, rows not yet written, and both
files' sizes) is saved to ``WORK/state.json``, so memory and each save stay the same size however
long the clip. A killed run started again with the
same options continues after the last saved chunk and ends with the same outputs as a run never
stopped. The final files are made from the work folder by :mod:`rostro.video.outputs`.
"""

from __future__ import annotations

import base64
import io
import json
import logging
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from rostro.errors import RostroError
from rostro.faces.detection import Face, detect_faces
from rostro.faces.embedding import embed_faces
from rostro.files import atomic_write_text, check_resumable
from rostro.progress import progress_bar
from rostro.video.decode import Frame, VideoInfo, VideoLimits, VideoReader
from rostro.video.tracking import THUMB, ShotDetector, Track, Tracker

log = logging.getLogger(__name__)
FRAME_FIXED = ["frame", "time", "shot", "track", "detected", "left", "top", "right", "bottom", "score"]
STATE_VERSION = 2
EMBED_FIRST = 8  # a track's face embedding is sampled on its first detections, then every EMBED_EVERY-th
EMBED_EVERY = 8
THUMB_HEIGHT = 96
LOW_SCORE = 0.3  # BlazeFace detections from here to the tracker's ``high`` only keep a confirmed track going


@dataclass
class Sums:
    """A track's running totals: attribute probabilities and numeric outputs over its detections,
    its face-network descriptors, its frames and its best thumbnail (the largest face)."""

    shot: int
    first_frame: int
    first_time: float
    last_frame: int = -1
    last_time: float = 0.0
    n_frames: int = 0
    n_detections: int = 0
    probabilities: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    embedding: list[float] = field(default_factory=list)
    n_embedded: int = 0
    thumb_area: float = 0.0
    thumb: str = ""  # JPEG, base64


@dataclass
class Analysis:
    """What the pass found: counts for the result, and where the finished tracks are (:func:`read_tracks`)."""

    info: VideoInfo
    labels: list[str]
    values: list[str]
    tracks_file: Path  # finished, confirmed tracks, a JSON line each: id plus Sums fields
    cuts: list[list]  # [frame, time] of each shot cut
    n_frames: int
    n_detection_frames: int
    n_faces: int  # detections
    seconds: float  # wall time of the pass (this session's part, for a resumed run)
    frames_done_here: int
    resumed_at: int
    error: str | None
    work: Path


def check_options(every: int, max_seconds: float | None) -> None:
    """Refuse options no pass can use, before a model or gallery is loaded for it."""
    if every < 1:
        raise RostroError(f"every: expected 1 or more (detect on every n-th frame), found {every}")
    if max_seconds is not None and max_seconds <= 0:
        raise RostroError(f"max_seconds: expected a positive number of seconds, found {max_seconds}")


class VideoAnalyser:
    """The pass, with its saved state: ``run()`` starts or resumes it and returns an :class:`Analysis`.
    Its options are the caller's to check (:func:`check_options`)."""

    def __init__(
        self, clip: str | Path, work: str | Path, predictor, *, every: int = 3, max_seconds: float | None = None,
        embedding: tuple[int, bool] | None = None, chunk: int = 150, progress: bool = False,
        signature: dict | None = None, limits: VideoLimits | None = None, detector: str | None = None,
    ):  # fmt: skip
        self.clip, self.work, self.predictor = Path(clip), Path(work), predictor
        self.every, self.max_seconds, self.embedding, self.chunk = every, max_seconds, embedding, chunk
        self.progress, self.limits = progress, limits
        self.detector = detector or predictor.detector  # the service's predictor runs another chain on photos
        self.labels, self.values = list(predictor.labels), list(predictor.values)
        stat = self.clip.stat() if self.clip.is_file() else None
        self.signature = json.dumps({
            "clip": str(self.clip.resolve()), "size": stat.st_size if stat else None,
            "mtime_ns": stat.st_mtime_ns if stat else None, "model": predictor.fingerprint,
            "detector": self.detector, "runtime": predictor.runtime, "every": every, "max_seconds": max_seconds,
            "tracker": Tracker().settings(), "low_score": LOW_SCORE, "shots": ShotDetector().settings(),
            "embedding": None if embedding is None else list(embedding), **(signature or {}),
        }, sort_keys=True)  # fmt: skip
        self.frames_csv = self.work / "frames.csv"
        self.tracks_jsonl = self.work / "tracks.jsonl"
        self.state_file = self.work / "state.json"
        self._reset()

    def _reset(self) -> None:
        self.tracker = Tracker()
        self.shots = ShotDetector()
        self.shot, self.last_detect, self.next_frame = 0, None, 0
        self.sums: dict[int, Sums] = {}  # live tracks by key
        self.held: dict[int, list[dict]] = {}  # rows of unconfirmed tracks, by key
        self.between: dict[int, float] = {}  # times of the frames since the oldest live track's last detection
        self.pending: list[dict] = []  # rows of confirmed tracks not written yet
        self.finished: list[str] = []  # JSON lines of tracks ended since the last save
        self.cuts: list[list] = []
        self.n_frames = self.n_detection_frames = self.n_faces = 0
        self.done, self.error = False, None

    # state ---------------------------------------------------------------------------------------

    def _load(self) -> bool:
        """Restore a saved state; False when there is none (a fresh start)."""
        if not all(p.is_file() for p in (self.state_file, self.frames_csv, self.tracks_jsonl)):
            return False
        state = json.loads(self.state_file.read_text())
        if state.get("version") != STATE_VERSION:
            raise RostroError(f"{self.state_file}: a video analysis saved by another version of rostro: expected "
                              f"state version {STATE_VERSION}, found {state.get('version')}; delete {self.work} to "
                              "start again")  # fmt: skip
        check_resumable(self.work.parent, state.get("signature"), self.signature, "a video analysis", work=self.work)
        self.tracker = Tracker().restore(state["tracker"])
        self.shots = ShotDetector().restore(state["shots"])
        self.shot, self.last_detect, self.next_frame = state["shot"], state["last_detect"], state["next_frame"]
        self.sums = {int(k): Sums(**v) for k, v in state["sums"].items()}
        self.held = {int(k): v for k, v in state["held"].items()}
        self.between = {int(k): v for k, v in state["between"].items()}
        self.pending, self.cuts = state["pending"], state["cuts"]
        self.n_frames, self.n_detection_frames, self.n_faces = state["counts"]
        self.done, self.error = state["done"], state["error"]
        for path, key in ((self.frames_csv, "frames_csv_bytes"), (self.tracks_jsonl, "tracks_jsonl_bytes")):
            with open(path, "ab") as fh:  # lines appended after the last save are dropped
                fh.truncate(state[key])
        return True

    def _save(self) -> None:
        # rows may still come for a held track's frames and for frames after a live track's last detection
        horizon = min([*(s.first_frame for k, s in self.sums.items() if k in self.held),
                       *(t.frame + 1 for t in self.tracker.tracks)], default=None)  # fmt: skip
        ready = [r for r in self.pending if horizon is None or r["frame"] < horizon]
        self.pending = [r for r in self.pending if not (horizon is None or r["frame"] < horizon)]
        ready.sort(key=lambda r: (r["frame"], r["track"]))
        sizes = [
            _append(self.frames_csv, self._csv(ready)),
            _append(self.tracks_jsonl, "".join(self.finished).encode()),
        ]
        self.finished = []
        state = {
            "version": STATE_VERSION, "signature": self.signature, "tracker": self.tracker.state(),
            "shots": self.shots.state(), "shot": self.shot, "last_detect": self.last_detect,
            "next_frame": self.next_frame, "sums": {k: s.__dict__ for k, s in self.sums.items()},
            "held": self.held, "between": self.between, "pending": self.pending, "cuts": self.cuts,
            "counts": [self.n_frames, self.n_detection_frames, self.n_faces], "done": self.done, "error": self.error,
            "frames_csv_bytes": sizes[0], "tracks_jsonl_bytes": sizes[1],
        }  # fmt: skip
        atomic_write_text(self.state_file, json.dumps(state))

    def _csv(self, rows: list[dict]) -> bytes:
        columns = [*FRAME_FIXED, *self.labels, *self.values]
        return "".join(",".join(_cell(r.get(c)) for c in columns) + "\n" for r in rows).encode("utf-8")

    # the pass ------------------------------------------------------------------------------------

    def run(self) -> Analysis:
        reader = VideoReader(self.clip, max_seconds=self.max_seconds, limits=self.limits)  # a bad clip fails here
        try:
            return self._run(reader)
        finally:
            reader.close()

    def _run(self, reader: VideoReader) -> Analysis:
        self.work.mkdir(parents=True, exist_ok=True)
        resumed = self._load()
        if not resumed:
            self._reset()
            atomic_write_text(self.frames_csv, ",".join([*FRAME_FIXED, *self.labels, *self.values]) + "\n")
            atomic_write_text(self.tracks_jsonl, "")
        start, started = self.next_frame, time.perf_counter()
        total = reader.info.n_frames
        if total and self.max_seconds is not None and reader.info.fps:
            total = min(total, int(np.ceil(self.max_seconds * reader.info.fps)))
        if not self.done:
            reader.start = self.next_frame
            with progress_bar("video {task.fields[fps]}", enabled=self.progress) as bar:
                task = bar.add_task("video", total=total, completed=start, fps="")
                for frame in reader:
                    self._frame(frame)
                    self.next_frame = frame.index + 1
                    done_here = self.next_frame - start
                    rate = done_here / max(time.perf_counter() - started, 1e-9)
                    bar.update(task, completed=self.next_frame, fps=f"{rate:.1f} frames/s")
                    if self.next_frame % self.chunk == 0:
                        self._save()
            self.error = reader.error
            self._close((reader.info.height, reader.info.width), end=True)
            self.done = True
            self._save()
        return Analysis(
            info=reader.info, labels=self.labels, values=self.values, tracks_file=self.tracks_jsonl, cuts=self.cuts,
            n_frames=self.n_frames, n_detection_frames=self.n_detection_frames, n_faces=self.n_faces,
            seconds=time.perf_counter() - started, frames_done_here=self.next_frame - start, resumed_at=start,
            error=self.error, work=self.work,
        )  # fmt: skip

    def _frame(self, frame: Frame) -> None:
        index, t = frame.index, frame.time
        self.n_frames += 1
        if self.shots.is_cut(frame.thumbnail(THUMB)):
            self._close(frame.image.shape)
            self.shot += 1
            self.cuts.append([index, round(t, 4)])
            self.last_detect = None
        if self.last_detect is None or index - self.last_detect >= self.every:
            if self.tracker.tracks:  # a track this pass misses gets this frame's box if it is found again
                self.between[index] = t
            self._detect(index, t, frame.image)
            self.last_detect = index
        elif self.tracker.tracks:  # its boxes come at the next detection pass, between the two detections
            self.between[index] = t

    def _detect(self, index: int, t: float, image: np.ndarray) -> None:
        faces = detect_faces(image, detector=self.detector, landmarks68=self.predictor.needs_landmarks68,
                             min_score=LOW_SCORE)  # fmt: skip
        # BlazeFace's scores are probabilities; another detector's faces all count as confident
        scores = [f.score if f.detector == "blazeface" else 1.0 for f in faces]
        before = {track.key: (track.frame, track.box) for track in self.tracker.tracks}
        tracks, ended = self.tracker.update(index, [f.box for f in faces], scores)
        for track in ended:
            self._end(track)
        kept = [i for i, track in enumerate(tracks) if track is not None]  # low detections no track took go
        faces, tracks = [faces[i] for i in kept], [tracks[i] for i in kept]
        confident = [scores[i] >= self.tracker.high for i in kept]
        probs, values = self._describe(image, [f for f, c in zip(faces, confident, strict=True) if c])
        answer = np.cumsum(confident) - 1  # the row of probs and values of each confident face
        self.n_detection_frames += 1
        self.n_faces += len(faces)
        for track in tracks:
            if track.id is not None:  # confirmed now: release its rows
                self._release(track)
        sampled = []
        for i, (face, track) in enumerate(zip(faces, tracks, strict=True)):
            s = self.sums.get(track.key)
            if s is None:
                s = self.sums[track.key] = Sums(shot=self.shot, first_frame=index, first_time=round(t, 4))
                s.probabilities, s.values = [0.0] * len(self.labels), [0.0] * len(self.values)
                if track.id is None:
                    self.held[track.key] = []
            if track.key in before:  # found again: its boxes since its last detection, interpolated
                self._fill(track, *before[track.key], index, face.box)
            row = {"frame": index, "time": t, "detected": True, "box": list(face.box), "score": face.score}
            if not confident[i]:  # a weak detection carries the box; the answers come from confident ones
                self._row(track, row)
                continue
            k = answer[i]
            s.n_detections += 1
            s.probabilities = [a + float(b) for a, b in zip(s.probabilities, probs[k], strict=True)]
            s.values = [a + float(b) for a, b in zip(s.values, values[k], strict=True)]
            area = float((face.box[2] - face.box[0]) * (face.box[3] - face.box[1]))
            if area > s.thumb_area:
                s.thumb_area, s.thumb = area, _thumbnail(image, face.box)
            if self.embedding is not None and (s.n_detections <= EMBED_FIRST or s.n_detections % EMBED_EVERY == 0):
                sampled.append(i)
            self._row(track, row | {"probabilities": probs[k], "values": values[k]})
        oldest = min((track.frame for track in self.tracker.tracks), default=index)
        self.between = {f: v for f, v in self.between.items() if f > oldest}
        if sampled:
            jitter, flip = self.embedding  # as the gallery's faces were described
            vecs = embed_faces(image, [faces[i] for i in sampled], jitter=jitter, flip=flip)
            for i, v in zip(sampled, vecs, strict=True):
                s = self.sums[tracks[i].key]
                s.embedding = [a + float(b) for a, b in zip(s.embedding or [0.0] * len(v), v, strict=True)]
                s.n_embedded += 1

    def _close(self, shape: tuple[int, ...], *, end: bool = False) -> None:
        """A shot cut or the clip's ``end``: every track ends. One found at its last pass keeps its face to the end,
        its boxes moved on at its velocity (no later pass can say it left). A clip with one detection pass in all
        (shorter than ``every`` frames) confirms its confident faces, which no second pass could."""
        h, w = shape[:2]
        for track in self.tracker.end_all():
            s = self.sums.get(track.key)
            if end and self.n_detection_frames == 1 and track.id is None and s is not None and s.n_detections:
                self.tracker.confirm(track)
                self._release(track)
            if track.misses == 0 and track.key in self.sums:
                for frame in sorted(f for f in self.between if f > track.frame):
                    left, top, right, bottom = track.predict(frame)
                    box = [max(0, round(left)), max(0, round(top)), min(w, round(right)), min(h, round(bottom))]
                    if box[2] > box[0] and box[3] > box[1]:
                        self._row(track, {"frame": frame, "time": self.between[frame], "detected": False, "box": box})
            self._end(track)
        self.between = {}

    def _fill(self, track: Track, first: int, box0: list[float], last: int, box1) -> None:
        """Rows for the frames between two detections of a track, boxes moved linearly from one to the other;
        a track that is not found again gets none, so no box outlives its face."""
        a, b = np.asarray(box0, float), np.asarray(box1, float)
        for frame in sorted(f for f in self.between if first < f < last):
            box = np.rint(a + (b - a) * (frame - first) / (last - first)).astype(int).tolist()
            self._row(track, {"frame": frame, "time": self.between[frame], "detected": False, "box": box})

    def _describe(self, image: np.ndarray, faces: list[Face]) -> tuple[np.ndarray, np.ndarray]:
        """The predictor's answers for faces found here, their inputs cut as `rostro predict` cuts them."""
        return self.predictor.predict_faces(image, faces)

    def _row(self, track: Track, r: dict) -> None:
        s = self.sums[track.key]
        s.n_frames += 1
        s.last_frame, s.last_time = r["frame"], round(r["time"], 4)
        row = {"frame": r["frame"], "time": round(r["time"], 4), "shot": self.shot, "track": track.id,
               "detected": r["detected"], **dict(zip(("left", "top", "right", "bottom"), r["box"], strict=True)),
               "score": round(float(r["score"]), 4) if "score" in r else None}  # fmt: skip
        if "probabilities" in r:
            row |= {n: round(float(p), 6) for n, p in zip(self.labels, r["probabilities"], strict=True)}
            row |= {n: round(float(v), 2) for n, v in zip(self.values, r["values"], strict=True)}
        (self.pending if track.id is not None else self.held[track.key]).append(row)

    def _release(self, track: Track) -> None:
        """A track just confirmed: the rows held while it was not are written under its id."""
        for row in self.held.pop(track.key, []):
            row["track"] = track.id
            self.pending.append(row)

    def _end(self, track: Track) -> None:
        """A track ended: a confirmed one joins the finished tracks; an unconfirmed one is forgotten."""
        s = self.sums.pop(track.key, None)
        self.held.pop(track.key, None)
        if s is not None and track.id is not None:
            self.finished.append(json.dumps({"track": track.id, **s.__dict__}) + "\n")


def read_tracks(path: Path) -> Iterator[dict]:
    """The finished tracks of ``WORK/tracks.jsonl``, one at a time, in the order they ended."""
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            yield json.loads(line)


def _append(path: Path, data: bytes) -> int:
    """Append ``data`` to ``path``, fsynced; returns the file's size, which the saved state records."""
    with open(path, "ab", buffering=0) as fh:
        if data:
            fh.write(data)
            os.fsync(fh.fileno())
        return fh.tell()


def _cell(v) -> str:
    if v is None or (isinstance(v, float) and np.isnan(v)):
        return ""
    if isinstance(v, bool):
        return "True" if v else "False"
    return str(v)


def _thumbnail(image: np.ndarray, box) -> str:
    """A JPEG of the face with a margin, THUMB_HEIGHT pixels high, as base64."""
    left, top, right, bottom = box
    mw, mh = (right - left) * 0.25, (bottom - top) * 0.25
    h, w = image.shape[:2]
    crop = image[max(0, int(top - mh)) : min(h, int(bottom + mh)), max(0, int(left - mw)) : min(w, int(right + mw))]
    if crop.size == 0:
        return ""
    pic = Image.fromarray(crop)
    pic = pic.resize((max(1, round(pic.width * THUMB_HEIGHT / pic.height)), THUMB_HEIGHT))
    buf = io.BytesIO()
    pic.save(buf, format="JPEG", quality=85)
    return base64.b64encode(buf.getvalue()).decode()
