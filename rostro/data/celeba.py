"""Read CelebA as it ships: the official text files, Kaggle's CSVs, and the image folder."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.data.dataset import FaceDataset, binary_labels, check_unique_ids, normalise_split, resolve_missing
from rostro.errors import DataFormatError
from rostro.files import read_csv_text
from rostro.validation import check_dir, check_names

_ID_COLUMN_NAMES = {"image_id", "image", "img", "filename", "file", "name", "id"}
IMAGE_DIRS = ("img_align_celeba", "img_celeba", "img_align_celeba_png")


def read_text_lines(path: Path) -> list[str]:
    """Lines of a text file; UTF-8 BOM, CRLF, tabs and trailing spaces are accepted."""
    try:
        text = path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise DataFormatError(f"not UTF-8 text ({exc.reason} at byte {exc.start})", file=path) from None
    return text.splitlines()


def _find(root: Path, stem: str) -> Path | None:
    for ext in (".txt", ".csv"):
        if (root / f"{stem}{ext}").is_file():
            return root / f"{stem}{ext}"
    return None


def _parse_attr_txt(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """CelebA's format: a count line, a header of attribute names, then ``name v1 v2 ...``."""
    lines = read_text_lines(path)
    numbered = [(i + 1, ln.split()) for i, ln in enumerate(lines) if ln.strip()]
    if not numbered:
        raise DataFormatError("empty attribute file", file=path)
    declared = None
    first_no, first = numbered[0]
    if len(first) == 1 and first[0].lstrip("-").isdigit():
        declared = int(first[0])
        numbered = numbered[1:]
        if not numbered:
            raise DataFormatError("expected a header line of attribute names after the count", file=path)
    header_no, header = numbered[0]
    rows = numbered[1:]
    if header[0].lower() in _ID_COLUMN_NAMES:  # a header that names the id column too
        header = header[1:]
    if len(set(header)) != len(header):
        dupes = sorted({h for h in header if header.count(h) > 1})
        raise DataFormatError(f"attribute names repeated in the header: {dupes}", file=path, line=header_no)
    width = len(header) + 1
    for line_no, toks in rows:
        if len(toks) != width:
            raise DataFormatError(
                f"expected {width} fields (image name + {len(header)} attributes from the header "
                f"on line {header_no}), found {len(toks)}",
                file=path,
                line=line_no,
            )
    if declared is not None and declared != len(rows):
        raise DataFormatError(
            f"line {first_no} declares {declared} images but {len(rows)} rows follow",
            file=path,
            line=first_no,
        )
    ids = pd.Series([t[0] for _, t in rows], dtype=object)
    check_unique_ids(ids, file=path, first_line=rows[0][0] if rows else 1)
    values = pd.DataFrame([t[1:] for _, t in rows], columns=header, dtype=object)
    frame = binary_labels(values, file=path, lines=[n for n, _ in rows], one_encoding=True)
    frame.insert(0, "image_id", ids.to_numpy())
    return frame, header


def _parse_attr_csv(path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Kaggle's ``list_attr_celeba.csv``: ``image_id,attr1,...`` with 0/1 or -1/1 values."""
    raw = read_csv_text(path, what="attribute file")
    if raw.shape[1] < 2:
        raise DataFormatError("expected an image id column then attribute columns", file=path)
    id_col, names = raw.columns[0], list(raw.columns[1:])
    if raw.isna().any().any():
        r, c = np.argwhere(raw.isna().to_numpy())[0]
        raise DataFormatError(f"column {raw.columns[c]!r} is empty", file=path, line=int(r) + 2)
    ids = raw[id_col].str.strip()
    check_unique_ids(ids, file=path, first_line=2)
    values = raw[names].apply(lambda s: s.str.strip())
    frame = binary_labels(values, file=path, lines=range(2, len(raw) + 2), one_encoding=True)
    frame.insert(0, "image_id", ids.to_numpy())
    return frame, names


def _read_mapping(path: Path, what: str) -> pd.Series:
    """A two-column ``image_id value`` file (txt, whitespace) or CSV with a header."""
    if path.suffix == ".csv":
        raw = read_csv_text(path, what=f"{what} file")
        if raw.shape[1] != 2:
            raise DataFormatError(f"expected 2 columns (image id, {what}), found {raw.shape[1]}", file=path)
        ids, vals, first = raw.iloc[:, 0].str.strip(), raw.iloc[:, 1].str.strip(), 2
    else:
        pairs, first = [], None
        for i, ln in enumerate(read_text_lines(path)):
            toks = ln.split()
            if not toks:
                continue
            if len(toks) != 2:
                raise DataFormatError(f"expected 2 fields (image id, {what}), found {len(toks)}", file=path, line=i + 1)
            first = first or i + 1
            pairs.append(toks)
        if not pairs:
            raise DataFormatError(f"empty {what} file", file=path)
        ids = pd.Series([p[0] for p in pairs])
        vals = pd.Series([p[1] for p in pairs])
    check_unique_ids(ids.reset_index(drop=True), file=path, first_line=first)
    return pd.Series(vals.to_numpy(), index=ids.to_numpy(), name=what)


def _image_dir(root: Path, images: str | Path | None) -> Path:
    if images is not None:
        found = Path(images) if Path(images).is_absolute() else root / images
        return check_dir(found, what="image folder")
    for name in IMAGE_DIRS:
        cand = root / name
        if cand.is_dir():
            nested = cand / name  # Kaggle's zip nests the folder in itself
            return nested if nested.is_dir() else cand
    raise DataFormatError(f"no image folder found; expected one of {list(IMAGE_DIRS)}", file=root)


def read_celeba(
    root: str | Path,
    *,
    labels: list[str] | None = None,
    images: str | Path | None = None,
    missing: str = "error",
) -> FaceDataset:
    """Read a CelebA folder as it ships (or Kaggle's CSV variant) into a :class:`FaceDataset`.

    ``root`` holds ``list_attr_celeba.txt|.csv``, optionally ``list_eval_partition.txt|.csv``
    (without it every image is in 'train') and ``identity_CelebA.txt``, and the image folder.
    Labels are normalised to 0/1. ``missing`` is 'error' or 'drop' for listed images absent
    from disk. ``labels`` keeps only those attributes.
    """
    root = check_dir(root, what="CelebA folder")
    attr_path = _find(root, "list_attr_celeba")
    if attr_path is None:
        raise DataFormatError("no attribute file: expected list_attr_celeba.txt or list_attr_celeba.csv", file=root)
    parse = _parse_attr_csv if attr_path.suffix == ".csv" else _parse_attr_txt
    frame, names = parse(attr_path)
    if labels is not None:
        keep = check_names(labels, names, what="attribute", caller=str(attr_path))
        frame = frame[["image_id", *keep]]
        names = keep

    part_path = _find(root, "list_eval_partition")
    if part_path is not None:
        part = _read_mapping(part_path, "partition")
        split = frame["image_id"].map(part)
        _check_covered(frame, split, part_path, "partition")
        norm = split.map(normalise_split)
        if norm.isna().any():
            bad = split[norm.isna()].iloc[0]
            raise DataFormatError(f"partition value {bad!r}; expected 0, 1 or 2", file=part_path)
        frame["split"] = norm.to_numpy()
    else:
        frame["split"] = "train"

    id_path = root / "identity_CelebA.txt"
    if id_path.is_file():
        ident = frame["image_id"].map(_read_mapping(id_path, "identity"))
        _check_covered(frame, ident, id_path, "identity")
        frame["identity"] = ident.astype(str).to_numpy()

    image_dir = _image_dir(root, images)
    on_disk = set(os.listdir(image_dir))
    exists = frame["image_id"].isin(on_disk).to_numpy()
    frame, dropped = resolve_missing(frame, exists, missing=missing, file=attr_path, image_dir=image_dir)
    frame.insert(1, "path", [str(image_dir / i) for i in frame["image_id"]])
    return FaceDataset(frame=frame, labels=names, source="celeba", root=root, dropped=dropped)


def _check_covered(frame: pd.DataFrame, mapped: pd.Series, path: Path, what: str) -> None:
    if mapped.isna().any():
        absent = frame.loc[mapped.isna(), "image_id"].tolist()
        raise DataFormatError(f"{len(absent)} image(s) of the attribute file have no {what}: {absent[:5]}", file=path)
