"""Check-and-convert helpers called at the boundary of public functions.

Strict by default; each message says what was expected, what was found and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable, Sequence
from pathlib import Path

from rostro.errors import DataFormatError


def suggest(name: str, choices: Iterable[str]) -> str:
    """A ' Did you mean X?' hint for a misspelt name, or an empty string."""
    close = difflib.get_close_matches(name, list(choices), n=1, cutoff=0.5)
    if not close:
        lowered = {c.lower(): c for c in choices}
        if name.lower() in lowered:
            close = [lowered[name.lower()]]
    return f" Did you mean {close[0]!r}?" if close else ""


def check_names(
    names: str | Sequence[str], available: Sequence[str], *, what: str = "label", caller: str = ""
) -> list[str]:
    """Return ``names`` as a list after checking each exists in ``available``."""
    if isinstance(names, str):
        names = [names]
    names = list(names)
    if not names:
        raise ValueError(f"{caller or 'rostro'}: expected at least one {what} name, got none.")
    for name in names:
        if name not in available:
            shown = ", ".join(available[:12]) + (" ..." if len(available) > 12 else "")
            raise ValueError(
                f"{caller + ': ' if caller else ''}unknown {what} {name!r}.{suggest(name, available)}"
                f" Available: {shown}"
            )
    return names


def check_fractions(fractions: Sequence[float], *, caller: str = "") -> tuple[float, float, float]:
    """Train/validation/test fractions: three non-negative numbers summing to 1, train > 0."""
    if len(fractions) != 3:
        raise ValueError(f"{caller}: expected 3 fractions (train, validation, test), got {fractions}")
    tr, va, te = (float(f) for f in fractions)
    if min(tr, va, te) < 0 or tr <= 0 or abs(tr + va + te - 1.0) > 1e-6:
        raise ValueError(f"{caller}: fractions must be >= 0, train > 0 and sum to 1; got {tr}, {va}, {te}")
    return tr, va, te


def check_dir(path: str | Path, *, what: str = "folder") -> Path:
    """An existing directory (returned absolute), or a DataFormatError that names it."""
    path = Path(path)
    if not path.exists():
        raise DataFormatError(f"{what} does not exist", file=path)
    if not path.is_dir():
        raise DataFormatError(f"{what} is not a folder", file=path)
    return path.resolve()
