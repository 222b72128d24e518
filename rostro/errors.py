"""Exceptions that name the file, line or column at fault, so users can fix their data."""

from __future__ import annotations

from pathlib import Path


class RostroError(Exception):
    """Base class of every error rostro raises on purpose."""


class DataFormatError(RostroError, ValueError):
    """A label file, manifest or folder layout is not what rostro expects.

    ``file`` and ``line`` (1-based) point at the culprit when known.
    """

    def __init__(self, message: str, *, file: str | Path | None = None, line: int | None = None):
        self.file = None if file is None else str(file)
        self.line = line
        where = ""
        if self.file is not None:
            where = self.file + (f":{line}" if line is not None else "") + ": "
        super().__init__(where + message)


class MissingImagesError(DataFormatError):
    """Images are listed in a label file but absent from disk."""

    def __init__(self, missing: list[str], *, file: str | Path | None, image_dir: str | Path):
        self.missing = list(missing)
        shown = ", ".join(self.missing[:5]) + (" ..." if len(self.missing) > 5 else "")
        super().__init__(
            f"{len(self.missing)} listed image(s) not found in {image_dir}: {shown}. "
            "Pass missing='drop' (CLI: --drop-missing) to leave them out.",
            file=file,
        )


class ImageDecodeError(RostroError, ValueError):
    """An image file cannot be read: missing, corrupt, truncated, too large or not an image."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")
