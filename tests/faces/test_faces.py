import numpy as np
import pytest

from rostro.data.images import load_image
from rostro.faces.alignment import (
    CELEBA_TEMPLATE,
    CELEBA_TEMPLATE5,
    align_face,
    crop_landmarks,
    shape_points,
    similarity_transform,
    template_points,
)
from rostro.faces.chips import chip_cache_options, image_crop
from rostro.faces.detection import detect_faces
from rostro.inference.predict import sample_photo


def test_similarity_transform_recovers_a_known_one():
    rng = np.random.default_rng(0)
    src = rng.random((5, 2)) * 100
    angle, scale, shift = 0.3, 1.7, np.array([12.0, -4.0])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    dst = src @ (scale * rot).T + shift
    m = similarity_transform(src, dst)
    assert np.allclose(m[:, :2], scale * rot) and np.allclose(m[:, 2], shift)


@pytest.fixture(scope="module")
def portrait():
    return load_image(sample_photo())


def test_detects_the_portrait_and_aligns_it_to_celeba(portrait):
    faces = detect_faces(portrait)
    assert len(faces) == 1
    face = faces[0]
    left, top, right, bottom = face.box
    assert 0 <= left < right <= portrait.shape[1] and 0 <= top < bottom <= portrait.shape[0]
    assert face.landmarks.shape == (68, 2)
    crop = align_face(portrait, face.landmarks)
    assert crop.shape == (218, 178, 3)
    again = detect_faces(crop, upsample=1)
    assert len(again) == 1
    assert np.abs(template_points(again[0].landmarks) - CELEBA_TEMPLATE).max() < 6


def test_the_five_point_cut_lands_where_the_68_point_one_does(portrait):
    """Cut from dlib's 5 landmarks (no 68-point fit), the crop puts them on CELEBA_TEMPLATE5 and the
    eyes and mouth near CELEBA_TEMPLATE, as the 68-point cut does."""
    face = detect_faces(portrait, landmarks68=False)[0]
    assert face.landmarks is None
    points = crop_landmarks(face, 5)
    assert points.shape == (5, 2) and np.array_equal(points, shape_points(face.shape))
    crop = align_face(portrait, points)
    again = detect_faces(crop, upsample=1)[0]
    assert np.abs(shape_points(again.shape) - CELEBA_TEMPLATE5).max() < 6
    assert np.abs(template_points(again.landmarks) - CELEBA_TEMPLATE).max() < 8
    with pytest.raises(ValueError, match="crop_points must be one of"):
        crop_landmarks(face, 7)


def test_crops_cut_from_five_points_are_cached_apart_from_68_point_ones(portrait):
    tag = {p: chip_cache_options("photo", input="crop", points=p)["tag"] for p in (68, 5)}
    assert tag[68] == "crop-photo" and tag[5] == "crop5-photo"  # 68: the tag the caches already have
    # an aligned crop is only resized: one cache serves both cuts
    assert chip_cache_options("aligned", input="crop", points=5)["tag"] == "crop-aligned"
    a, b = (image_crop(portrait, 64, "photo", points=p) for p in (68, 5))
    assert a.shape == b.shape == (64, 64, 3)
    assert 0 < np.abs(a.astype(int) - b).mean() < 40  # the same face, cut a little differently


def test_no_face_is_an_empty_list_and_bad_input_is_named():
    assert detect_faces(np.full((120, 160, 3), 128, np.uint8)) == []
    with pytest.raises(ValueError, match="HxWx3 uint8"):
        detect_faces(np.zeros((10, 10), np.uint8))
    with pytest.raises(ValueError, match="detector must be one of"):
        detect_faces(np.zeros((10, 10, 3), np.uint8), detector="mtcnn")


def test_large_photos_are_scanned_downscaled(portrait):
    from PIL import Image

    big = np.asarray(Image.fromarray(portrait).resize((portrait.shape[1] * 4, portrait.shape[0] * 4)))
    faces = detect_faces(big, max_side=800)
    assert len(faces) == 1
    ref = detect_faces(portrait)[0].box
    # HOG's pyramid levels differ between the two sizes by up to ~16 px here; a box not scaled back
    # would be off by hundreds
    assert np.allclose(np.array(faces[0].box) / 4, ref, atol=20)


def test_flip_averaging_is_mirror_symmetric_and_unit_length(portrait):
    from rostro.faces.embedding import embed_image

    _, plain = embed_image(portrait, flip=False)
    _, flipped = embed_image(portrait)  # the default
    _, of_mirror = embed_image(np.ascontiguousarray(portrait[:, ::-1]))
    assert flipped.shape == (1, 128) and np.linalg.norm(flipped[0]) == pytest.approx(1, abs=1e-5)
    cos = float(flipped[0] @ of_mirror[0])
    assert cos > 0.995  # the same pair of chips, up to the landmark fit on the mirrored photo
    assert 0.9 < float(plain[0] @ flipped[0] / np.linalg.norm(plain[0])) < 0.9999


def test_vectors_are_flip_averaged_by_default_and_dlibs_own_with_flip_false(portrait):
    """The default vector is the unit mean of the face's unit vector and its mirror image's; ``flip=False``
    gives dlib's descriptor of the chip itself (not unit length)."""
    import rostro
    from rostro.faces.network import face_chips, face_network

    faces, default = rostro.embed_image(portrait)
    chips = face_chips(portrait, [faces[0].shape])
    face, mirror = face_network()(chips)[0], face_network()(np.ascontiguousarray(chips[:, :, ::-1]))[0]
    mean = face / np.linalg.norm(face) + mirror / np.linalg.norm(mirror)
    assert np.allclose(default[0], mean / np.linalg.norm(mean), atol=1e-5)
    _, plain = rostro.embed_image(portrait, flip=False)
    assert np.allclose(plain[0], face, atol=1e-5) and np.linalg.norm(plain[0]) > 1.2


def test_pick_centre_prefers_the_central_face_over_the_largest():
    from rostro.faces.detection import Face
    from rostro.faces.embedding import embed_image, nearest_centre

    big = Face(box=(0, 0, 120, 120), score=1, landmarks=np.zeros((68, 2)), detector="hog")
    mid = Face(box=(170, 170, 230, 230), score=1, landmarks=np.zeros((68, 2)), detector="hog")
    assert nearest_centre([big, mid], (400, 400, 3)) == [mid, big]
    with pytest.raises(ValueError, match="pick must be one of"):
        embed_image(np.zeros((50, 50, 3), np.uint8), pick="first")


def test_jitter_averages_nearby_copies(portrait):
    from rostro.faces.embedding import embed_image

    _, plain = embed_image(portrait, flip=True)
    _, jittered = embed_image(portrait, flip=True, jitter=2)
    cos = float(plain[0] @ jittered[0])
    assert 0.95 < cos < 0.99999  # the same face, not the same vector


def test_one_verify_decision_for_the_cli_and_the_service(portrait):
    from rostro.errors import RostroError
    from rostro.faces.embedding import (
        DEFAULT_THRESHOLD,
        UNFLIPPED_THRESHOLD,
        compare_photos,
        embed_image,
        verify_faces,
    )

    mirror, blank = np.ascontiguousarray(portrait[:, ::-1]), np.full((120, 160, 3), 128, np.uint8)
    v = verify_faces(embed_image(portrait), embed_image(mirror))
    assert v.same is True and v.threshold == DEFAULT_THRESHOLD < v.score and v.message == ""
    assert len(v.faces_a) == len(v.faces_b) == 1
    assert compare_photos(portrait, mirror) == {"score": v.score, "threshold": v.threshold, "same": True}
    assert verify_faces(embed_image(portrait), embed_image(mirror), threshold=v.score + 1e-6).same is False
    none = verify_faces(embed_image(blank), embed_image(blank))
    assert none.score is None and none.same is None and none.message == "no face found in a and b"
    with pytest.raises(RostroError, match="^no face found in the second photo$"):
        compare_photos(portrait, blank)
    plain = compare_photos(portrait, mirror, flip=False)  # dlib's own vectors, at the threshold measured for them
    assert plain["threshold"] == UNFLIPPED_THRESHOLD < DEFAULT_THRESHOLD and plain["score"] != v.score
    unflipped = verify_faces(embed_image(portrait, flip=False), embed_image(mirror, flip=False), flip=False)
    assert (unflipped.score, unflipped.threshold) == pytest.approx((plain["score"], plain["threshold"]))


def test_cli_verify_is_flip_averaged_unless_no_flip():
    from typer.testing import CliRunner

    from rostro.cli import app
    from rostro.faces.embedding import DEFAULT_THRESHOLD, UNFLIPPED_THRESHOLD

    photo = str(sample_photo())
    for flags, threshold in (([], DEFAULT_THRESHOLD), (["--no-flip"], UNFLIPPED_THRESHOLD)):
        res = CliRunner().invoke(app, ["verify", photo, photo, *flags])
        assert res.exit_code == 0 and f"threshold {threshold:.4f}: same person" in res.output, res.output


def test_hog_scans_the_luma_and_finds_the_same_face(portrait, monkeypatch):
    """HOG runs on one channel (a third of its gradient work); the box matches a colour scan's."""
    from rostro.faces.models import dlib_models

    hog = dlib_models()["hog"]
    seen = []

    class Spy:
        def run(self, img, up, threshold):
            seen.append(img.shape)
            return hog.run(img, up, threshold)

    monkeypatch.setitem(dlib_models(), "hog", Spy())
    face = detect_faces(portrait)[0]
    assert seen == [portrait.shape[:2]]
    rects, _, _ = hog.run(np.ascontiguousarray(portrait), 0, 0.0)
    colour = (rects[0].left(), rects[0].top(), rects[0].right(), rects[0].bottom())
    assert np.abs(np.array(face.box) - colour).max() <= 2


@pytest.mark.parametrize(
    "text,says",
    [
        ("0.5", "no 'threshold_at_target_far'"),
        ("nope", "not JSON"),
        ('{"threshold_at_target_far": "0.9"}', "threshold_at_target_far: expected a cosine similarity"),
        ('{"threshold_at_target_far": 5}', "threshold_at_target_far: .*between -1 and 1 .*found 5"),
    ],
)
def test_verify_names_a_bad_threshold_file_before_embedding(tmp_path, text, says):
    from rostro.commands.verify import VerifyConfig, verify
    from rostro.errors import RostroError

    file = tmp_path / "threshold.json"
    file.write_text(text)
    with pytest.raises(RostroError, match=f"threshold.json: {says}"):
        verify(VerifyConfig(image_a="absent-a.jpg", image_b="absent-b.jpg", threshold_file=str(file)))
    with pytest.raises(RostroError, match="threshold: expected a cosine similarity between -1 and 1"):
        verify(VerifyConfig(image_a="absent-a.jpg", image_b="absent-b.jpg", threshold=float("nan")))
