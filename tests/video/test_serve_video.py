"""POST /video: a short clip's tracks as JSON; junk and over-long clips refused with a status that says why."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient

from rostro.serve import app as serve_app
from rostro.serve.app import ServeConfig, create_app


@pytest.fixture(scope="module")
def client():
    with TestClient(create_app(ServeConfig(model="v2"))) as c:
        yield c


def test_video_tracks(client, clip):
    r = client.post("/video", files={"file": ("moving.mp4", clip.read_bytes(), "video/mp4")})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["n_frames"] == 24 and body["n_shots"] == 2 and body["n_tracks"] == 2
    track = body["tracks"][0]
    assert track["track"] == 1 and "Male" in track["attributes"] and "age" in track and track["n_detections"] >= 2


def test_video_refusals(client, clip, monkeypatch):
    r = client.post("/video", files={"file": ("junk.mp4", b"not a video at all" * 100, "video/mp4")})
    assert r.status_code == 415 and "not a video" in r.json()["detail"]
    monkeypatch.setattr(serve_app, "MAX_VIDEO_SECONDS", 1.0)
    r = client.post("/video", files={"file": ("moving.mp4", clip.read_bytes(), "video/mp4")})
    assert r.status_code == 413 and "at most 1 s" in r.json()["detail"]
