"""Read a CSV manifest: one row per image, a path column and any label, group, identity columns."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.data.dataset import FaceDataset, binary_labels, check_unique_ids, normalise_split, resolve_missing
from rostro.data.sampling import split_dataset
from rostro.errors import DataFormatError
from rostro.files import read_csv_text
from rostro.validation import suggest

LABEL_SHARE = 0.9


def _column(raw: pd.DataFrame, name: str, path: Path, role: str) -> str:
    if name not in raw.columns:
        raise DataFormatError(
            f"no {role} column {name!r}.{suggest(name, raw.columns)} Columns found: {list(raw.columns)}",
            file=path,
        )
    return name


def safe_join(root: Path, relative: str, *, file: Path, line: int) -> Path:
    """``root / relative``, refusing absolute paths and ``..`` that would leave ``root``."""
    rel = Path(relative)
    if rel.is_absolute():
        raise DataFormatError(
            f"absolute image path {relative!r} refused; paths are relative to {root}", file=file, line=line
        )
    full = (root / rel).resolve()
    if not full.is_relative_to(root):
        raise DataFormatError(f"image path {relative!r} leaves the folder {root}", file=file, line=line)
    return full


def read_manifest(
    csv_path: str | Path,
    *,
    path_column: str = "path",
    labels: list[str] | None = None,
    groups: list[str] | None = None,
    identity: str | None = None,
    split_column: str | None = None,
    root: str | Path | None = None,
    missing: str = "error",
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> FaceDataset:
    """Read a CSV manifest into a :class:`FaceDataset`.

    Image paths are relative to ``root`` (default: the CSV's folder) and may not leave it.
    ``labels`` default to every other column whose values are -1/0/1 (in at least 90% of rows: the
    rest are then reported as errors by line), ``groups`` to the
    columns left after that, ``identity`` and ``split_column`` to columns named ``identity``
    and ``split`` when present. The split column holds train/validation/test (or 0/1/2);
    without one a seeded, identity-disjoint split is made.
    """
    path = Path(csv_path)
    if not path.is_file():
        raise DataFormatError("manifest not found", file=path)
    raw = read_csv_text(path, what="manifest", keep_default_na=False)
    if raw.empty:
        raise DataFormatError("no rows after the header line", file=path)
    base = Path(root).resolve() if root is not None else path.parent.resolve()
    _column(raw, path_column, path, "path")
    if identity is None and "identity" in raw.columns:
        identity = "identity"
    if split_column is None and "split" in raw.columns:
        split_column = "split"
    auto_groups = groups is None
    groups = [_column(raw, g, path, "group") for g in (groups or [])]
    if identity is not None:
        _column(raw, identity, path, "identity")
    if split_column is not None:
        _column(raw, split_column, path, "split")
    reserved = {path_column, identity, split_column, *groups}
    if labels is None:  # mostly -1/0/1 is a label column: its other values are errors that name their line
        labels = [
            c for c in raw.columns
            if c not in reserved and raw[c].str.strip().isin(["-1", "0", "1"]).mean() >= LABEL_SHARE
        ]  # fmt: skip
        if not labels:
            raise DataFormatError(
                f"no label column found (a column of -1/0/1 values); columns: {list(raw.columns)}",
                file=path,
            )
    labels = [_column(raw, c, path, "label") for c in labels]
    if auto_groups:
        groups = [c for c in raw.columns if c not in reserved and c not in labels]
    ids = raw[path_column].str.strip()
    if (ids == "").any():
        line = int(np.flatnonzero((ids == "").to_numpy())[0]) + 2
        raise DataFormatError(f"empty {path_column!r}", file=path, line=line)
    check_unique_ids(ids, file=path, first_line=2)
    frame = pd.DataFrame({"image_id": ids.to_numpy()})
    frame["path"] = [str(safe_join(base, r, file=path, line=i + 2)) for i, r in enumerate(ids)]
    same = frame["path"].map(os.path.normpath)  # a.jpg and ./a.jpg: one image, whose rows would be confused
    twice = same.duplicated(keep=False).to_numpy()
    if twice.any():
        a, b = np.flatnonzero((same == same[twice].iloc[0]).to_numpy())[:2]
        raise DataFormatError(f"one image listed twice, as {ids.iloc[a]!r} (line {a + 2}) and {ids.iloc[b]!r}; "
                              "list each image once", file=path, line=int(b) + 2)  # fmt: skip
    if split_column is not None:
        split = raw[split_column].map(normalise_split)
        if split.isna().any():
            i = int(np.flatnonzero(split.isna().to_numpy())[0])
            raise DataFormatError(
                f"split {raw[split_column].iloc[i]!r}; expected train/validation/test or 0/1/2",
                file=path,
                line=i + 2,
            )
        frame["split"] = split.to_numpy()
    else:
        frame["split"] = "train"
    frame[labels] = binary_labels(raw[labels], file=path, lines=range(2, len(raw) + 2)).to_numpy()
    if identity is not None:
        frame["identity"] = raw[identity].str.strip().to_numpy()
    for g in groups:
        frame[g] = raw[g].str.strip().to_numpy()
    exists = np.array([Path(p).is_file() for p in frame["path"]], dtype=bool)
    frame, dropped = resolve_missing(frame, exists, missing=missing, file=path, image_dir=base)
    ds = FaceDataset(frame=frame, labels=labels, source="manifest", root=base, groups=groups, dropped=dropped)
    if split_column is None:
        ds = split_dataset(ds, fractions=fractions, stratify=labels[0], seed=seed)
    return ds
