"""A corpus of bad and awkward image files, generated (nothing committed but this generator).

``write_corpus(folder, face)`` writes every case next to a few good images and returns
{file name: expected outcome}: 'ok' (decodes to an upright RGB image) or a fragment of the
reason rostro must give.
"""

from __future__ import annotations

import io
import os
import zlib
from pathlib import Path

import numpy as np
from PIL import Image


def _jpeg(img: np.ndarray, **kw) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="JPEG", quality=92, **kw)
    return buf.getvalue()


def _bomb_png(side: int) -> bytes:
    """A valid 1-bit PNG header of side x side pixels with a tiny compressed body."""
    import struct

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    row = b"\x00" + b"\x00" * ((side + 7) // 8)
    body = zlib.compress(row * 64)  # only the first rows: refused before decoding anyway
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", body) + chunk(b"IEND", b"")


def write_corpus(folder: str | Path, face: np.ndarray) -> dict[str, str]:
    """Write the corpus into ``folder``; ``face`` is an HxWx3 uint8 photo with a detectable face."""
    d = Path(folder)
    d.mkdir(parents=True, exist_ok=True)
    small = np.asarray(Image.fromarray(face).resize((face.shape[1] // 2, face.shape[0] // 2)))
    expected: dict[str, str] = {}

    def put(name: str, data: bytes, outcome: str) -> None:
        (d / name).write_bytes(data)
        expected[name] = outcome

    good = _jpeg(small)
    put("good.jpg", good, "ok")
    put("good copy with spaces.jpg", good, "ok")
    put("visage_ñandú_顔.jpg", good, "ok")
    put("empty.jpg", b"", "empty file")
    put("truncated.jpg", good[: len(good) // 3], "truncated")
    png = io.BytesIO()
    Image.fromarray(small).save(png, format="PNG")
    put("truncated.png", png.getvalue()[: len(png.getvalue()) // 2], "truncated")
    put("corrupt_header.jpg", b"\xff\xd8\xff\xe0" + b"\x00" * 200, "corrupt")
    put("text.jpg", b"this is not an image\n", "not a recognised image")
    put("jpeg_named.png", good, "ok")
    put("phone.jfif", good, "ok")
    for fmt, ext in (("WEBP", "webp"), ("BMP", "bmp"), ("TIFF", "tiff")):
        buf = io.BytesIO()
        Image.fromarray(small).save(buf, format=fmt)
        put(f"format.{ext}", buf.getvalue(), "ok")
    frames = [Image.fromarray(small), Image.fromarray(255 - small)]
    buf = io.BytesIO()
    frames[0].save(buf, format="GIF", save_all=True, append_images=frames[1:], duration=100, loop=0)
    put("animated.gif", buf.getvalue(), "ok")
    buf = io.BytesIO()
    Image.fromarray(small).convert("CMYK").save(buf, format="JPEG")
    put("cmyk.jpg", buf.getvalue(), "ok")
    buf = io.BytesIO()
    Image.fromarray(np.asarray(Image.fromarray(small).convert("L"), np.uint16) * 257).save(buf, format="PNG")
    put("sixteen_bit.png", buf.getvalue(), "ok")
    buf = io.BytesIO()
    Image.fromarray(small).convert("L").save(buf, format="PNG")
    put("grey.png", buf.getvalue(), "ok")
    pal = Image.fromarray(small).convert("P", palette=Image.Palette.ADAPTIVE)
    buf = io.BytesIO()
    pal.save(buf, format="PNG", transparency=0)
    put("palette_transparent.png", buf.getvalue(), "ok")
    # all 8 EXIF orientations: the stored pixels are the upright face transformed by the inverse
    inverse = {1: None, 2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
               4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE, 6: Image.Transpose.ROTATE_90,
               7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_270}  # fmt: skip
    for o, op in inverse.items():
        img = Image.fromarray(small)
        stored = img if op is None else img.transpose(op)
        exif = Image.Exif()
        exif[0x0112] = o
        buf = io.BytesIO()
        stored.save(buf, format="JPEG", quality=92, exif=exif.tobytes())
        put(f"exif_{o}.jpg", buf.getvalue(), "upright")
    put("one_pixel.png", _png_of(np.zeros((1, 1, 3), np.uint8)), "ok-tiny")
    put("bomb.png", _bomb_png(20_000), "exceeds the limit")
    os.symlink(d / "no_such_target.jpg", d / "dangling.jpg")
    expected["dangling.jpg"] = "file not found"
    (d / "folder.jpg").mkdir()
    expected["folder.jpg"] = "folder"
    return expected


def _png_of(img: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(img).save(buf, format="PNG")
    return buf.getvalue()
