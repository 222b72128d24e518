"""Several labelled face sets as one table, each face labelled only for what its set labels.

CelebA's folders label 40 attributes (``celeba-wild`` only Male and Attractive), UTKFace labels
gender and age; a model trained on all of them masks what a row does not know (NaN here). The
split is by identity across every CelebA folder, so a person seen in training in one folder is
never scored in another; where a reference split exists (the run a new model is compared with)
its identities keep their split. UTKFace has no identities: its split is by file.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.data.celeba import read_celeba
from rostro.data.dataset import SPLITS
from rostro.data.utkface import read_utkface
from rostro.errors import DataFormatError

FORMATS = ("celeba", "utkface")
AUDIT_COLUMNS = ("race", "age_band")  # kept for auditing only: never a target


@dataclass
class Source:
    """One folder: its format, how its face is found (``chips``, a mode of ``rostro.faces.chips``,
    with ``box`` for mode 'box'), optionally the labels to take from it and, for CelebA's format,
    the image folder's name when it is not ``img_align_celeba`` (``img_celebahq``, ``img_crops``)."""

    data: str
    format: str = "celeba"
    chips: str = "aligned"
    labels: list[str] | None = None
    images: str | None = None
    box: list[float] | None = None

    def __post_init__(self) -> None:
        from rostro.faces.chips import check_chip_mode

        if self.format not in FORMATS:
            raise ValueError(f"source {self.data}: format must be one of {FORMATS}, got {self.format!r}")
        check_chip_mode(self.chips, f"source {self.data}: chips", self.box)


def _split_identities(identities: Sequence[str], fractions: Sequence[float], seed: int) -> dict[str, str]:
    """A seeded split of identities in the given fractions."""
    ids = sorted(set(identities))
    order = np.random.default_rng(seed).permutation(len(ids))
    cuts = np.cumsum(np.asarray(fractions) / np.sum(fractions))[:-1] * len(ids)
    parts = np.split(order, np.round(cuts).astype(int))
    return {ids[i]: split for split, part in zip(SPLITS, parts, strict=True) for i in part}


def _excluded_identities(frames: list[pd.DataFrame], exclude: Sequence[str | Path]) -> set[str]:
    """Identities of the files named by ``exclude`` (folders of images), in any CelebA frame."""
    names: set[str] = set()
    for src in exclude:
        src = Path(src)
        if not src.is_dir():
            raise DataFormatError("exclusion folder not found", file=src)
        names.update(p.name for p in src.rglob("*") if p.is_file())
    out: set[str] = set()
    for f in frames:
        out.update(f.loc[f["image_id"].map(lambda i: Path(str(i)).name).isin(names), "identity"])
    return out


def read_sources(
    sources: Sequence[Source],
    *,
    reference: pd.DataFrame | None = None,
    exclude: Sequence[str | Path] = (),
    fractions: Sequence[float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> tuple[pd.DataFrame, list[str]]:
    """One frame over every source and its label list (in first-seen order).

    Columns: ``path``, ``source`` (index into ``sources``), ``identity`` (CelebA only), ``split``,
    one float column per label (1, 0 or NaN where the source does not label it), ``age`` (NaN
    where unknown) and the audit columns. ``reference`` (a frame with ``identity`` and ``split``)
    fixes the split of the identities it holds; other identities are split with ``seed``.
    """
    celeba, utk = [], []
    for i, src in enumerate(sources):
        if src.format == "celeba":
            frame = read_celeba(src.data, labels=src.labels, images=src.images).frame.copy()
            frame["identity"] = "celeba:" + frame["identity"].astype(str)
            celeba.append((i, frame))
        else:
            frame = read_utkface(src.data, seed=seed, fractions=tuple(fractions)).frame.copy()
            keep = src.labels or ["Male"]
            utk.append((i, frame[["image_id", "path", "split", "age", *AUDIT_COLUMNS, *keep]]))
    known: dict[str, str] = {}
    if reference is not None:
        known = dict(zip("celeba:" + reference["identity"].astype(str), reference["split"], strict=True))
    others = {ident for _, f in celeba for ident in f["identity"] if ident not in known}
    known.update(_split_identities(sorted(others), fractions, seed))
    dropped = _excluded_identities([f for _, f in celeba], exclude) if exclude else set()
    parts = []
    for i, frame in celeba:
        frame = frame.loc[~frame["identity"].isin(dropped)].copy()
        frame["split"] = frame["identity"].map(known)
        frame["age"] = np.nan
        parts.append(frame.assign(source=i))
    parts += [frame.assign(source=i, identity=None) for i, frame in utk]
    labels: list[str] = []
    for src, (_, frame) in zip(sources, sorted(celeba + utk, key=lambda t: t[0]), strict=True):
        for name in src.labels or [c for c in frame.columns if frame[c].dtype == np.int8]:
            if name not in labels:
                labels.append(name)
    table = pd.concat(parts, ignore_index=True)
    columns = ["path", "source", "identity", "split", *labels, "age", *AUDIT_COLUMNS]
    table = table.reindex(columns=columns)
    table[labels] = table[labels].astype(np.float32)
    return table, labels
