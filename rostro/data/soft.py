"""Soft labels: extra training images scored by a teacher model (knowledge distillation).

A table with a ``path`` column and one probability per label, such as the CSV ``rostro predict
--aligned`` writes, lets a student learn from faces nobody labelled. Rows that ``predict``
marked as failed (``face_found`` false or an ``error``) are left out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.errors import DataFormatError
from rostro.validation import suggest


def read_soft_labels(path: str | Path, labels: Sequence[str]) -> pd.DataFrame:
    """``path`` (absolute) plus one float32 column per label in ``labels``' order, values in [0, 1]."""
    path = Path(path)
    if not path.is_file():
        raise DataFormatError("soft-label table not found", file=path)
    try:
        raw = pd.read_parquet(path) if path.suffix.lower() == ".parquet" else pd.read_csv(path)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise DataFormatError(f"cannot read the soft-label table: {exc}", file=path) from exc
    if "path" not in raw.columns:
        raise DataFormatError(f"expected a 'path' column, found {list(raw.columns)[:8]}", file=path)
    missing = [n for n in labels if n not in raw.columns]
    if missing:
        hint = suggest(missing[0], raw.columns.astype(str))
        raise DataFormatError(f"no column for label(s) {missing[:5]} (the model learns {len(labels)}).{hint}",
                              file=path)  # fmt: skip
    keep = np.ones(len(raw), bool)
    if "face_found" in raw.columns:
        keep &= raw["face_found"].astype(str).str.lower().isin(("true", "1"))
    if "error" in raw.columns:
        keep &= raw["error"].fillna("").astype(str).str.strip() == ""
    table = raw.loc[keep, ["path", *labels]].reset_index(drop=True)
    values = table[list(labels)].apply(pd.to_numeric, errors="coerce").to_numpy(np.float64)
    bad = ~np.isfinite(values) | (values < 0) | (values > 1)
    if bad.any():
        row, col = np.argwhere(bad)[0]
        line = int(np.flatnonzero(keep)[row]) + 2
        raise DataFormatError(
            f"{labels[col]} must be a probability in [0, 1], found {table.iloc[row][labels[col]]!r} "
            f"({int(bad.any(axis=1).sum())} bad row(s))", file=path, line=line,
        )  # fmt: skip
    base = path.resolve().parent
    table["path"] = [str(p if Path(p).is_absolute() else base / p) for p in table["path"].astype(str)]
    table[list(labels)] = values.astype(np.float32)
    return table


class StackedImages:
    """Two image arrays read as one (``first``'s rows, then ``second``'s) without copying either:
    the training cache may be a memory map larger than RAM."""

    def __init__(self, first: np.ndarray, second: np.ndarray):
        if first.shape[1:] != second.shape[1:] or first.dtype != second.dtype:
            raise ValueError(f"cannot stack images of {first.shape[1:]} {first.dtype} and "
                             f"{second.shape[1:]} {second.dtype}")  # fmt: skip
        self.first, self.second = first, second
        self.shape = (len(first) + len(second), *first.shape[1:])
        self.dtype = first.dtype

    def __len__(self) -> int:
        return self.shape[0]

    def __getitem__(self, rows: np.ndarray | Sequence[int]) -> np.ndarray:
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), *self.shape[1:]), self.dtype)
        low = rows < len(self.first)
        out[low] = self.first[rows[low]]
        out[~low] = self.second[rows[~low] - len(self.first)]
        return out
