"""The real Hamilton clip (../shared/data/video), its first 2.5 seconds: two shots, the singer tracked."""

from __future__ import annotations

import pandas as pd
import pytest

from rostro.commands.video import VideoConfig, video
from tests.conftest import SHARED

CLIP = SHARED / "video" / "short_hamilton_clip.mp4"


@pytest.mark.shared
def test_hamilton_first_seconds(tmp_path):
    if not CLIP.is_file():
        pytest.skip("../shared/data/video is absent")
    result = video(VideoConfig(clip=str(CLIP), out=str(tmp_path), model="v2", max_seconds=2.5, progress=False))
    assert result.n_shots == 2  # the cut at frame 20
    tracks = pd.read_csv(tmp_path / "tracks.csv")
    singer = tracks[tracks["first_frame"] == 0]
    assert len(singer) == 1 and singer["last_frame"].iloc[0] >= 15 and singer["Male"].iloc[0] > 0.5
    frames = pd.read_csv(tmp_path / "frames.csv")
    assert frames["frame"].max() < 75 and frames["time"].max() < 2.5
