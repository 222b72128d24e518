"""Faces to index, identify or cluster, with their vectors: from photos (detected and embedded here)
or from a Parquet file of ``rostro embed``.

A folder is *people* when its photos all lie in sub-folders (one per person, the folder's name is
the person's; the largest face of each photo is theirs), and *photos* when they lie in the folder
itself (every face, unnamed). Each photo is known by the SHA-256 of its bytes (``photo_hash``), so
adding a folder again embeds only the photos that are new.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.errors import RostroError
from rostro.faces.status import NO_FACE

log = logging.getLogger(__name__)

KINDS = ("auto", "people", "photos", "parquet")
ROW_COLUMNS = ("path", "face", "left", "top", "right", "bottom", "photo_hash", "name", "error")


@dataclass(kw_only=True)
class Faces:
    """One row per face found (``ROW_COLUMNS``; a photo without a face or unreadable is one row with ``face``
    -1 and its ``error``), and the vectors of the rows with a face, in order (``rows[has_face]``)."""

    rows: pd.DataFrame
    vectors: np.ndarray

    @property
    def has_face(self) -> np.ndarray:
        return (self.rows["face"] >= 0).to_numpy()

    @property
    def found(self) -> pd.DataFrame:
        return self.rows[self.has_face].reset_index(drop=True)


def photo_hash(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:32]


def source_kind(source: str | Path, kind: str = "auto") -> str:
    """'people', 'photos' or 'parquet' for ``source``; ``kind`` other than 'auto' is checked, not guessed."""
    from rostro.data.images import is_image_file, list_images

    if kind not in KINDS:
        raise RostroError(f"kind: expected one of {KINDS}, found {kind!r}")
    p = Path(source)
    if not p.exists():
        raise FileNotFoundError(str(p))
    if p.is_file():
        if p.suffix.lower() == ".parquet":
            return "parquet"
        if kind in ("auto", "photos"):
            return "photos"
        raise RostroError(f"{p}: a single photo has no person folder; give a folder with one sub-folder per person")
    if kind == "people" and not any(len(f.relative_to(p).parts) > 1 for f in list_images(p)):
        raise RostroError(f"{p}: --kind people: expected one sub-folder of photos per person, found no photo in a "
                          f"sub-folder; give such a folder, or --kind photos for unnamed photos")  # fmt: skip
    if kind != "auto":
        return kind
    top = [f for f in p.iterdir() if f.is_file() and not f.name.startswith(".") and is_image_file(f)]
    if top:
        return "photos"
    if list_images(p):
        return "people"
    raise RostroError(f"{p}: no photos found (expected image files, or one sub-folder of photos per person)")


def photo_list(source: str | Path, kind: str) -> tuple[list[str], list[str]]:
    """(paths, names) of the photos of a people folder ('' names for a photos folder or a single photo)."""
    from rostro.data.images import list_images

    p = Path(source)
    if p.is_file():
        return [str(p)], [""]
    paths = list_images(p)
    if kind == "people":
        named = [(str(f), f.relative_to(p).parts[0]) for f in paths if len(f.relative_to(p).parts) > 1]
        loose = len(paths) - len(named)
        if loose:
            log.warning("%s: %d photo(s) outside the person folders are left out", p, loose)
        return [a for a, _ in named], [b for _, b in named]
    return [str(f) for f in paths], [""] * len(paths)


def _embed_chunk(args: tuple[list[str], bool, dict]) -> list[tuple[str, list[tuple[int, ...]], np.ndarray]]:
    """(error, boxes, vectors) of each photo: every face, largest first, or only the largest."""
    from rostro.data.images import ImageDecodeError, load_image
    from rostro.faces.embedding import embed_image

    paths, largest, options = args
    out = []
    for path in paths:
        try:
            img = load_image(path)
        except ImageDecodeError as exc:
            out.append((exc.reason, [], np.zeros((0, 128), np.float32)))
            continue
        faces, vecs = embed_image(img, **options)
        if largest:
            faces, vecs = faces[:1], vecs[:1]
        out.append(("" if faces else NO_FACE, [tuple(map(int, f.box)) for f in faces], np.asarray(vecs, np.float32)))
    return out


def embed_photos(
    paths: list[str],
    names: list[str],
    hashes: list[str],
    *,
    largest: bool,
    workers: int = 1,
    chunk: int = 16,
    flip: bool = True,
    jitter: int = 0,
) -> Iterator[Faces]:
    """The faces of ``paths``, one :class:`Faces` per ``chunk`` photos, in order (so a caller may save
    what is done before the next chunk): every face of each photo, largest first, or only the largest.
    Vectors are flip-averaged unless ``flip=False`` (dlib's own descriptor)."""
    from rostro.workers import pool_map

    options = {"flip": flip, "jitter": jitter}
    jobs = [(paths[i : i + chunk], largest, options) for i in range(0, len(paths), chunk)]
    with ExitStack() as stack:
        results = pool_map(stack, _embed_chunk, jobs, workers)
        for start, result in zip(range(0, len(paths), chunk), results, strict=True):
            rows, vecs = [], []
            for i, (error, boxes, v) in enumerate(result):
                base = {"path": paths[start + i], "photo_hash": hashes[start + i], "name": names[start + i]}
                if not boxes:
                    rows.append({**base, "face": -1, "left": -1, "top": -1, "right": -1, "bottom": -1, "error": error})
                for f, box in enumerate(boxes):
                    rows.append({**base, "face": f, **dict(zip(("left", "top", "right", "bottom"), box, strict=True)),
                                 "error": ""})  # fmt: skip
                vecs.append(v)
            frame = pd.DataFrame(rows, columns=list(ROW_COLUMNS))
            yield Faces(rows=frame, vectors=np.concatenate(vecs) if vecs else np.zeros((0, 128), np.float32))


def parquet_faces(path: str | Path, *, name_column: str = "image_id") -> tuple[Faces, str | None]:
    """The faces of an embeddings file (``rostro embed``: one face per image) and its stamp; each face is
    named by ``name_column`` and known by the hash of its vector."""
    from rostro.inference.embed import stored_signature

    try:
        stamp = stored_signature(path)
        frame = pd.read_parquet(path)
    except FileNotFoundError:
        raise
    except Exception as exc:  # pyarrow's several kinds for a file that is not Parquet
        raise RostroError(f"{path}: not a readable Parquet file ({type(exc).__name__}: {exc})") from None
    needed = ["path", "face_found", "embedding", name_column]
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise RostroError(f"{path}: expected the columns of `rostro embed` ({needed}), found no {absent}; columns are "
                          f"{list(frame.columns)}")  # fmt: skip
    found = frame["face_found"].to_numpy(bool)
    try:
        vecs = np.asarray(frame.loc[found, "embedding"].tolist(), np.float32)
    except (ValueError, TypeError):
        lengths = frame.loc[found, "embedding"].map(lambda v: -1 if v is None else len(v)).value_counts()
        lengths = {int(k): int(v) for k, v in lengths.sort_index().items()}
        raise RostroError(f"{path}: embedding: expected one vector of one length for every face found, found "
                          f"lengths {lengths} (-1: no vector); embed the photos again with "
                          f"`rostro embed`") from None  # fmt: skip
    vecs = vecs.reshape(int(found.sum()), -1 if found.any() else 128)
    hashes = np.full(len(frame), "", object)
    hashes[found] = [hashlib.sha256(v.tobytes()).hexdigest()[:32] for v in vecs]
    rows = pd.DataFrame({"path": frame["path"].astype(str), "face": np.where(found, 0, -1), "left": -1, "top": -1,
                         "right": -1, "bottom": -1, "photo_hash": hashes,
                         "name": frame[name_column].map(_name),
                         "error": frame.get("error", pd.Series([""] * len(frame))).fillna("").astype(str)})  # fmt: skip
    rows.loc[~found & (rows["error"] == ""), "error"] = NO_FACE
    return Faces(rows=rows, vectors=vecs), stamp


def _name(value) -> str:
    """A name from a Parquet cell: '' for a missing one; a whole number without '.0' (pandas reads an integer
    column with a gap as floats)."""
    if pd.api.types.is_scalar(value) and pd.isna(value):  # None, NaN, pd.NA
        return ""
    return str(int(value)) if isinstance(value, float) and value.is_integer() else str(value)


def read_faces(
    source: str | Path,
    *,
    largest: bool = False,
    name_column: str = "image_id",
    workers: int = 1,
    flip: bool = True,
    jitter: int = 0,
    progress: bool = False,
) -> tuple[Faces, dict]:
    """Every face of a photo, a folder of photos (recursively) or an embeddings file, with the stamp of
    its vectors (:func:`rostro.search.gallery.gallery_stamp`). Photos are embedded with ``flip`` and
    ``jitter`` (to search a gallery, its own: :func:`rostro.search.gallery.photo_options`); an embeddings
    file's vectors are as it was made."""
    from rostro.progress import progress_bar
    from rostro.search.gallery import gallery_stamp, photo_stamp

    if source_kind(source, "photos" if not str(source).endswith(".parquet") else "auto") == "parquet":
        faces, stamp = parquet_faces(source, name_column=name_column)
        return faces, gallery_stamp(stamp)
    paths, names = photo_list(source, "photos")
    if not paths:
        raise RostroError(f"{source}: no photos found (expected image files: JPEG, PNG, WebP, BMP, TIFF or GIF)")
    parts = []
    with progress_bar("faces", enabled=progress) as bar:
        task = bar.add_task("faces", total=len(paths))
        for part in embed_photos(paths, names, [""] * len(paths), largest=largest, workers=workers, flip=flip,
                                 jitter=jitter):  # fmt: skip
            parts.append(part)
            bar.advance(task, part.rows["path"].nunique())
    rows = pd.concat([p.rows for p in parts], ignore_index=True)
    return Faces(rows=rows, vectors=np.concatenate([p.vectors for p in parts])), photo_stamp(flip=flip, jitter=jitter)
