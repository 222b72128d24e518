"""Splits and sampling that never move an image or an identity across splits."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from rostro.data.dataset import SPLITS, FaceDataset
from rostro.errors import DataFormatError
from rostro.validation import check_fractions, check_names


def _cut(weights: np.ndarray, fractions: tuple[float, float, float]) -> np.ndarray:
    """Split names for shuffled units, cut by cumulative weight so each split gets its fraction."""
    share = weights / max(weights.sum(), 1)
    midpoints = np.cumsum(share) - share / 2
    codes = np.searchsorted(np.cumsum(fractions)[:2], midpoints, side="right")
    return np.asarray(SPLITS, dtype=object)[np.minimum(codes, 2)]


def split_dataset(
    ds: FaceDataset,
    *,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    stratify: str | None = None,
    seed: int = 0,
) -> FaceDataset:
    """Seeded train/validation/test split, identity-disjoint whenever identities are known.

    With identities, whole identities are shuffled and cut by image count; stratifying on
    a label groups identities by their majority value first, so each split keeps the
    label's balance. Without identities, images are split, stratified on ``stratify``.
    """
    fr = check_fractions(fractions, caller="split_dataset")
    if stratify is not None:
        check_names(stratify, ds.labels, what="label", caller="split_dataset")
    rng = np.random.default_rng(seed)
    frame = ds.frame.copy()
    unit = frame["identity"] if ds.has_identity else pd.Series(np.arange(len(frame)), index=frame.index)
    per_unit = pd.DataFrame({"unit": unit.to_numpy(), "y": frame[stratify].to_numpy() if stratify else 0})
    units = per_unit.groupby("unit", sort=True)["y"].agg(["size", "mean"])
    assigned: dict = {}
    for _, members in units.groupby((units["mean"] >= 0.5).to_numpy()):
        picked = members.iloc[rng.permutation(len(members))]
        assigned.update(zip(picked.index, _cut(picked["size"].to_numpy(), fr), strict=True))
    frame["split"] = unit.map(assigned).to_numpy()
    return ds.with_frame(frame)


def ensure_splits(ds: FaceDataset, **split_options: Any) -> FaceDataset:
    """Keep an official partition that has several splits; make a seeded one otherwise, with
    :func:`split_dataset` and its keyword options (``fractions``, ``stratify``, ``seed``).

    The shared CelebA subsets are all 'train' in the official partition, so they get
    identity-disjoint splits here; full CelebA keeps its own.
    """
    if ds.frame["split"].nunique() > 1:
        return ds
    return split_dataset(ds, **split_options)


def identity_overlap(ds: FaceDataset) -> pd.DataFrame:
    """Identities found in more than one split, with their image count per split (empty if none)."""
    if not ds.has_identity:
        return pd.DataFrame(columns=["identity", *SPLITS])
    counts = pd.crosstab(ds.frame["identity"], ds.frame["split"])
    counts = counts.reindex(columns=list(SPLITS), fill_value=0)
    shared = counts[(counts > 0).sum(axis=1) > 1]
    return shared.reset_index().rename_axis(columns=None)


def check_no_leakage(ds: FaceDataset) -> None:
    """Raise when an identity appears in two splits, naming a few of them."""
    overlap = identity_overlap(ds)
    if len(overlap):
        shown = overlap["identity"].astype(str).tolist()[:5]
        raise DataFormatError(
            f"{len(overlap)} identities appear in more than one split (e.g. {shown}); "
            "a model would be tested on people it was trained on"
        )


def sample_balanced(
    ds: FaceDataset,
    label: str,
    sizes: dict[str, int],
    *,
    seed: int = 0,
    strict: bool = False,
) -> FaceDataset:
    """Per split, draw ``sizes[split]`` images, half with ``label`` = 1 and half with 0.

    Sampling stays inside each split, so the partition (and identity disjointness) holds.
    When a split has too few images of one class, all of them are taken and the other
    class is cut to match (``strict=True`` raises instead). Splits absent from ``sizes``
    are left out.
    """
    check_names(label, ds.labels, what="label", caller="sample_balanced")
    rng = np.random.default_rng(seed)
    parts = []
    for split, n in sizes.items():
        if split not in SPLITS:
            raise ValueError(f"sample_balanced: unknown split {split!r}; expected one of {SPLITS}")
        rows = ds.frame[ds.frame["split"] == split]
        pos = rows.index[rows[label] == 1].to_numpy()
        neg = rows.index[rows[label] == 0].to_numpy()
        half = int(n) // 2
        take = min(half, len(pos), len(neg))
        if take < half and strict:
            raise DataFormatError(
                f"split {split!r} has {len(pos)} images with {label}=1 and {len(neg)} with "
                f"{label}=0; {half} of each were asked for"
            )
        chosen = np.concatenate([rng.choice(pos, take, replace=False), rng.choice(neg, take, replace=False)])
        parts.append(ds.frame.loc[np.sort(chosen)])
    return ds.with_frame(pd.concat(parts) if parts else ds.frame.iloc[:0])


def exclude_images(ds: FaceDataset, sources: list[str | Path]) -> FaceDataset:
    """Drop the images named in ``sources`` (folders of images or text files of ids), and every
    image of their identities, from all splits.

    Used to keep a trunk blind to another dataset's validation and test faces before a
    transfer measurement on them.
    """
    names: set[str] = set()
    for src in sources:
        src = Path(src)
        if src.is_dir():
            names.update(p.name for p in src.rglob("*") if p.is_file())
        elif src.is_file():
            names.update(Path(line.strip()).name for line in src.read_text().splitlines() if line.strip())
        else:
            raise DataFormatError("exclusion list not found", file=src)
    base = ds.frame["image_id"].map(lambda i: Path(str(i)).name)
    hit = base.isin(names)
    if ds.has_identity:
        hit = ds.frame["identity"].isin(set(ds.frame.loc[hit, "identity"]))
    return ds.with_frame(ds.frame.loc[~hit])
