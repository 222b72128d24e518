"""The tracker and the shot-cut test, on boxes and pictures made here."""

from __future__ import annotations

import numpy as np

from rostro.video.tracking import ShotDetector, Tracker, iou_matrix


def test_iou_matrix():
    a = [[0, 0, 10, 10]]
    b = [[0, 0, 10, 10], [5, 0, 15, 10], [20, 20, 30, 30]]
    np.testing.assert_allclose(iou_matrix(a, b), [[1.0, 50 / 150, 0.0]])


def test_one_id_through_motion_with_detection_every_third_frame():
    tracker = Tracker()
    ids = []
    for frame in range(0, 60, 3):  # a face moving 8 px a frame: 24 px between detections, more than its IoU allows
        x = 8 * frame
        tracks, ended = tracker.update(frame, [[x, 50, x + 40, 90]])
        assert not ended
        ids.append(tracks[0].id)
        # the predicted box follows the face
        if frame >= 6:
            assert abs(tracks[0].predict(frame + 1)[0] - (x + 8)) < 1e-6
    assert ids[0] is None and set(ids[1:]) == {1}  # confirmed at its second detection, then one id


def test_two_faces_crossing_keep_their_ids():
    tracker = Tracker()
    for frame in range(0, 30, 2):
        a, b = 10 + 4 * frame, 200 - 4 * frame
        tracks, _ = tracker.update(frame, [[a, 20, a + 30, 50], [b, 100, b + 30, 130]])
        if frame >= 2:
            assert [t.id for t in tracks] == [1, 2]


def test_cut_ends_tracks_and_new_ones_start():
    tracker = Tracker()
    for frame in range(3):
        tracker.update(frame, [[10, 10, 50, 50]])
    assert [t.id for t in tracker.end_all()] == [1]
    for frame in range(3, 5):
        tracks, _ = tracker.update(frame, [[10, 10, 50, 50]])
    assert tracks[0].id == 2


def test_a_one_off_detection_never_becomes_a_track():
    tracker = Tracker()
    tracker.update(0, [[10, 10, 50, 50], [200, 200, 230, 230]])
    tracks, ended = tracker.update(1, [[10, 10, 50, 50]])
    assert [t.id for t in tracks] == [1] and [t.id for t in ended] == [None]


def test_lost_track_is_found_again_within_max_misses():
    tracker = Tracker(max_misses=2)
    for frame in range(3):
        tracker.update(frame, [[10, 10, 50, 50]])
    tracker.update(3, [])
    tracker.update(4, [])
    tracks, _ = tracker.update(5, [[12, 10, 52, 50]])
    assert tracks[0].id == 1


def test_state_round_trip():
    tracker = Tracker()
    for frame in range(4):
        tracker.update(frame, [[10 + frame, 10, 50 + frame, 50]])
    again = Tracker().restore(tracker.state())
    assert again.state() == tracker.state()
    assert [t.predict(6) for t in again.tracks] == [t.predict(6) for t in tracker.tracks]


def test_shot_cut():
    rng = np.random.default_rng(0)
    base = rng.integers(0, 255, (90, 160, 3), dtype=np.uint8)
    shots = ShotDetector()
    assert not shots.is_cut(base)
    assert not shots.is_cut(np.roll(base, 2, axis=1))  # a small pan
    other = np.full_like(base, 30)
    other[:, :80] = (220, 160, 40)
    assert shots.is_cut(other)
    restored = ShotDetector().restore(shots.state())
    assert not restored.is_cut(other)


def test_a_face_whose_score_dips_keeps_its_id():
    """ByteTrack's second round: weak detections (below ``high``) carry a confirmed track through four passes,
    more than ``max_misses`` allows; they never start a track or confirm one."""
    tracker = Tracker(max_misses=1)
    ids = []
    for k, frame in enumerate(range(0, 30, 3)):
        x = 10 + 2 * frame
        weak = 3 <= k < 7
        tracks, ended = tracker.update(frame, [[x, 20, x + 40, 60], [200, 200, 240, 240]], [0.35 if weak else 0.9, 0.4])
        assert not ended and tracks[1] is None
        ids.append(tracks[0].id)
    assert ids == [None] + [1] * 9 and len(tracker.tracks) == 1
    plain = Tracker(max_misses=1)  # the same face without its weak detections is lost and found as another
    for k, frame in enumerate(range(0, 30, 3)):
        x = 10 + 2 * frame
        tracks, _ = plain.update(frame, [] if 3 <= k < 7 else [[x, 20, x + 40, 60]])
    assert tracks[0].id == 2


def test_weak_detections_go_to_the_right_track_among_several():
    tracker = Tracker()
    for frame in (0, 3):
        tracker.update(frame, [[0, 0, 40, 40], [100, 0, 140, 40], [200, 0, 240, 40]])
    tracks, _ = tracker.update(6, [[0, 0, 40, 40], [201, 0, 241, 40]], [0.9, 0.35])
    assert [t.id for t in tracks] == [1, 3]
