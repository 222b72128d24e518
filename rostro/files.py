"""Files written whole or not at all (temporary file, fsync, rename), a writable-folder check,
the refusal to resume another run's output, and CSV tables read with errors that name the file.

Training, inference and the service all write through these, so none needs another's package.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

from rostro.errors import DataFormatError, RostroError

if TYPE_CHECKING:
    import pandas as pd


def user_cache_dir(*parts: str) -> Path:
    """rostro's one cache folder: ``$ROSTRO_CACHE``, else ``$XDG_CACHE_HOME/rostro`` (``~/.cache/rostro``).

    It holds what is derived once and keyed by what it came from: decoded image caches, dlib's
    converted network, ONNX exports, face-network chips, the synthetic default dataset.
    """
    root = os.environ.get("ROSTRO_CACHE") or Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache", "rostro")
    return Path(root, *parts)


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A temporary name beside ``path`` for the block to write (a file or a folder), renamed to
    ``path`` when the block succeeds and removed when it fails, so ``path`` is never seen torn.

    The name carries the process id: ranks and workers writing the same file never share one.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        with contextlib.suppress(OSError):  # on a read-only disk even removing a missing file fails
            if tmp.is_dir():
                shutil.rmtree(tmp)
            else:
                tmp.unlink(missing_ok=True)


def atomic_write_bytes(path: str | Path, data: bytes) -> Path:
    """Write ``data`` so that ``path`` holds either the old or the new content, never a torn file."""
    path = Path(path)
    try:
        with atomic_path(path) as tmp, open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
    except OSError as exc:  # name the file the user asked for, not the temporary one
        raise OSError(exc.errno, exc.strerror, str(path)) from exc
    return path


def atomic_write_text(path: str | Path, text: str) -> Path:
    return atomic_write_bytes(path, text.encode("utf-8"))


def check_writable(folder: str | Path) -> Path:
    """Create ``folder`` and prove a file can be written there, before hours of work depend on it.

    The probe is named by the process: torchrun's ranks check the same folder at once.
    """
    folder = Path(folder)
    if folder.exists() and not folder.is_dir():
        raise RostroError(f"{folder}: expected a folder for the outputs, found a file; choose another --out")
    folder.mkdir(parents=True, exist_ok=True)
    try:
        atomic_write_bytes(folder / f".rostro-write-test.{os.getpid()}", b"").unlink()
    except OSError as exc:
        raise OSError(exc.errno, f"cannot write in this folder ({exc.strerror})", str(folder)) from exc
    return folder


def output_names(paths: list[Path], root: Path) -> list[str]:
    """A distinct file name (no extension) for each input's output: its stem where no other input has it, else its
    path below ``root`` and its extension joined by '_' (``s1/p.jpg`` -> ``s1_p_jpg``), numbered if still taken."""
    stems = [p.stem for p in paths]
    names: list[str] = []
    taken: set[str] = set()
    for p, s in zip(paths, stems, strict=True):
        if stems.count(s) > 1:
            below = p.relative_to(root) if p.is_relative_to(root) else Path(p.name)
            s = "_".join(below.with_suffix("").parts) + "_" + p.suffix.lstrip(".").lower()
        name, n = s, 1
        while name in taken or (name != p.stem and name in stems):
            n += 1
            name = f"{s}_{n}"
        taken.add(name)
        names.append(name)
    return names


def check_resumable(out: Path, stored: str | None, signature: str, what: str, *, work: Path | None = None) -> None:
    """Refuse to add to ``out`` when ``stored`` (the signature it was written with; None when it has
    none) is not ``signature``: rows of two models or option sets must never share a file. The error names
    only the options that differ, and ``work`` (what to delete to start again) where that is not ``out``."""
    if stored == signature:
        return
    if stored is None:
        made, wanted = "unknown options (a file from before rostro recorded them)", signature
    else:
        made, wanted = _options_apart(stored, signature)
    raise RostroError(f"{out} already holds {what} from another model or options: made with {made}, not "
                      f"{wanted}; delete {'it' if work is None else work} or choose another --out")  # fmt: skip


def _options_apart(stored: str, signature: str) -> tuple[str, str]:
    """The two signatures cut to the options that differ, when both are JSON objects."""
    try:
        a, b = json.loads(stored), json.loads(signature)
    except ValueError:
        return stored, signature
    if not isinstance(a, dict) or not isinstance(b, dict):
        return stored, signature
    keys = sorted(k for k in a.keys() | b.keys() if k not in a or k not in b or a[k] != b[k])
    if not keys:  # the same options written otherwise
        return stored, signature
    absent = "(not recorded)"
    return json.dumps({k: a.get(k, absent) for k in keys}), json.dumps({k: b.get(k, absent) for k in keys})


def read_csv_text(path: Path, *, what: str, **options) -> pd.DataFrame:
    """A CSV as stripped-header text columns; an empty or malformed file is a ``DataFormatError``
    naming it (``what`` says what the file was meant to be). ``options`` go to ``pd.read_csv``."""
    import pandas as pd

    try:
        raw = pd.read_csv(path, dtype=str, encoding="utf-8-sig", skipinitialspace=True, **options)
    except pd.errors.EmptyDataError:
        raise DataFormatError(f"empty {what}", file=path) from None
    except pd.errors.ParserError as exc:
        raise DataFormatError(f"malformed CSV: {exc}", file=path) from None
    raw.columns = [str(c).strip() for c in raw.columns]
    return raw
