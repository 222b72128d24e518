"""Frames of any clip FFmpeg reads, one at a time, through PyAV (whose wheels ship FFmpeg).

Frames come upright (a phone video's display matrix is applied), all at the first frame's size,
with their time from the frame's own timestamp (variable frame rates keep their timing), and are
never held: a clip of any length is read in constant memory. The clip is opened once: its first
frame, decoded on opening, gives the upright size (PyAV has no reader of a stream's display matrix)
and is the first frame the iteration yields. A clip that cannot be read is a :class:`VideoError`
of the kind that says why; a clip whose stream breaks part-way ends there, with ``error`` saying why.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from rostro.errors import RostroError

log = logging.getLogger(__name__)


class VideoError(RostroError):
    """A clip that cannot be read (a missing file); the subclasses say what is wrong with one that exists."""


class NotAVideoError(VideoError):
    """Not a video FFmpeg can read, or a file without a video stream (the service's 415)."""


class DamagedVideoError(VideoError):
    """A video whose stream has no frame size or no decodable frame (the service's 422)."""


# the first bytes of the common video containers: (offset, bytes, what the file then is)
_SIGNATURES = ((4, b"ftyp", "an MP4 / MOV file"), (4, b"moov", "a MOV file"), (4, b"mdat", "a MOV file"),
               (0, b"\x1aE\xdf\xa3", "a Matroska / WebM file"), (0, b"FLV", "an FLV file"),
               (8, b"AVI ", "an AVI file"), (0, b"\x00\x00\x01\xba", "an MPEG program stream"))  # fmt: skip


def _container_kind(path: Path) -> str | None:
    """What the file's first bytes say it is, when they are a video container's; None otherwise."""
    with open(path, "rb") as fh:
        head = fh.read(16)
    return next((what for at, magic, what in _SIGNATURES if head[at : at + len(magic)] == magic), None)


class VideoTooLargeError(VideoError):
    """A clip beyond :class:`VideoLimits` (the service's 413)."""


@dataclass(frozen=True)
class VideoLimits:
    """Bounds for clips from strangers (the service): checked on the header where it says, and again on the
    frames decoded whatever the header and the timestamps say, so a lying container costs no more."""

    max_seconds: float = 30.0
    max_fps: float = 60.0  # with max_seconds, the most frames decoded: 1,800
    max_frame_pixels: int = 40_000_000
    max_pixels: int = 30 * 30 * 1920 * 1080  # all frames together: 30 s of 1080p at 30 frames/s

    @property
    def max_frames(self) -> int:
        return int(self.max_seconds * self.max_fps)


@dataclass(frozen=True)
class VideoInfo:
    """The clip's video stream: ``width`` and ``height`` of its first upright frame; the rest as the container
    says."""

    path: str
    width: int
    height: int
    codec: str
    fps: float | None  # the average rate the container declares (a variable-rate clip's is nominal)
    n_frames: int | None  # None where the container does not say
    duration: float | None  # seconds


class Frame:
    """One frame: its index (0-based, in display order), its time (seconds since the first frame, from
    its own timestamp) and, on first use, its image (H x W x 3 uint8 RGB, upright, at the first
    frame's size). FFmpeg's conversion to RGB costs more than decoding, so frames only tracked
    through are never converted: the shot-cut test reads a thumbnail scaled down by FFmpeg."""

    def __init__(self, index: int, time: float, source, size: tuple[int, int] | None = None):
        self.index, self.time = index, time
        self.source = source  # the PyAV frame (or an RGB array)
        self._size = size  # (width, height) every image is brought to; None: the frame's own
        self._image: np.ndarray | None = None

    @property
    def image(self) -> np.ndarray:
        if self._image is None:
            image = self.source if isinstance(self.source, np.ndarray) else _image(self.source)
            if self._size is not None and image.shape[1::-1] != self._size:  # the stream changed size part-way
                image = np.asarray(Image.fromarray(image).resize(self._size, Image.BILINEAR))
            self._image = image
        return self._image

    def thumbnail(self, size: tuple[int, int]) -> np.ndarray:
        """The upright frame at ``size`` (width, height), area-averaged: what shot cuts are told from."""
        if isinstance(self.source, np.ndarray):
            return np.asarray(Image.fromarray(self.source).resize(size, Image.BOX))
        quarter = round((self.source.rotation or 0) / 90) % 4
        w, h = size[::-1] if quarter % 2 else size
        small = self.source.reformat(width=w, height=h, format="rgb24", interpolation="AREA").to_ndarray()
        return upright(small, self.source.rotation or 0)


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

    ``start`` skips that many frames (a resumed run); ``max_seconds`` stops at that time; ``limits``
    refuse a clip beyond them (:class:`VideoTooLargeError`). Iterating again reads the clip again.
    ``error`` is set when decoding stopped before the end of the stream.
    """

    def __init__(
        self, path: str | Path, *, start: int = 0, max_seconds: float | None = None, limits: VideoLimits | None = None
    ):
        self.path = Path(path)
        self.start, self.max_seconds, self.limits = start, max_seconds, limits
        self.error: str | None = None
        self._container = self._open()
        try:
            self._frames = self._decode(self._container)
            first = next(self._frames, None)
        except BaseException:
            self._container.close()
            raise
        if first is not None:
            first = Frame(*first)
        if first is None:
            self._container.close()
            raise DamagedVideoError(f"{self.path}: {self.error or 'no frame could be decoded'}; expected at least one "
                                    "decodable frame (is the file complete?)")  # fmt: skip
        self._first = first
        stream = self._container.streams.video[0]
        duration = None
        if stream.duration is not None and stream.time_base is not None:
            duration = float(stream.duration * stream.time_base)
        elif self._container.duration:
            duration = self._container.duration / 1_000_000
        fps = float(stream.average_rate) if stream.average_rate else None
        h, w = first.image.shape[:2]
        first._size = (w, h)
        self.info = VideoInfo(str(self.path), w, h, stream.codec_context.name, fps, stream.frames or None, duration)
        self._check_header()

    def _open(self):
        av = _av()
        if self.path.is_dir():
            raise VideoError(f"{self.path}: a folder; expected a video file")
        if not self.path.is_file():
            raise VideoError(f"{self.path}: no such file; expected a video file")
        if self.path.stat().st_size == 0:
            raise DamagedVideoError(f"{self.path}: an empty file (0 bytes); expected a video (was the copy cut short?)")
        try:
            container = av.open(str(self.path), metadata_errors="ignore")
        except av.FFmpegError as exc:
            kind = _container_kind(self.path)
            if kind:
                raise DamagedVideoError(
                    f"{self.path}: starts as {kind} but FFmpeg cannot read it ({_reason(exc)}); "
                    "the file is damaged or incomplete (was the copy cut short?)"
                ) from None
            raise NotAVideoError(f"{self.path}: not a video FFmpeg can read ({_reason(exc)})") from None
        if not container.streams.video:
            kinds = sorted({s.type for s in container.streams}) or ["no stream at all"]
            container.close()
            raise NotAVideoError(f"{self.path}: no video stream (it holds {', '.join(kinds)}); expected a video")
        ctx = container.streams.video[0].codec_context
        if not ctx.width or not ctx.height:
            container.close()
            raise DamagedVideoError(f"{self.path}: the video stream has no frame size (a damaged header)")
        if self.limits and ctx.width * ctx.height > self.limits.max_frame_pixels:
            container.close()
            raise VideoTooLargeError(f"{self.path}: {ctx.width} x {ctx.height} frames; expected at most "
                                     f"{self.limits.max_frame_pixels:,} pixels a frame")  # fmt: skip
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"  # frame threads: decoding keeps pace with the rest
        return container

    def _check_header(self) -> None:
        """Refuse what the header already shows to be beyond the limits, before any work."""
        limits, info = self.limits, self.info
        if limits is None:
            return
        if info.duration is not None and info.duration > limits.max_seconds:
            raise VideoTooLargeError(f"{self.path}: a {info.duration:.1f}-second clip; expected at most "
                                     f"{limits.max_seconds:g} s (cut it shorter)")  # fmt: skip
        frames = min(limits.max_frames, round((info.duration or 0) * (info.fps or 0)) or info.n_frames or 0)
        if frames * info.width * info.height > limits.max_pixels:
            raise VideoTooLargeError(self._budget(frames))

    def _too_long(self, time: float, n: int) -> str:
        found = f"a frame at {time:.1f} s" if n <= self.limits.max_frames else f"{n:,} frames"
        return (f"{self.path}: {found}; expected at most {self.limits.max_seconds:g} s and "
                f"{self.limits.max_frames:,} frames (cut it shorter)")  # fmt: skip

    def _budget(self, frames: int) -> str:
        return (f"{self.path}: {frames:,} frames of {self.info.width} x {self.info.height}; expected at most "
                f"{self.limits.max_pixels:,} pixels in all (a shorter or smaller clip)")  # fmt: skip

    def close(self) -> None:
        if self._container is not None:
            self._container.close()
            self._container = None

    def __iter__(self) -> Iterator[Frame]:
        if self._container is not None:  # the first iteration: the clip is open and its first frame decoded
            container, frames, first = self._container, self._frames, self._first
            self._container = None
        else:
            container = self._open()
            frames, first = self._decode(container), None
        try:
            size = self.info.width, self.info.height
            pixels, n = 0, 0
            for index, time, decoded in _chain(first, frames):
                n += 1
                if self.max_seconds is not None and time >= self.max_seconds:
                    break
                if self.limits is not None:
                    pixels += size[0] * size[1]
                    if time > self.limits.max_seconds or n > self.limits.max_frames:
                        raise VideoTooLargeError(self._too_long(time, n))
                    if pixels > self.limits.max_pixels:
                        raise VideoTooLargeError(self._budget(n))
                if index < self.start:
                    continue
                yield decoded if isinstance(decoded, Frame) else Frame(index, time, decoded, size)
        finally:
            container.close()

    def _decode(self, container) -> Iterator[tuple[int, float, object]]:
        """Every frame (index, time, PyAV frame); a broken stream ends the frames and sets ``error``."""
        av = _av()
        self.error = None
        stream = container.streams.video[0]
        base = stream.time_base
        step = 1 / float(stream.average_rate) if stream.average_rate else 1 / 25
        first_pts, last = stream.start_time, None
        frames = container.decode(stream)
        index = -1
        while True:
            try:
                frame = next(frames)
            except StopIteration:
                return
            except av.FFmpegError as exc:  # a broken stream: what came before stands
                self.error = f"decoding stopped after frame {index + 1}: {_reason(exc)}"
                log.warning("%s: %s", self.path, self.error)
                return
            index += 1
            if first_pts is None:
                first_pts = frame.pts
            if frame.pts is not None and base is not None and first_pts is not None:
                time = float((frame.pts - first_pts) * base)
            else:  # no timestamp: one nominal frame after the last one, on the same clock
                time = 0.0 if last is None else last + step
            last = time
            yield index, time, frame


def _image(frame) -> np.ndarray:
    """A PyAV frame as upright RGB (converted only for frames that are used)."""
    return upright(frame.to_ndarray(format="rgb24"), frame.rotation or 0)


def _chain(first: Frame | None, rest: Iterator[tuple]) -> Iterator[tuple]:
    if first is not None:
        yield first.index, first.time, first
    yield from rest


def _reason(exc: Exception) -> str:
    text = getattr(exc, "strerror", None) or str(exc)
    return text.rstrip(".")
