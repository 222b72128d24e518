"""The one in-memory table of samples every reader returns and every later step reads."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.errors import DataFormatError, MissingImagesError
from rostro.validation import check_names

log = logging.getLogger(__name__)

SPLITS = ("train", "validation", "test")
_SPLIT_ALIASES = {
    "0": "train", "train": "train", "training": "train",
    "1": "validation", "val": "validation", "valid": "validation",
    "validate": "validation", "validation": "validation", "dev": "validation",
    "2": "test", "test": "test", "testing": "test",
}  # fmt: skip


def normalise_split(value: object) -> str | None:
    """Map CelebA's 0/1/2 and the usual split names onto train/validation/test (else None)."""
    return _SPLIT_ALIASES.get(str(value).strip().lower())


@dataclass
class FaceDataset:
    """A table of face images with binary labels, a split, and optional identity and groups.

    ``frame`` has one row per image with columns ``image_id`` (as named by the source),
    ``path`` (absolute), ``split`` (train/validation/test), one 0/1 ``int8`` column per
    name in ``labels``, ``identity`` when known, and the columns named in ``groups``.
    """

    frame: pd.DataFrame
    labels: list[str]
    source: str
    root: Path
    groups: list[str] = field(default_factory=list)
    dropped: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        required = ["image_id", "path", "split", *self.labels, *self.groups]
        absent = [c for c in required if c not in self.frame.columns]
        if absent:
            raise ValueError(f"FaceDataset frame lacks columns {absent}")
        bad = sorted(set(self.frame["split"].unique()) - set(SPLITS))
        if bad:
            raise ValueError(f"FaceDataset split values must be in {SPLITS}, found {bad}")

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def has_identity(self) -> bool:
        return "identity" in self.frame.columns

    def split(self, name: str) -> FaceDataset:
        """The rows of one split, as a dataset of their own."""
        if name not in SPLITS:
            raise ValueError(f"split must be one of {SPLITS}, got {name!r}")
        return self.with_frame(self.frame[self.frame["split"] == name])

    def with_frame(self, frame: pd.DataFrame) -> FaceDataset:
        """The same dataset description over other rows (a subset, a new split)."""
        return replace(self, frame=frame.reset_index(drop=True))

    def select_labels(self, names: str | list[str]) -> FaceDataset:
        """Keep only the named label columns (unknown names get a suggestion)."""
        names = check_names(names, self.labels, what="label", caller="select_labels")
        drop = [c for c in self.labels if c not in names]
        return replace(self, frame=self.frame.drop(columns=drop), labels=names)

    def split_sizes(self) -> dict[str, int]:
        counts = self.frame["split"].value_counts()
        return {s: int(counts.get(s, 0)) for s in SPLITS}

    def label_matrix(self) -> np.ndarray:
        """N x len(labels) array of 0/1 labels."""
        return self.frame[self.labels].to_numpy(dtype=np.int8)


def resolve_missing(
    frame: pd.DataFrame,
    exists: np.ndarray,
    *,
    missing: str,
    file: str | Path | None,
    image_dir: str | Path,
) -> tuple[pd.DataFrame, list[str]]:
    """Apply the missing-image policy: 'error' raises naming them, 'drop' removes them."""
    if missing not in ("error", "drop"):
        raise ValueError(f"missing must be 'error' or 'drop', got {missing!r}")
    if exists.all():
        return frame, []
    absent = frame.loc[~exists, "image_id"].astype(str).tolist()
    if missing == "error":
        raise MissingImagesError(absent, file=file, image_dir=image_dir)
    log.warning("dropped %d listed image(s) absent from %s", len(absent), image_dir)
    return frame.loc[exists].reset_index(drop=True), absent


def binary_labels(
    values: pd.DataFrame, *, file: str | Path, lines: Sequence[int], one_encoding: bool = False
) -> pd.DataFrame:
    """Label cells -1/0/1 (text or numbers) as int8 0/1, the first bad cell named by its line
    (``lines[row]``) and column. ``one_encoding`` refuses -1 and 0 in one file: in a -1/1 file
    (CelebA's) a 0 is a typo, in a 0/1 file (Kaggle's) a -1 is."""
    numeric = values.apply(pd.to_numeric, errors="coerce")
    bad = ~numeric.isin([-1, 0, 1]).to_numpy()
    if bad.any():
        r, c = (int(i) for i in np.argwhere(bad)[0])
        raise DataFormatError(f"column {values.columns[c]!r} must hold -1/0/1 labels, found {values.iat[r, c]!r}",
                              file=file, line=lines[r])  # fmt: skip
    if one_encoding and (numeric == -1).any().any() and (numeric == 0).any().any():
        raise DataFormatError("mixes -1 and 0 values: use -1/1 (CelebA) or 0/1 (Kaggle), not both", file=file)
    return (numeric == 1).astype(np.int8)


def check_unique_ids(ids: pd.Series, *, file: str | Path, first_line: int) -> None:
    """Raise on a repeated image id, naming both lines."""
    dup = ids.duplicated(keep=False)
    if dup.any():
        name = ids[dup].iloc[0]
        lines = (np.flatnonzero((ids == name).to_numpy()) + first_line).tolist()
        raise DataFormatError(
            f"duplicate image id {name!r} on lines {lines}; each image may be listed once",
            file=file,
            line=lines[1],
        )


def group_name(key: object) -> str:
    """One group's name; a combination of group columns (a tuple key) has its values joined by
    ' / ', so tables, JSON keys and plots name a group alike."""
    return " / ".join(map(str, key)) if isinstance(key, tuple) else str(key)


def group_keys(groups: pd.DataFrame | pd.Series) -> pd.Series:
    """Each row's group name (:func:`group_name`): one column's values, or several columns' joined."""
    if isinstance(groups, pd.Series):
        return groups.astype(str)
    if groups.shape[1] == 1:
        return groups.iloc[:, 0].astype(str)
    return pd.Series([group_name(tuple(row)) for row in groups.astype(str).itertuples(index=False)], index=groups.index)


def sort_by_paths(frame: pd.DataFrame, paths: Sequence[str | Path]) -> pd.DataFrame:
    """``frame`` re-ordered so its ``path`` column follows ``paths`` (rows not in it last)."""
    order = {str(p): i for i, p in enumerate(paths)}
    return frame.sort_values("path", key=lambda s: s.astype(str).map(order)).reset_index(drop=True)
