import numpy as np
import pytest

from rostro.data.images import load_image
from rostro.faces import detection
from rostro.faces.blazeface import KEYPOINTS, _anchors, _nms, blazeface
from rostro.faces.detection import detect_faces
from rostro.inference.predict import sample_photo


@pytest.fixture(scope="module")
def photo():
    return load_image(sample_photo())


def _iou(a, b):
    ix = max(0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / ((a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter)


def test_anchors_cover_the_grid_centres():
    a = _anchors()
    assert a.shape == (2304, 2)
    assert np.allclose(a[0], [0.5 / 48, 0.5 / 48]) and np.allclose(a[-1], [47.5 / 48, 47.5 / 48])
    assert np.allclose(a[1] - a[0], [1 / 48, 0])  # x runs fastest, as in MediaPipe


def test_nms_keeps_the_best_of_overlapping_boxes_and_every_separate_one():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60], [0, 0, 10, 9]], np.float32)
    scores = np.array([0.7, 0.9, 0.6, 0.8])
    assert _nms(boxes, scores) == [1, 2]


def test_finds_the_face_where_hog_does_with_keypoints_in_place(photo):
    hog = detect_faces(photo, detector="hog")[0]
    det = blazeface()(photo)
    assert len(det) == 1 and det[0].score > 0.6
    assert _iou(det[0].box, hog.box) > 0.6
    kp = dict(zip(KEYPOINTS, det[0].keypoints, strict=True))
    x0, y0, x1, y1 = det[0].box
    for name in ("right_eye", "left_eye", "nose_tip", "mouth"):
        assert x0 <= kp[name][0] <= x1 and y0 <= kp[name][1] <= y1, name
    assert kp["right_eye"][0] < kp["left_eye"][0]  # the subject's right eye is on the image's left
    assert kp["right_eye"][1] < kp["nose_tip"][1] < kp["mouth"][1]


def test_boxes_are_in_pixels_of_the_original_image_whatever_its_shape(photo):
    base = blazeface()(photo)[0].box
    wide = np.full((photo.shape[0], photo.shape[1] + 300, 3), 255, np.uint8)
    wide[:, 300:] = photo
    moved = blazeface()(wide)[0].box
    # the same face, shifted by the padding; the wider image is seen at a coarser scale, hence 5%
    assert np.allclose(np.array(moved) - [300, 0, 300, 0], base, atol=0.05 * (base[2] - base[0]))


def test_no_face_in_flat_or_tiny_images():
    assert blazeface()(np.full((120, 160, 3), 128, np.uint8)) == []
    assert detect_faces(np.zeros((1, 1, 3), np.uint8)) == []


def test_auto_asks_blazeface_when_hog_finds_nothing_and_the_cnn_only_after(photo, monkeypatch):
    hog_box = detect_faces(photo, detector="hog")[0].box

    class NoHog:
        def run(self, *args):
            return [], [], []

    models = dict(detection.dlib_models())
    models["hog"] = NoHog()
    monkeypatch.setattr(detection, "dlib_models", lambda: models)

    def no_cnn():
        raise AssertionError("the CNN detector must not run when BlazeFace found a face")

    monkeypatch.setattr(detection, "cnn_detector", no_cnn)
    faces = detect_faces(photo)
    assert len(faces) == 1 and faces[0].detector == "blazeface"
    assert faces[0].landmarks.shape == (68, 2) and faces[0].shape is not None
    assert _iou(faces[0].box, hog_box) > 0.8  # moved to where HOG's box would be, for dlib's landmarks
