"""Read a folder per class (``ROOT/{train,validate,test}/CLASS/*`` or ``ROOT/CLASS/*``), or any
folder of photos without labels."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.data.dataset import FaceDataset, normalise_split
from rostro.data.images import list_images
from rostro.data.sampling import split_dataset
from rostro.errors import DataFormatError
from rostro.validation import check_dir

log = logging.getLogger(__name__)
_NEGATION = re.compile(r"^(no|not|non|without)[_\- ]?(.+)$", re.IGNORECASE)


def _subdirs(path: Path) -> list[Path]:
    return sorted(p for p in path.iterdir() if p.is_dir() and not p.name.startswith("."))


def binary_label_name(classes: list[str]) -> tuple[str, list[str]] | None:
    """For two classes like ``eyeglasses``/``no_eyeglasses``: the label name and [neg, pos]."""
    if len(classes) != 2:
        return None
    for neg, pos in (classes, classes[::-1]):
        m = _NEGATION.match(neg)
        if m and m.group(2).lower() == pos.lower():
            return pos, [neg, pos]
    return classes[1], list(classes)


def read_folders(
    root: str | Path,
    *,
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15),
    seed: int = 0,
) -> FaceDataset:
    """Read a folder-per-class dataset.

    Two classes give one 0/1 label named after the positive class (``no_X``/``X`` makes X
    positive; otherwise the second in sorted order). More classes give one 0/1 column per
    class (one-hot). Without split folders, a seeded split stratified by class is made.
    """
    root = check_dir(root, what="dataset folder")
    top = _subdirs(root)
    split_of = {d: normalise_split(d.name) for d in top}
    if top and all(split_of.values()):
        layout = [(split_of[d], d) for d in top]
    elif any(split_of.values()):
        odd = [d.name for d, s in split_of.items() if not s]
        raise DataFormatError(
            f"mixes split folders with other folders {odd}; expected only train/validate/test "
            "folders, or only class folders",
            file=root,
        )
    else:
        layout = [(None, root)]
    rows = []
    for split, base in layout:
        for cls in _subdirs(base):
            for path in list_images(cls):
                rows.append((str(path.relative_to(root)), str(path), split or "train", cls.name))
    if not rows:
        loose = len(list_images(root))  # images there, but not in class folders
        found = f"{loose} image(s) outside class folders" if loose else "no images"
        raise DataFormatError(
            f"found {found}; expected ROOT/{{train,validate,test}}/CLASS/*.jpg or ROOT/CLASS/*.jpg (one folder of "
            "images a class)",
            file=root,
        )
    frame = pd.DataFrame(rows, columns=["image_id", "path", "split", "class"])
    classes = sorted(frame["class"].unique())
    if len(classes) < 2:
        raise DataFormatError(f"found a single class {classes}; at least two are needed", file=root)
    for split, base in layout:
        sub = frame[frame["split"] == (split or "train")]
        absent = sorted(set(classes) - set(sub["class"]))
        if absent:
            log.warning("%s: no images of class(es) %s", base, absent)
    binary = binary_label_name(classes)
    if binary is not None:
        name, (_, pos) = binary
        labels = [name]
        frame[name] = (frame["class"] == pos).astype(np.int8)
    else:
        labels = classes
        for c in classes:
            frame[c] = (frame["class"] == c).astype(np.int8)
    ds = FaceDataset(frame=frame, labels=labels, source="folders", root=root)
    if layout[0][0] is None:
        ds = split_dataset(ds, fractions=fractions, stratify=labels[0], seed=seed)
    return ds


def read_images(root: str | Path) -> FaceDataset:
    """Every image below ``root``, unlabelled, as one split: for commands that need no labels
    (embedding a folder of photos, as face_recognition's command line does)."""
    root = check_dir(root, what="image folder")
    paths = list_images(root)
    if not paths:
        raise DataFormatError("no images found in this folder or below it", file=root)
    frame = pd.DataFrame({"image_id": [str(p.relative_to(root)) for p in paths], "path": [str(p) for p in paths],
                          "split": "test"})  # fmt: skip
    return FaceDataset(frame=frame, labels=[], source="images", root=root)
