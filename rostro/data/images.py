"""Robust image decoding: any common format, recognised by content, always RGB uint8.

Phone photos arrive as ``.jfif``, mislabelled, rotated by EXIF, in CMYK or 16-bit; one
bad file must never stop a batch, so every failure becomes an :class:`ImageDecodeError`
that names the file and the reason.
"""

from __future__ import annotations

import io
import logging
import os
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from rostro.errors import ImageDecodeError

log = logging.getLogger(__name__)
IMAGE_EXTENSIONS = frozenset({".jpg", ".jpeg", ".jfif", ".jpe", ".png", ".webp", ".bmp", ".tif", ".tiff", ".gif"})
DEFAULT_MAX_PIXELS = 50_000_000  # ~7000 x 7000: far above any camera face photo
WHOLE_READ_BYTES = 4 << 20  # files up to this size are read in one piece before decoding

# Magic numbers of the formats above, for files whose extension lies or is missing.
_SIGNATURES = (
    (0, b"\xff\xd8\xff", "JPEG"),
    (0, b"\x89PNG\r\n\x1a\n", "PNG"),
    (0, b"GIF87a", "GIF"),
    (0, b"GIF89a", "GIF"),
    (0, b"BM", "BMP"),
    (0, b"II*\x00", "TIFF"),
    (0, b"MM\x00*", "TIFF"),
    (8, b"WEBP", "WebP"),
)


def _format_of(head: bytes) -> str | None:
    return next((name for off, sig, name in _SIGNATURES if head[off : off + len(sig)] == sig), None)


def looks_like_image(path: str | Path) -> bool:
    """True when the file starts with the signature of a supported image format."""
    try:
        with open(path, "rb") as fh:
            head = fh.read(16)
    except OSError:
        return False
    return _format_of(head) is not None


def is_image_file(path: str | Path) -> bool:
    """A file to treat as an image: a known extension, or image content under any other name."""
    p = Path(path)
    if p.name.startswith("."):
        return False
    if p.suffix.lower() in IMAGE_EXTENSIONS:
        return True
    return p.is_file() and looks_like_image(p)


def list_images(folder: str | Path) -> list[Path]:
    """Image files below ``folder`` (recursively, sorted), by extension or by content; hidden skipped."""
    found = []
    for dirpath, dirnames, filenames in os.walk(folder, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        found.extend(Path(dirpath) / f for f in sorted(filenames) if is_image_file(Path(dirpath) / f))
    return found


def _to_rgb(img: Image.Image) -> np.ndarray:
    """Any PIL mode to an HxWx3 uint8 array; transparency composited on white."""
    if img.mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        arr = np.asarray(img, dtype=np.int64)
        top = 65535 if img.mode.startswith("I;16") or arr.max() > 255 else 255
        arr = np.clip(arr * 255 // top, 0, 255).astype(np.uint8)
        return np.repeat(arr[..., None], 3, axis=2)
    if img.mode == "F":
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        arr = (arr - lo) / (hi - lo) * 255 if hi > lo else np.zeros_like(arr)
        return np.repeat(arr.astype(np.uint8)[..., None], 3, axis=2)
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa", "La"):
        rgba = img.convert("RGBA")
        background = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(background, rgba)
    return np.asarray(img if img.mode == "RGB" else img.convert("RGB"), dtype=np.uint8)


def load_image(
    source: str | Path | bytes,
    *,
    max_pixels: int = DEFAULT_MAX_PIXELS,
    draft_size: tuple[int, int] | None = None,
) -> np.ndarray:
    """Decode an image file (or bytes) into an upright HxWx3 uint8 RGB array.

    The format is taken from the content, not the extension. EXIF orientation is applied.
    Images over ``max_pixels`` are refused before decoding (decompression bombs).
    ``draft_size`` lets JPEG decoding shrink by a power of two when the caller will
    downscale anyway, which makes cache building several times faster on big photos.

    Raises:
        ImageDecodeError: missing, unreadable, not an image, truncated, corrupt or too large.
    """
    name = "<bytes>" if isinstance(source, bytes | bytearray) else str(source)
    if not isinstance(source, bytes | bytearray):
        path = Path(source)
        if path.is_dir():
            raise ImageDecodeError(name, "is a folder, not an image")
        if not path.exists():
            raise ImageDecodeError(name, "file not found" + (" (broken link)" if path.is_symlink() else ""))
        if not os.access(path, os.R_OK):
            raise ImageDecodeError(name, "permission denied")
        size = path.stat().st_size
        if size == 0:
            raise ImageDecodeError(name, "empty file (0 bytes)")
        # a small file in one read: PIL reads a file object in many small pieces (most of a crop's decode time);
        # a large one stays a path, so a huge or bogus file is refused from its header without reading it all
        fp = io.BytesIO(path.read_bytes()) if size <= WHOLE_READ_BYTES else source
    elif len(source) == 0:
        raise ImageDecodeError(name, "empty upload (0 bytes)")
    else:
        fp = io.BytesIO(source)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(fp) as img:
                w, h = img.size
                if w * h > max_pixels:
                    raise ImageDecodeError(name, f"{w}x{h} = {w * h:,} pixels exceeds the limit of {max_pixels:,}")
                if w == 0 or h == 0:
                    raise ImageDecodeError(name, f"image has no pixels ({w}x{h})")
                if draft_size is not None and img.format == "JPEG":
                    img.draft("RGB", draft_size)
                img.load()
                try:
                    ImageOps.exif_transpose(img, in_place=True)
                except MemoryError:
                    raise
                except Exception as exc:  # noqa: BLE001 - a damaged EXIF block: the pixels are still the photo
                    # PIL turns the pixels first and fails rewriting the EXIF; a block it cannot parse turns nothing
                    log.warning("%s: damaged EXIF block (%s: %s); its orientation applied only if it could be read",
                                name, type(exc).__name__, exc)  # fmt: skip
                return _to_rgb(img)
    except ImageDecodeError:
        raise
    except UnidentifiedImageError:
        if isinstance(source, bytes | bytearray):
            head = bytes(source[:16])
        else:
            with open(source, "rb") as fh:
                head = fh.read(16)
        kind = _format_of(head)
        if kind is not None:
            reason = f"corrupt or unreadable image (starts like a {kind}, cannot be decoded)"
            raise ImageDecodeError(name, reason) from None
        raise ImageDecodeError(name, "not a recognised image format") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageDecodeError(name, f"refused as a decompression bomb: {exc}") from None
    except (OSError, SyntaxError, ValueError, EOFError) as exc:
        reason = str(exc) or type(exc).__name__
        if "truncated" in reason.lower():
            reason = "truncated file: " + reason
        raise ImageDecodeError(name, f"corrupt or unreadable image ({reason})") from None
    except MemoryError:
        raise  # a photo too big for this moment's memory is not a corrupt one: a resumed run tries it again
    except Exception as exc:  # noqa: BLE001 - PIL's format plugins raise other kinds on damaged files
        raise ImageDecodeError(name, f"corrupt or unreadable image ({type(exc).__name__}: {exc})") from None
