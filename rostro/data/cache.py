"""A decoded-image cache: uint8 arrays at the training size, on disk, memory-mapped.

Decoding JPEGs dominates the first epoch; later epochs and later runs read this cache
instead. The cache is keyed by every source file's path, size and modification time and
by the target size, so a changed image or a new size builds a new one. Files are written
to a temporary name and renamed, so a killed build never leaves a torn cache behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from rostro.data.images import ImageDecodeError, load_image
from rostro.data.transforms import resize_square
from rostro.files import atomic_path, atomic_write_text, user_cache_dir
from rostro.progress import progress_bar
from rostro.workers import pool_map

CACHE_VERSION = 1


@dataclass
class ImageCache:
    """Decoded images (``images[i]`` is ``paths[i]`` as ``size`` x ``size`` x 3 uint8)."""

    images: np.ndarray
    paths: list[str]
    size: int
    file: Path
    errors: dict[int, str] = field(default_factory=dict)
    hit: bool = False
    seconds: float = 0.0

    @property
    def valid(self) -> np.ndarray:
        """Boolean mask of the images that decoded; failed ones are all zeros."""
        mask = np.ones(len(self.paths), dtype=bool)
        mask[list(self.errors)] = False
        return mask


def cache_key(paths: Sequence[str | Path], size: int, tag: str = "") -> str:
    """Hash of the file list, each file's size and mtime, the target size, the decoder's tag and the
    cache version."""
    h = hashlib.sha256(f"rostro-cache-v{CACHE_VERSION}|{size}{'|' + tag if tag else ''}".encode())
    for p in paths:
        try:
            st = os.stat(p)
            stamp = f"{st.st_size}:{st.st_mtime_ns}"
        except OSError:
            stamp = "missing"
        h.update(f"|{p}|{stamp}".encode())
    return h.hexdigest()[:24]


def square(path: str, size: int) -> np.ndarray:
    """The default decoder: the image centre-cropped to a square at ``size`` px."""
    return resize_square(load_image(path, draft_size=(size, size)), size)


def _decode_range(args: tuple[str, Sequence[str], int, int, Callable[[str, int], np.ndarray]]) -> dict[int, str]:
    """Decode ``paths`` into rows ``start..`` of the memmap at ``file``; return failures."""
    file, paths, start, size, decode = args
    out = np.lib.format.open_memmap(file, mode="r+")
    errors = {}
    for offset, p in enumerate(paths):
        try:
            out[start + offset] = decode(p, size)
        except ImageDecodeError as exc:
            errors[start + offset] = exc.reason
    out.flush()
    del out
    return errors


def build_cache(
    paths: Sequence[str | Path],
    size: int,
    *,
    cache_dir: str | Path | None = None,
    on_error: str = "skip",
    workers: int | None = None,
    progress: bool = True,
    decode: Callable[[str, int], np.ndarray] = square,
    tag: str = "",
) -> ImageCache:
    """Return the cache of ``paths`` at ``size`` px, building it on a miss.

    ``decode(path, size)`` makes each row (a picklable function; ``tag`` names it in the cache
    key, e.g. the face network's chips); it raises ``ImageDecodeError`` for a row to leave out.

    ``on_error='skip'`` keeps going past unreadable images (reported in ``errors``, their
    rows left black); ``'raise'`` fails on the first batch that has one, naming the files.
    """
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    if size < 8:
        raise ValueError(f"cache size must be >= 8 px, got {size}")
    paths = [str(p) for p in paths]
    t0 = time.perf_counter()
    root = Path(cache_dir) if cache_dir is not None else user_cache_dir()
    root.mkdir(parents=True, exist_ok=True)
    key = cache_key(paths, size, tag)
    file, meta_file = root / f"{key}.npy", root / f"{key}.json"
    if file.is_file() and meta_file.is_file():
        meta = json.loads(meta_file.read_text())
        errors = {int(k): v for k, v in meta["errors"].items()}
        _raise_if(errors, paths, on_error)
        images = np.load(file, mmap_mode="r")
        return ImageCache(images, paths, size, file, errors, hit=True, seconds=time.perf_counter() - t0)

    workers = workers or min(os.cpu_count() or 1, 8)
    chunk = max(64, min(1024, len(paths) // (workers * 4) + 1))
    errors: dict[int, str] = {}
    with atomic_path(file) as tmp:
        arr = np.lib.format.open_memmap(tmp, mode="w+", dtype=np.uint8, shape=(len(paths), size, size, 3))
        del arr
        jobs = [(str(tmp), paths[i : i + chunk], i, size, decode) for i in range(0, len(paths), chunk)]
        with ExitStack() as stack:
            results = pool_map(stack, _decode_range, jobs, workers, light=True)  # before the bar's thread
            bar = stack.enter_context(progress_bar("caching {task.fields[px]}px", enabled=progress))
            task = bar.add_task("cache", total=len(paths), px=size)
            for job, errs in zip(jobs, results, strict=True):
                errors.update(errs)
                bar.advance(task, len(job[1]))
                _raise_if(errs, paths, on_error)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
    atomic_write_text(meta_file, json.dumps({"size": size, "count": len(paths), "errors": errors}))
    images = np.load(file, mmap_mode="r")
    return ImageCache(images, paths, size, file, errors, hit=False, seconds=time.perf_counter() - t0)


def _raise_if(errors: dict[int, str], paths: list[str], on_error: str) -> None:
    if errors and on_error == "raise":
        i = min(errors)
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise ImageDecodeError(paths[i], errors[i] + more)
