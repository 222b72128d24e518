"""POST /video: a short clip's tracks as JSON; junk and over-long clips refused with a status that says why."""

from __future__ import annotations

from functools import partial

import numpy as np
import pytest
from fastapi.testclient import TestClient

from rostro.serve import app as serve_app
from rostro.serve.app import ServeConfig, create_app
from rostro.video import decode
from tests.video.conftest import SIZE, damaged, moving_face_frames, write_clip, write_raw_h264


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(ServeConfig(model="v2"))) as c:
        yield c


def test_video_tracks(client, clip):
    r = client.post("/video", files={"file": ("moving.mp4", clip.read_bytes(), "video/mp4")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["n_frames"] == 24 and body["n_shots"] == 2 and body["n_tracks"] == 2
    assert body["duration"] == pytest.approx(2.4)  # the page's timeline spans it
    track = body["tracks"][0]
    assert track["track"] == 1 and "Male" in track["attributes"] and "age" in track and track["n_detections"] >= 2


def test_video_refusals(client, clip, monkeypatch):
    r = client.post("/video", files={"file": ("junk.mp4", b"not a video at all" * 100, "video/mp4")})
    assert r.status_code == 415 and "not a video" in r.json()["detail"]
    monkeypatch.setattr(serve_app, "MAX_VIDEO_SECONDS", 1.0)
    r = client.post("/video", files={"file": ("moving.mp4", clip.read_bytes(), "video/mp4")})
    assert r.status_code == 413 and "at most 1 s" in r.json()["detail"]


def post(client, path, name=None):
    return client.post("/video", files={"file": (name or path.name, path.read_bytes(), "video/mp4")})


def test_video_limits(client, clip, monkeypatch):
    # the pixel budget over all frames: 24 frames of 320 x 240 against room for 10
    monkeypatch.setattr(decode, "VideoLimits", partial(decode.VideoLimits, max_pixels=10 * SIZE[0] * SIZE[1]))
    r = post(client, clip)
    assert r.status_code == 413 and "pixels in all" in r.json()["detail"]
    with pytest.raises(decode.VideoTooLargeError, match="pixels a frame"):  # the service's --max-pixels
        decode.VideoReader(clip, limits=decode.VideoLimits(max_frame_pixels=SIZE[0] * SIZE[1] - 1))


def test_video_without_duration_is_bounded_by_its_frames(client, tmp_path, monkeypatch):
    raw = write_raw_h264(tmp_path / "bare.h264", moving_face_frames(20, cut=None))
    r = post(client, raw)  # no duration, no frame count, no timestamps: analysed, at the nominal rate
    assert r.status_code == 200, r.text
    assert r.json()["n_frames"] == 20 and r.json()["n_tracks"] == 1 and r.json()["duration"] is None
    # the frame cap holds whatever the header and the timestamps say
    monkeypatch.setattr(decode, "VideoLimits", partial(decode.VideoLimits, max_fps=0.5))
    r = post(client, raw)
    assert r.status_code == 413 and "16 frames; expected at most 30 s and 15 frames" in r.json()["detail"]


def test_video_no_face(client, tmp_path):
    empty = write_clip(tmp_path / "empty.mp4", [np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)] * 6)
    r = post(client, empty)
    assert r.status_code == 200 and r.json()["tracks"] == [] and r.json()["message"]


def test_video_damaged(client, clip, tmp_path):
    r = post(client, damaged(clip, tmp_path / "zeroed.mp4"))
    assert r.status_code == 422 and "decodable frame" in r.json()["detail"]
