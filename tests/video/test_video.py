"""``rostro video`` end to end on tiny clips written here: outputs, aggregation, resume, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from rostro.commands.video import WORK, VideoConfig, video
from rostro.errors import RostroError
from rostro.video.decode import DamagedVideoError, VideoError, VideoReader
from rostro.video.outputs import TRACK_FIXED
from tests.video.conftest import SIZE, av, write_clip, write_raw_h264

MODEL = "v2"  # a shipped model (the default may be in training)


def run(clip: Path, out: Path, **kw):
    return video(VideoConfig(clip=str(clip), out=str(out), model=MODEL, progress=False, **kw))


@pytest.fixture(scope="module")
def done(clip, tmp_path_factory):
    out = tmp_path_factory.mktemp("video")
    return run(clip, out, every=2), out


def test_outputs(done):
    result, out = done
    frames, tracks = pd.read_csv(out / "frames.csv"), pd.read_csv(out / "tracks.csv")
    labels = [c for c in tracks.columns if c not in (*TRACK_FIXED, "age", "name", "similarity")]
    assert list(frames.columns) == ["frame", "time", "shot", "track", "detected", "left", "top", "right", "bottom",
                                    "score", *labels, "age"]  # fmt: skip
    assert list(tracks.columns) == [*TRACK_FIXED, *labels, "age", "name", "similarity"]
    # one track per shot: the face is followed through its motion, and a new track starts at the cut
    assert tracks[["track", "shot", "first_frame", "last_frame"]].values.tolist() == [[1, 0, 0, 11], [2, 1, 12, 23]]
    assert frames["frame"].tolist() == list(range(24)) and frames["frame"].is_monotonic_increasing
    assert frames["detected"].sum() == 12  # every second frame
    assert result.frames_with_faces == 24 and result.n_shots == 2
    assert not (out / WORK).exists()
    with av.open(str(out / "annotated.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 24
    html = (out / "report.html").read_text()
    assert "<svg" in html and "data:image/jpeg;base64," in html
    assert any("2 track(s)" in line for line in result.lines())


def test_outputs_are_one_set(clip, tmp_path, monkeypatch):
    from rostro.video import outputs

    run(clip, tmp_path, every=2, max_seconds=0.5)
    assert {p.name for p in tmp_path.iterdir()} == set(outputs.OUTPUTS)
    run(clip, tmp_path, every=2, max_seconds=0.5, annotate=False, report=False)  # an earlier run's extras go
    assert {p.name for p in tmp_path.iterdir()} == {"frames.csv", "tracks.csv", "video.config.yaml"}
    before = {p.name: p.read_bytes() for p in tmp_path.iterdir()}

    def broken(*args, **kw):
        raise OSError("disk full")

    monkeypatch.setattr(outputs, "write_report", broken)
    with pytest.raises(OSError, match="disk full"):  # fails after tracks.csv and frames.csv were made
        run(clip, tmp_path, every=2, max_seconds=1.0, annotate=False)
    assert {p.name: p.read_bytes() for p in tmp_path.iterdir() if p.name != WORK} == before


def test_track_is_the_mean_of_its_frames(done):
    _, out = done
    frames, tracks = pd.read_csv(out / "frames.csv"), pd.read_csv(out / "tracks.csv")
    detected = frames[frames["Male"].notna()]  # confident detections: weak ones carry no answers
    for column in ("Male", "Smiling", "age"):
        mean = detected.groupby("track")[column].mean()
        np.testing.assert_allclose(tracks.set_index("track")[column], mean, atol=1e-4 if column != "age" else 0.01)
    assert (tracks["n_detections"] == detected.groupby("track").size().values).all()


@pytest.fixture
def chunks_of_5(monkeypatch):
    """State saved every 5 frames; returns ``kill(n)``: the n-th save from now on raises KeyboardInterrupt."""
    from rostro.video import analyse

    real_run, real_save = analyse.VideoAnalyser.run, analyse.VideoAnalyser._save
    monkeypatch.setattr(analyse.VideoAnalyser, "run", lambda self: (setattr(self, "chunk", 5), real_run(self))[1])

    def kill(n: int | None) -> None:
        saves = []

        def save(self):
            real_save(self)
            saves.append(1)
            if len(saves) == n:
                raise KeyboardInterrupt("killed for a test")

        monkeypatch.setattr(analyse.VideoAnalyser, "_save", save)

    return kill


def test_resume_after_a_kill_gives_the_same_outputs(clip, done, tmp_path, chunks_of_5):
    from rostro.video import analyse

    _, reference = done
    chunks_of_5(3)
    with pytest.raises(KeyboardInterrupt):
        run(clip, tmp_path, every=2)
    assert (tmp_path / WORK / "state.json").is_file() and not (tmp_path / "tracks.csv").exists()
    # the first track ended at the cut (frame 12): it is on disk, and the state holds only its file's size
    state = json.loads((tmp_path / WORK / "state.json").read_text())
    jsonl = tmp_path / WORK / "tracks.jsonl"
    assert [t["track"] for t in analyse.read_tracks(jsonl)] == [1] and "finished" not in state
    assert state["tracks_jsonl_bytes"] == jsonl.stat().st_size and "thumb" not in json.dumps(state["tracker"])
    chunks_of_5(None)
    result = run(clip, tmp_path, every=2)
    assert result.resumed_at == 15
    for name in ("frames.csv", "tracks.csv"):
        assert (tmp_path / name).read_text() == (reference / name).read_text()


def test_kill_between_appending_rows_and_saving_the_state(clip, done, tmp_path, chunks_of_5, monkeypatch):
    from rostro.video import analyse

    _, reference = done
    real_write, writes = analyse.atomic_write_text, []

    def write(path, text):  # the 4th state (frame 20) is never written: its rows and track are already on disk
        if Path(path).name == "state.json":
            if len(writes) == 3:
                raise KeyboardInterrupt("killed for a test")
            writes.append(path)
        return real_write(path, text)

    monkeypatch.setattr(analyse, "atomic_write_text", write)
    with pytest.raises(KeyboardInterrupt):
        run(clip, tmp_path, every=2)
    state = json.loads((tmp_path / WORK / "state.json").read_text())
    assert state["next_frame"] == 15 and (tmp_path / WORK / "frames.csv").stat().st_size > state["frames_csv_bytes"]
    monkeypatch.setattr(analyse, "atomic_write_text", real_write)
    result = run(clip, tmp_path, every=2)
    assert result.resumed_at == 15
    for name in ("frames.csv", "tracks.csv"):
        assert (tmp_path / name).read_text() == (reference / name).read_text()


def test_other_options_are_not_mixed_into_a_resumed_run(clip, tmp_path, chunks_of_5):
    chunks_of_5(1)
    with pytest.raises(KeyboardInterrupt):
        run(clip, tmp_path, every=2)
    chunks_of_5(None)
    for options in ({"every": 3}, {"every": 2, "runtime": "torch"}):
        with pytest.raises(RostroError, match="another model or options") as refused:
            run(clip, tmp_path, **options)
    # only the options that differ, and the unfinished work to delete (not --out, which may hold a finished run)
    assert str(refused.value).count(":") < 12 and f"delete {tmp_path / WORK} or" in str(refused.value)
    state = tmp_path / WORK / "state.json"
    state.write_text(state.read_text().replace('"version": 2', '"version": 1'))
    with pytest.raises(RostroError, match="expected state version 2, found 1; delete"):
        run(clip, tmp_path, every=2)


def test_no_face(tmp_path):
    frames = [np.full((SIZE[1], SIZE[0], 3), 90, np.uint8) for _ in range(8)]
    result = run(write_clip(tmp_path / "empty.mp4", frames), tmp_path / "out")
    assert len(result.tracks) == 0 and "No face was found." in result.lines()
    assert len(pd.read_csv(tmp_path / "out" / "frames.csv")) == 0
    with av.open(str(tmp_path / "out" / "annotated.mp4")) as c:
        assert sum(1 for _ in c.decode(video=0)) == 8


def test_max_seconds(clip, tmp_path):
    result = run(clip, tmp_path, every=2, max_seconds=0.5)
    assert result.n_frames == 5 and pd.read_csv(tmp_path / "frames.csv")["frame"].max() <= 4


def test_bad_input(clip, tmp_path):
    with pytest.raises(VideoError, match="no such file"):
        VideoReader(tmp_path / "absent.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(np.random.default_rng(0).integers(0, 255, 5000, dtype=np.uint8).tobytes())
    with pytest.raises(VideoError, match="not a video FFmpeg can read"):
        run(junk, tmp_path / "junk")
    assert not (tmp_path / "junk" / "tracks.csv").exists()
    (tmp_path / "empty.mp4").write_bytes(b"")
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[:600])  # its header's start, no index (written at the end)
    for path, error, says in (
        (tmp_path, VideoError, "a folder; expected a video file"),
        (tmp_path / "empty.mp4", DamagedVideoError, r"an empty file \(0 bytes\)"),
        (cut, DamagedVideoError, "starts as an MP4 / MOV file but .* damaged or incomplete"),
    ):
        with pytest.raises(error, match=says):
            VideoReader(path)
    (tmp_path / "afile").write_text("x")
    with pytest.raises(RostroError, match="afile: expected a folder for the outputs, found a file"):
        run(clip, tmp_path / "afile")
    audio = tmp_path / "audio.wav"
    with av.open(str(audio), "w") as c:
        s = c.add_stream("pcm_s16le", rate=8000)
        frame = av.AudioFrame.from_ndarray(np.zeros((1, 800), np.int16), format="s16", layout="mono")
        frame.sample_rate = 8000
        for p in s.encode(frame):
            c.mux(p)
    with pytest.raises(VideoError, match="no video stream"):
        run(audio, tmp_path / "audio")


def test_options_are_checked_before_the_model_and_gallery_load(clip, tmp_path, monkeypatch):
    import rostro.inference.predict as predict

    def never(*args, **kw):
        raise AssertionError("loaded before the options were checked")

    monkeypatch.setattr(predict, "AttributePredictor", never)
    with pytest.raises(RostroError, match="every: expected 1 or more"):
        run(clip, tmp_path / "every", every=0, gallery=str(tmp_path / "no-gallery"))
    with pytest.raises(RostroError, match="max_seconds: expected a positive number"):
        run(clip, tmp_path / "seconds", max_seconds=0, gallery=str(tmp_path / "no-gallery"))


def test_truncated_clip_gives_an_error_or_what_came_before(clip, tmp_path):
    data = clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) // 2])
    try:
        result = run(cut, tmp_path / "out")
    except VideoError as exc:
        assert "cut.mp4" in str(exc)
    else:
        assert result.n_frames <= 24 and (tmp_path / "out" / "tracks.csv").is_file()
    # a file whose index comes first (as phones and streaming write them), cut in the middle of its frames
    head = tmp_path / "head.mp4"
    with av.open(str(clip)) as src, av.open(str(head), "w", format="mp4", options={"movflags": "faststart"}) as dst:
        s = dst.add_stream_from_template(src.streams.video[0])
        for packet in src.demux(src.streams.video[0]):
            if packet.dts is not None:
                packet.stream = s
                dst.mux(packet)
    data = head.read_bytes()
    (tmp_path / "head_cut.mp4").write_bytes(data[: int(len(data) * 0.6)])
    result = run(tmp_path / "head_cut.mp4", tmp_path / "head_out")
    assert 0 < result.n_frames < 24


def test_rotated_and_variable_rate_clips(tmp_path):
    img = np.zeros((48, 64, 3), np.uint8)
    img[:16, :16] = 255  # white top-left corner
    rotated = write_clip(tmp_path / "rot.mp4", [img] * 3, rotation=-90)  # a phone's "rotate 90" (clockwise)
    reader = VideoReader(rotated)
    assert (reader.info.width, reader.info.height) == (48, 64)
    frame = next(iter(reader))
    first = frame.image
    assert first.shape == (64, 48, 3) and first[:16, -16:].mean() > 200  # the corner is now top-right
    thumb = frame.thumbnail((12, 16))  # scaled down by FFmpeg, upright as the image is
    assert thumb.shape == (16, 12, 3) and thumb[:4, -4:].mean() > 200 and thumb[-4:, :4].mean() < 40
    later = list(VideoReader(rotated))[1]
    assert later._image is None  # RGB only on first use: a frame only tracked through is never converted
    assert np.abs(later.thumbnail((12, 16)).astype(int) - thumb).max() <= 2
    times = [0.0, 0.1, 0.15, 0.5, 0.52, 1.0]
    vfr = write_clip(tmp_path / "vfr.mp4", [img] * len(times), times=times)
    np.testing.assert_allclose([f.time for f in VideoReader(vfr)], times, atol=2e-3)


def test_frame_size_change_and_no_timestamps(tmp_path):
    """Two bare H.264 streams of different sizes, one after the other: the second part comes at the first
    size; without timestamps, times run on at the nominal rate from the last one."""
    small, large = np.full((48, 64, 3), 50, np.uint8), np.full((96, 128, 3), 200, np.uint8)
    a, b = write_raw_h264(tmp_path / "a.h264", [small] * 3), write_raw_h264(tmp_path / "b.h264", [large] * 3)
    joined = tmp_path / "joined.h264"
    joined.write_bytes(a.read_bytes() + b.read_bytes())
    reader = VideoReader(joined)
    frames = list(reader)
    assert (reader.info.width, reader.info.height, reader.info.duration) == (64, 48, None)
    assert [f.image.shape for f in frames] == [(48, 64, 3)] * 6 and frames[-1].image.mean() > 190
    np.testing.assert_allclose([f.time for f in frames], np.arange(6) / reader.info.fps)


def test_open_namer_with_a_real_gallery(tmp_path):
    pytest.importorskip("rostro.search", reason="face search (rostro.search) is not available")
    from rostro.search.gallery import new_meta, open_gallery, photo_stamp
    from rostro.video.naming import open_namer
    from tests.search.conftest import faces_frame, people_vectors

    vecs, names = people_vectors(6, 4)
    stamp = photo_stamp(jitter=2, flip=True)
    with open_gallery(tmp_path / "g", write=True, create=new_meta(stamp, 128)) as g:
        g.add(faces_frame(names), vecs)
    namer, recipe = open_namer(str(tmp_path / "g"))
    assert recipe == (2, True)  # a track's faces are described as the gallery's were
    name, similarity = namer(vecs[9] + 0.01)
    assert name == names[9] and similarity > 0.9
    stranger = np.random.default_rng(1).standard_normal(128).astype(np.float32)
    assert namer(stranger)[0] == ""
    with open_gallery(tmp_path / "other", write=True, create=new_meta({**stamp, "network": "another"}, 128)) as g:
        g.add(faces_frame(names), vecs)
    with pytest.raises(RostroError, match="another"):  # vectors of another network are refused
        open_namer(str(tmp_path / "other"))


def test_open_namer_follows_a_gallery_of_plain_vectors(tmp_path):
    """A gallery made before flip-averaging was the default: a track's faces are described without flip, as its were."""
    pytest.importorskip("rostro.search", reason="face search (rostro.search) is not available")
    from rostro.search.gallery import new_meta, open_gallery, photo_stamp
    from rostro.video.naming import open_namer

    open_gallery(tmp_path / "old", write=True, create=new_meta(photo_stamp(flip=False), 128)).close()
    open_gallery(tmp_path / "new", write=True, create=new_meta(photo_stamp(), 128)).close()
    assert open_namer(str(tmp_path / "old"))[1] == (0, False) and open_namer(str(tmp_path / "new"))[1] == (0, True)


def test_gallery_naming(tmp_path):
    from rostro.video.naming import name_track

    class Gallery:  # the search API's identify: (name or '', best similarity, candidates) per query
        def identify(self, queries, k=5, *, threshold=None):
            assert queries.shape == (1, 128)
            return [("Ada", 0.97, [("Ada", 0.97)])]

    assert name_track(Gallery(), np.ones(128)) == ("Ada", 0.97)


def test_gallery_that_does_not_exist(clip, tmp_path):
    pytest.importorskip("rostro.search", reason="face search (rostro.search) is not available")
    with pytest.raises(RostroError):
        run(clip, tmp_path / "out", gallery=str(tmp_path / "no-gallery"))


class FakePredictor:
    """What VideoAnalyser reads of a predictor; answers come from a patched ``_describe``."""

    labels, values, fingerprint, detector, runtime = ["Male"], ["age"], "fake", "blazeface", "onnx"
    info = type("Info", (), {"input": "chip"})()
    needs_landmarks68 = False  # a chip model's: dlib's 5 points only


def analyse_with(tmp_path, monkeypatch, n: int, boxes: dict[int, list], **kw):
    """A plain clip of ``n`` frames analysed with faces given by hand: ``boxes[frame]`` = [(box, score), ...]."""
    from rostro.faces.detection import Face
    from rostro.video import analyse

    tmp_path.mkdir(exist_ok=True)
    clip = write_clip(tmp_path / "plain.mp4", [np.full((SIZE[1], SIZE[0], 3), 90, np.uint8)] * n)
    calls = iter(range(0, n, kw.get("every", 3)))
    found = lambda image, **_: [Face(b, s, None, "blazeface") for b, s in boxes.get(next(calls), [])]  # noqa: E731
    monkeypatch.setattr(analyse, "detect_faces", found)
    answers = lambda self, image, faces: (np.full((len(faces), 1), 0.5), np.full((len(faces), 1), 30.0))  # noqa: E731
    monkeypatch.setattr(analyse.VideoAnalyser, "_describe", answers)
    analysis = analyse.VideoAnalyser(clip, tmp_path / "work", FakePredictor(), **kw).run()
    return pd.read_csv(tmp_path / "work" / "frames.csv"), list(analyse.read_tracks(analysis.tracks_file))


def test_boxes_between_detections_are_interpolated_and_end_with_the_face(tmp_path, monkeypatch):
    # a face moving 6 px a frame, detected at frames 0, 3 and 6, gone from frame 7 on
    boxes = {f: [((20 + 6 * f, 50, 100 + 6 * f, 150), 0.9)] for f in (0, 3, 6)}
    frames, tracks = analyse_with(tmp_path, monkeypatch, 15, boxes, every=3)
    assert frames["frame"].tolist() == list(range(7))  # no box pushed past the last detection
    assert frames["left"].tolist() == [20 + 6 * f for f in range(7)]
    assert [(t["first_frame"], t["last_frame"], t["n_frames"], t["n_detections"]) for t in tracks] == [(0, 6, 7, 3)]
    # a weak detection (below BlazeFace's 0.5) carries the box, without answers; a weak face alone starts nothing
    boxes = {f: [((20 + 6 * f, 50, 100 + 6 * f, 150), 0.9 if f < 6 else 0.35)] for f in (0, 3, 6)}
    boxes[6].append(((200, 20, 260, 90), 0.4))
    frames, tracks = analyse_with(tmp_path / "weak", monkeypatch, 9, boxes, every=3)
    assert frames[frames["detected"]][["frame", "score"]].values.tolist() == [[0, 0.9], [3, 0.9], [6, 0.35]]
    assert frames["frame"][frames["Male"].notna()].tolist() == [0, 3]
    assert [(t["n_frames"], t["n_detections"]) for t in tracks] == [(9, 2)]
    # a pass that misses the face (frame 6 here): when it is found again, that frame's box is filled in too
    boxes = {f: [((20 + 6 * f, 50, 100 + 6 * f, 150), 0.9)] for f in (0, 3, 9)}
    frames, tracks = analyse_with(tmp_path / "missed", monkeypatch, 10, boxes, every=3)
    assert frames["frame"].tolist() == list(range(10)) and frames["left"].tolist() == [20 + 6 * f for f in range(10)]
    assert [(t["n_frames"], t["n_detections"]) for t in tracks] == [(10, 3)]
    # a clip with one detection pass: its confident face is a track (no second pass could confirm it); a face
    # first found at a later shot's last pass still needs two
    frames, tracks = analyse_with(tmp_path / "one-pass", monkeypatch, 2, {0: [((20, 50, 100, 150), 0.9)]}, every=3)
    assert frames["frame"].tolist() == [0, 1] and [(t["n_frames"], t["n_detections"]) for t in tracks] == [(2, 1)]
    boxes = {0: [((20, 50, 100, 150), 0.9)], 3: [((20, 50, 100, 150), 0.9), ((200, 20, 260, 90), 0.9)]}
    frames, tracks = analyse_with(tmp_path / "late", monkeypatch, 5, boxes, every=3)
    assert [(t["first_frame"], t["n_detections"]) for t in tracks] == [(0, 2)] and frames["left"].eq(20).all()
    # found at the last pass before the clip's end: its boxes go on to the end at its velocity
    boxes = {f: [((20 + 6 * f, 50, 100 + 6 * f, 150), 0.9)] for f in (0, 3, 6, 9, 12)}
    frames, _ = analyse_with(tmp_path / "to-the-end", monkeypatch, 15, boxes, every=3)
    assert frames["frame"].tolist() == list(range(15)) and frames["left"].tolist() == [20 + 6 * f for f in range(15)]


def test_boxes_drawn_in_yuv_look_as_drawn_in_rgb():
    """The annotated video's fast path (4:2:0 planes) against the RGB drawing it replaces."""
    from PIL import Image, ImageDraw, ImageFont

    from rostro.video.outputs import COLOURS, _draw, _YuvPainter

    rng = np.random.default_rng(0)
    w, h = 96, 64
    rgb = np.clip(rng.normal(110, 20, (h, w, 3)), 0, 255).astype(np.uint8)
    source = av.VideoFrame.from_ndarray(rgb, format="rgb24").reformat(format="yuv420p")
    rows = pd.DataFrame([{"track": 2, "left": 9, "top": 5, "right": 40, "bottom": 30, "detected": True}])
    captions, font = {2: ["#2", "Male 0.97"]}, ImageFont.load_default(size=11)
    painted = _YuvPainter(captions, font, 2).paint(source, rows, w, h)
    reference = Image.fromarray(source.to_ndarray(format="rgb24"))
    _draw(ImageDraw.Draw(reference), rows, captions, font, 2)
    reference = av.VideoFrame.from_image(reference).reformat(format="yuv420p")  # as the encoder receives it
    luma, luma_ref = painted.to_ndarray()[:h].astype(int), reference.to_ndarray()[:h].astype(int)
    assert np.mean(np.abs(luma - luma_ref) > 4) < 0.02  # the same boxes and glyphs, anti-aliased alike (the RGB
    # round trip alone moves luma by 1 or 2)
    assert np.abs(luma - luma_ref).max() < 40
    top_edge = painted.to_ndarray(format="rgb24")[5:7, 12:38].astype(int)
    assert np.abs(top_edge - COLOURS[1]).max() < 40  # in its track's colour
    undrawn = _YuvPainter(captions, font, 2).paint(source, None, w, h).to_ndarray(format="rgb24")
    assert np.array_equal(undrawn, source.to_ndarray(format="rgb24"))
    other = av.VideoFrame.from_ndarray(rgb[:, :94].copy(), format="rgb24").reformat(format="yuv420p")
    assert _YuvPainter(captions, font, 2).paint(other, rows, w, h) is None  # another size: drawn in RGB
