"""Tiny clips written with PyAV: a synthetic face moving across the frame, a hard cut, another face."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest

av = pytest.importorskip("av")

SIZE = (320, 240)  # width, height
FACE = (108, 132)  # a synthetic face's size (CelebA's proportions)


def write_clip(
    path: Path, frames: list[np.ndarray], *, fps: int = 10, rotation: int = 0, times: list[float] | None = None
) -> Path:
    """``frames`` (H x W x 3 uint8) into an MP4; ``times`` (seconds) for a variable frame rate."""
    with av.open(str(path), "w", format="mp4") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        if times is not None:
            s.time_base = s.codec_context.time_base = Fraction(1, 1000)
        if rotation:
            s.set_display_rotation(rotation)
        for i, img in enumerate(frames):
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            if times is not None:
                f.pts, f.time_base = round(times[i] * 1000), Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def write_raw_h264(path: Path, frames: list[np.ndarray], fps: int = 10) -> Path:
    """``frames`` as a bare H.264 stream: no container, so no duration, no frame count and no timestamps."""
    with av.open(str(path), "w", format="h264") as c:
        s = c.add_stream("libx264", rate=fps)
        s.width, s.height, s.pix_fmt = frames[0].shape[1], frames[0].shape[0], "yuv420p"
        for img in frames:
            for p in s.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def damaged(clip: Path, path: Path) -> Path:
    """``clip`` with its frames' data zeroed and its index intact: opens, decodes no frame."""
    data = bytearray(clip.read_bytes())
    start, index = data.index(b"mdat") + 4, data.index(b"moov")
    assert index > start, "the index must follow the frames"
    data[start : index - 4] = bytes(index - 4 - start)
    path.write_bytes(bytes(data))
    return path


def moving_face_frames(n: int = 24, cut: int | None = 12) -> list[np.ndarray]:
    """Face A slides right on a grey-blue background; from ``cut`` on, face B slides left on a warm one."""
    from rostro.data.synthetic import make_faces

    faces, _ = make_faces(2, size=FACE, n_identities=2, seed=5)
    frames = []
    for i in range(n):
        second = cut is not None and i >= cut
        img = np.empty((SIZE[1], SIZE[0], 3), np.uint8)
        img[:] = (200, 140, 90) if second else (60, 80, 110)
        face = faces[1] if second else faces[0]
        k = i - cut if second else i
        x = (170 - 6 * k) if second else (20 + 6 * k)
        img[50 : 50 + FACE[1], x : x + FACE[0]] = face
        frames.append(img)
    return frames


@pytest.fixture(scope="session")
def clip(tmp_path_factory) -> Path:
    return write_clip(tmp_path_factory.mktemp("clip") / "moving.mp4", moving_face_frames())
