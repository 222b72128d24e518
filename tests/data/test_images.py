import io

import numpy as np
import pytest
from PIL import Image

from rostro.data.images import is_image_file, load_image, looks_like_image
from rostro.errors import ImageDecodeError
from tests.conftest import save


@pytest.mark.parametrize(
    "name,fmt",
    [
        ("a.png", "PNG"),
        ("a.webp", None),
        ("a.bmp", None),
        ("a.tiff", None),
        ("a.jfif", "JPEG"),
        ("a.gif", None),
        ("jpeg_named.png", "JPEG"),
        ("no_ext", "PNG"),
    ],
)
def test_formats_decode_by_content(tmp_path, rgb, name, fmt):
    kw = {"format": fmt} if fmt else {}
    if name.endswith("webp"):
        kw["lossless"] = True
    p = save(rgb, tmp_path / name, **kw)
    out = load_image(p)
    assert out.shape == (40, 30, 3) and out.dtype == np.uint8
    if fmt in ("PNG",) or name.endswith(("webp", "bmp", "tiff")):
        assert np.array_equal(out, rgb)
    assert looks_like_image(p) and is_image_file(p)


def test_exif_orientation_is_applied(tmp_path, rgb):
    img = Image.fromarray(rgb)
    exif = img.getexif()
    exif[0x0112] = 6  # rotate 90 clockwise to display
    p = tmp_path / "rot.jpg"
    img.save(p, exif=exif, quality=100)
    out = load_image(p)
    assert out.shape == (30, 40, 3)
    assert out[:10, -10:].mean(axis=(0, 1))[0] > 200  # red corner moved to top-right


@pytest.mark.parametrize("mode", ["L", "CMYK", "RGBA", "LA", "P", "I;16", "1"])
def test_modes_become_rgb(tmp_path, rgb, mode):
    img = Image.fromarray(rgb)
    if mode == "I;16":
        img = Image.fromarray(rgb[..., 0].astype(np.uint16) * 257)
        assert img.mode == "I;16"
    else:
        img = img.convert(mode)
    fmt = "JPEG" if mode == "CMYK" else "PNG"
    p = tmp_path / f"m.{fmt.lower()}"
    img.save(p, format=fmt)
    out = load_image(p)
    assert out.shape == (40, 30, 3) and out.dtype == np.uint8
    if mode == "I;16":
        assert np.array_equal(out[..., 0], rgb[..., 0])


def test_transparency_composited_on_white(tmp_path):
    rgba = np.zeros((4, 4, 4), np.uint8)
    p = save(rgba, tmp_path / "clear.png")
    assert (load_image(p) == 255).all()


def test_bad_files_name_path_and_reason(tmp_path, rgb):
    good = save(rgb, tmp_path / "good.jpg")
    data = good.read_bytes()
    cases = {
        "empty.jpg": (b"", "empty file"),
        "trunc.jpg": (data[: len(data) // 2], "truncated"),
        "text.jpg": (b"hello, I am text", "not a recognised image"),
        "header.png": (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "not a recognised image|corrupt"),
    }
    for name, (content, reason) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ImageDecodeError, match=reason) as e:
            load_image(tmp_path / name)
        assert e.value.path.endswith(name)
    with pytest.raises(ImageDecodeError, match="file not found"):
        load_image(tmp_path / "nope.jpg")
    (tmp_path / "dir.jpg").mkdir()
    with pytest.raises(ImageDecodeError, match="is a folder"):
        load_image(tmp_path / "dir.jpg")
    (tmp_path / "link.jpg").symlink_to(tmp_path / "gone.jpg")
    with pytest.raises(ImageDecodeError, match="broken link"):
        load_image(tmp_path / "link.jpg")


def test_pixel_limit_refuses_bombs_before_decoding(tmp_path):
    p = save(np.zeros((300, 400, 3), np.uint8), tmp_path / "big.png")
    with pytest.raises(ImageDecodeError, match="120,000 pixels exceeds the limit of 100,000"):
        load_image(p, max_pixels=100_000)
    assert load_image(p).shape == (300, 400, 3)


def test_bytes_input(rgb):
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="PNG")
    assert np.array_equal(load_image(buf.getvalue()), rgb)
    with pytest.raises(ImageDecodeError, match="empty upload"):
        load_image(b"")


def test_files_above_the_whole_read_size_decode_from_the_path_and_junk_is_refused(tmp_path, monkeypatch):
    import rostro.data.images as images

    monkeypatch.setattr(images, "WHOLE_READ_BYTES", 1000)  # both sides of the limit with small files
    img = np.random.default_rng(0).integers(0, 255, (40, 30, 3), dtype=np.uint8)
    big = save(img, tmp_path / "big.png")
    small = save(img[:2, :2], tmp_path / "small.png")
    assert big.stat().st_size > 1000 >= small.stat().st_size
    np.testing.assert_array_equal(load_image(big), img)
    np.testing.assert_array_equal(load_image(small), img[:2, :2])
    junk = tmp_path / "junk.jpg"
    junk.write_bytes(b"not an image " * 200)
    with pytest.raises(ImageDecodeError, match="not a recognised image format"):
        load_image(junk)


def test_a_damaged_exif_block_keeps_the_photo_and_any_decoder_failure_is_a_decode_error(tmp_path, caplog, monkeypatch):
    exif = Image.Exif()
    exif[0x0112], exif[0x010F] = 6, "cam"  # orientation 6, Make "cam"
    buf = io.BytesIO()
    Image.new("RGB", (24, 16)).save(buf, "JPEG", exif=exif.tobytes())
    damaged = buf.getvalue().replace(b"\x01\x0f\x00\x02", b"\x01\x15\x00\x02", 1)  # Make becomes SamplesPerPixel
    assert load_image(damaged).shape == (24, 16, 3)  # the orientation was read and applied; rewriting the EXIF failed
    assert "damaged EXIF block" in caplog.text
    monkeypatch.setattr(Image.Image, "load", lambda self: (_ for _ in ()).throw(NotImplementedError("odd format")))
    with pytest.raises(ImageDecodeError, match=r"corrupt or unreadable image \(NotImplementedError: odd format\)"):
        load_image(buf.getvalue())


def test_memory_running_out_is_not_called_a_corrupt_image(rgb, monkeypatch):
    """A resumed run must try such a photo again, so it is not written as an error row."""
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "PNG")
    monkeypatch.setattr(Image.Image, "load", lambda self: (_ for _ in ()).throw(MemoryError()))
    with pytest.raises(MemoryError):
        load_image(buf.getvalue())
