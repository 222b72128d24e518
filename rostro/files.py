"""Files written whole or not at all (temporary file, fsync, rename), and a writable-folder check.

Training, inference and the service all write through these, so none needs another's package.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path


def user_cache_dir(*parts: str) -> Path:
    """``$XDG_CACHE_HOME/rostro/...`` (``~/.cache`` when unset): derived files such as conversions
    and exports, made once per user and keyed by what they came from."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "rostro", *parts)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` so that ``path`` holds either the old or the new content, never a torn file."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except OSError as exc:  # name the file the user asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    finally:
        with contextlib.suppress(OSError):  # on a read-only disk even removing a missing file fails
            tmp.unlink(missing_ok=True)
    return path


def check_writable(folder: str | Path) -> Path:
    """Create ``folder`` and prove a file can be written there, before hours of work depend on it.

    The probe is named by the process: torchrun's ranks check the same folder at once.
    """
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write_bytes(folder / f".rostro-write-test.{os.getpid()}", b"").unlink()
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write in this folder ({exc.strerror})", str(folder)) from exc
    return folder


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))
