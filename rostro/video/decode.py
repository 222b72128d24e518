"""Frames of any clip FFmpeg reads, one at a time, through PyAV (whose wheels ship FFmpeg).

Frames come upright (a phone video's display matrix is applied), with their time from the frame's
own timestamp (variable frame rates keep their timing), and are never held: a clip of any length
is read in constant memory. A file that is not a video, has no video stream or no decodable frame
is a :class:`VideoError`; a clip whose stream breaks part-way ends there, with ``error`` saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from rostro.errors import RostroError

log = logging.getLogger(__name__)


class VideoError(RostroError):
    """A clip that cannot be read: missing, not a video, no video stream, no decodable frame."""


@dataclass(frozen=True)
class VideoInfo:
    """What the container says of the clip's video stream; ``width`` and ``height`` are upright."""

    path: str
    width: int
    height: int
    codec: str
    fps: float | None  # the average rate the container declares (a variable-rate clip's is nominal)
    n_frames: int | None  # None where the container does not say
    duration: float | None  # seconds


@dataclass
class Frame:
    index: int  # 0-based, in decoding (display) order
    time: float  # seconds since the first frame, from the frame's timestamp
    image: np.ndarray  # H x W x 3 uint8 RGB, upright


def _av():
    try:
        import av
    except ImportError:
        raise RostroError("reading video needs PyAV: pip install av") from None
    return av


def upright(image: np.ndarray, rotation: float) -> np.ndarray:
    """The frame as it is meant to be shown: FFmpeg's display-matrix ``rotation`` (degrees,
    counter-clockwise, as PyAV's ``VideoFrame.rotation``) applied; phone videos carry -90 or 90."""
    quarter = round(rotation / 90) % 4
    return np.ascontiguousarray(np.rot90(image, quarter)) if quarter else image


class VideoReader:
    """``for frame in VideoReader(path)``: upright RGB frames with times; ``info`` before the first.

    ``start`` skips that many frames (a resumed run); ``max_seconds`` stops at that time. Iterating
    twice reads the clip twice. ``error`` is set when decoding stopped before the end of the stream.
    """

    def __init__(self, path: str | Path, *, start: int = 0, max_seconds: float | None = None):
        self.path = Path(path)
        self.start = start
        self.max_seconds = max_seconds
        self.error: str | None = None
        self.info = self._probe()

    def _open(self):
        av = _av()
        if not self.path.is_file():
            raise VideoError(f"{self.path}: no such file")
        try:
            container = av.open(str(self.path), metadata_errors="ignore")
        except av.FFmpegError as exc:
            raise VideoError(f"{self.path}: not a video FFmpeg can read ({_reason(exc)})") from None
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["no stream at all"]
            container.close()
            raise VideoError(f"{self.path}: no video stream (it holds {', '.join(kinds)})")
        return container

    def _probe(self) -> VideoInfo:
        container = self._open()
        try:
            stream = container.streams.video[0]
            ctx = stream.codec_context
            if not ctx.width or not ctx.height:
                raise VideoError(f"{self.path}: the video stream has no frame size (a damaged header)")
            fps = float(stream.average_rate) if stream.average_rate else None
            duration = None
            if stream.duration is not None and stream.time_base is not None:
                duration = float(stream.duration * stream.time_base)
            elif container.duration:
                duration = container.duration / 1_000_000
            rotation = _stream_rotation(stream)
            w, h = (ctx.height, ctx.width) if round(rotation / 90) % 2 else (ctx.width, ctx.height)
            return VideoInfo(str(self.path), w, h, ctx.name, fps, stream.frames or None, duration)
        finally:
            container.close()

    def __iter__(self) -> Iterator[Frame]:
        av = _av()
        container = self._open()
        self.error = None
        try:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"  # frame threads: decoding keeps pace with the rest
            base = stream.time_base
            first_pts = stream.start_time
            index = -1
            frames = container.decode(stream)
            while True:
                try:
                    frame = next(frames)
                except StopIteration:
                    break
                except av.FFmpegError as exc:  # a broken stream: what came before stands
                    self.error = f"decoding stopped after frame {index + 1}: {_reason(exc)}"
                    log.warning("%s: %s", self.path, self.error)
                    break
                index += 1
                if first_pts is None:
                    first_pts = frame.pts
                if frame.pts is not None and base is not None and first_pts is not None:
                    time = float((frame.pts - first_pts) * base)
                else:  # no timestamps: the nominal rate
                    time = index / (self.info.fps or 25.0)
                if self.max_seconds is not None and time >= self.max_seconds:
                    break
                if index < self.start:
                    continue
                yield Frame(index, time, upright(frame.to_ndarray(format="rgb24"), frame.rotation or 0))
            if index < 0 and self.error is None:
                self.error = "no frame could be decoded"
        finally:
            container.close()
        if index < 0:
            raise VideoError(f"{self.path}: {self.error}")


def _stream_rotation(stream) -> float:
    """The rotation of the first frame (where FFmpeg puts the display matrix); 0 when unreadable."""
    av = _av()
    container = av.open(stream.container.name, metadata_errors="ignore")
    try:
        for frame in container.decode(container.streams.video[0]):
            return frame.rotation or 0
    except av.FFmpegError:
        return 0
    finally:
        container.close()
    return 0


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.rstrip(".")
