"""Read UTKFace as it ships: ``AGE_GENDER_RACE_DATETIME.jpg(.chip.jpg)`` file names carry the labels."""

from __future__ import annotations

import logging
import re
from datetime import datetime
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.data.dataset import FaceDataset
from rostro.data.images import list_images
from rostro.data.sampling import split_dataset
from rostro.errors import DataFormatError
from rostro.validation import check_dir

log = logging.getLogger(__name__)
RACES = {0: "White", 1: "Black", 2: "Asian", 3: "Indian", 4: "Others"}
AGE_BANDS = [(0, 17, "0-17"), (18, 29, "18-29"), (30, 44, "30-44"), (45, 59, "45-59"), (60, 200, "60+")]
UTK_NAME = re.compile(r"^(\d{1,3})_([01])_([0-4])_(\d{17})\.jpg(?:\.chip\.jpg)?$")


def parse_utkface_name(name: str) -> dict:
    """Labels from one UTKFace file name; a ValueError says which field is wrong."""
    m = UTK_NAME.match(name)
    if not m:
        fields = name.split("_")
        if len(fields) < 4:
            raise ValueError(f"expected AGE_GENDER_RACE_DATETIME.jpg, found {len(fields)} field(s)")
        raise ValueError("fields are not AGE (0-116), GENDER (0/1), RACE (0-4), DATETIME (17 digits)")
    age, gender, race, stamp = int(m[1]), int(m[2]), int(m[3]), m[4]
    try:
        datetime.strptime(stamp[:14], "%Y%m%d%H%M%S")
    except ValueError:
        raise ValueError(f"broken date {stamp!r}") from None
    if age > 116:
        raise ValueError(f"age {age} is outside 0-116")
    band = next(b for lo, hi, b in AGE_BANDS if lo <= age <= hi)
    return {"age": age, "gender": gender, "race_code": race, "race": RACES[race], "age_band": band}


def read_utkface(
    root: str | Path, *, on_error: str = "skip", fractions=(0.7, 0.15, 0.15), seed: int = 0
) -> FaceDataset:
    """Read a UTKFace folder. Labels: ``Male`` (gender 0), groups ``race``, ``gender``, ``age_band``.

    Files whose names lack a field or carry a broken date are reported by name and skipped
    (``on_error='skip'``) or fail the read (``'raise'``); nothing is guessed. UTKFace has no
    identities, so the seeded split is by image, stratified on Male.
    """
    if on_error not in ("skip", "raise"):
        raise ValueError(f"on_error must be 'skip' or 'raise', got {on_error!r}")
    root = check_dir(root, what="UTKFace folder")
    rows, bad = [], []
    for path in list_images(root):
        try:
            rows.append({"image_id": path.name, "path": str(path), **parse_utkface_name(path.name)})
        except ValueError as exc:
            if on_error == "raise":
                raise DataFormatError(f"bad UTKFace file name: {exc}", file=path) from None
            bad.append(path.name)
            log.warning("skipped %s: %s", path.name, exc)
    if not rows:
        raise DataFormatError("no UTKFace images (AGE_GENDER_RACE_DATETIME.jpg) found", file=root)
    frame = pd.DataFrame(rows)
    frame["Male"] = (frame["gender"] == 0).astype(np.int8)
    frame["gender"] = np.where(frame["gender"] == 0, "male", "female")
    frame["split"] = "train"
    ds = FaceDataset(frame=frame, labels=["Male"], source="utkface", root=root,
                     groups=["race", "gender", "age_band"], dropped=bad)  # fmt: skip
    return split_dataset(ds, fractions=fractions, stratify="Male", seed=seed)
