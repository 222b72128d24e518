"""``rostro index``: add faces to a gallery (or remove a person's), for ``rostro identify`` and ``search``."""

from __future__ import annotations

import time
from contextlib import ExitStack
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rostro.errors import RostroError
from rostro.faces.status import NO_FACE


@dataclass
class IndexConfig:
    """Faces of ``source`` added to ``gallery``: a folder with one sub-folder per person (the largest face of
    each photo, named by its folder), a folder of unlabelled photos (every face, unnamed) or a Parquet file of
    ``rostro embed`` (one face per image, named by ``name_column``). Photos already in the gallery (by content
    hash) are skipped, so a killed run resumes. Photos are embedded flip-averaged in a new gallery, and as its
    faces were (its stamp) in an existing one, unless ``flip``/``jitter`` say otherwise."""

    source: str | None = None  # none: only --remove
    gallery: str = "gallery"  # a folder, milvus://HOST:PORT/COLLECTION or milvus:PATH.db/COLLECTION
    kind: str = "auto"  # people, photos or parquet; auto: from the source
    name_column: str = "image_id"  # Parquet: the column that names each face
    remove: list[str] = field(default_factory=list)  # people to remove (before adding)
    far: float | None = None  # false-accept rate the threshold is chosen for; none: the gallery's (new: 1e-3)
    workers: int | None = None
    chunk: int = 16  # photos per task; what is done is saved every 20 tasks or minute
    flip: bool | None = None  # none: the gallery's; a new gallery: True (mirror-image averaging)
    jitter: int | None = None  # none: the gallery's; a new gallery: 0
    progress: bool = True


@dataclass(kw_only=True)
class IndexResult:
    gallery: str
    added: int
    known: int  # photos (or vectors) already in the gallery, skipped
    no_face: int
    unreadable: int
    removed: dict[str, int]
    faces: int
    people: int
    threshold: str

    def lines(self) -> list[str]:
        out = [f"Removed {n:,} face(s) of {name}." if n else f"{name}: no such person in the gallery."
               for name, n in self.removed.items()]  # fmt: skip
        if self.added or self.known or self.no_face or self.unreadable:
            out.append(f"Added {self.added:,} face(s); {self.known:,} already in the gallery, {self.no_face:,} "
                       f"photo(s) without a face, {self.unreadable:,} unreadable.")  # fmt: skip
        out += [f"{self.gallery}: {self.faces:,} faces of {self.people:,} people.",
                f"Identification threshold: {self.threshold}."]  # fmt: skip
        return out


def index(cfg: IndexConfig) -> IndexResult:
    from rostro.search.gallery import DEFAULT_FAR, check_far, new_meta, open_gallery, photo_options, photo_stamp
    from rostro.search.sources import parquet_faces, source_kind

    if cfg.source is None and not cfg.remove:
        raise RostroError("index: expected a SOURCE to add, or --remove NAME; found neither")
    if cfg.chunk < 1:
        raise RostroError(f"chunk: expected at least 1 photo per task, found {cfg.chunk}")
    if cfg.far is not None:
        check_far(cfg.far)  # before any photo is embedded, not after
    counts = {"added": 0, "known": 0, "no_face": 0, "unreadable": 0}
    kind = source_kind(cfg.source, cfg.kind) if cfg.source is not None else None
    parquet = None
    if kind == "parquet":
        from rostro.search.gallery import gallery_stamp

        faces, signature = parquet_faces(cfg.source, name_column=cfg.name_column)
        parquet, stamp, dim = faces, gallery_stamp(signature), faces.vectors.shape[1] if len(faces.vectors) else 128
    else:  # a new gallery's; an existing one's faces are described as before unless --flip/--jitter are given
        stamp, dim = photo_stamp(flip=True if cfg.flip is None else cfg.flip, jitter=cfg.jitter or 0), 128
    create = new_meta(stamp, dim, cfg.far or DEFAULT_FAR) if kind else None
    with open_gallery(cfg.gallery, write=True, create=create) as gallery:
        removed = {name: gallery.remove(name) for name in cfg.remove}
        if kind is not None:
            options = {}
            if parquet is None:
                options = photo_options(gallery.stamp)
                options |= {k: v for k, v in (("flip", cfg.flip), ("jitter", cfg.jitter)) if v is not None}
                stamp = photo_stamp(**options)
            gallery.check_stamp(stamp, f"the faces of {cfg.source}")
            if parquet is not None:
                _add_parquet(gallery, parquet, counts)
            else:
                _add_photos(gallery, cfg, kind, counts, options)
        threshold = gallery.update_threshold(cfg.far)
        gallery.prepare_search()  # a large gallery's index, built once here rather than by the next search
        names = gallery.names()
        return IndexResult(gallery=gallery.uri, removed=removed, faces=len(names), people=names[names != ""].nunique(),
                           threshold=threshold.describe(), **counts)  # fmt: skip


def _add_parquet(gallery, faces, counts: dict) -> None:
    rows, has = faces.rows, faces.has_face
    counts["no_face"] = int((rows["error"] == NO_FACE).sum())
    counts["unreadable"] = int((~has).sum()) - counts["no_face"]
    found = rows[has].reset_index(drop=True)
    new = ~found["photo_hash"].isin(gallery.photo_hashes()) & ~found["photo_hash"].duplicated()
    counts["known"] = int((~new).sum())
    counts["added"] = gallery.add(found[new.to_numpy()], faces.vectors[new.to_numpy()])


def _add_photos(gallery, cfg: IndexConfig, kind: str, counts: dict, options: dict) -> None:
    """Embed (with ``options``: flip, jitter) and add the photos the gallery does not hold yet."""
    from rostro.progress import progress_bar
    from rostro.search.sources import embed_photos, photo_hash, photo_list
    from rostro.workers import default_workers

    paths, names = photo_list(cfg.source, kind)
    hashes = [photo_hash(p) for p in paths]
    seen = gallery.photo_hashes()
    todo = []
    for i, h in enumerate(hashes):  # each photo once, even when a folder holds two copies
        if h not in seen:
            todo.append(i)
            seen.add(h)
    counts["known"] = len(paths) - len(todo)
    pending: list = []
    saved = time.monotonic()

    def save() -> None:
        nonlocal pending, saved
        if pending:
            rows = pd.concat([p.rows for p in pending], ignore_index=True)
            vecs = np.concatenate([p.vectors for p in pending])
            has = (rows["face"] >= 0).to_numpy()
            counts["added"] += gallery.add(rows[has], vecs)
            counts["no_face"] += int((rows["error"] == NO_FACE).sum())
            counts["unreadable"] += int((~has).sum() - (rows["error"] == NO_FACE).sum())
        pending, saved = [], time.monotonic()

    with ExitStack() as stack:
        parts = embed_photos([paths[i] for i in todo], [names[i] for i in todo], [hashes[i] for i in todo],
                             largest=kind == "people", workers=cfg.workers or default_workers(), chunk=cfg.chunk,
                             **options)  # fmt: skip
        bar = stack.enter_context(progress_bar("index", enabled=cfg.progress))
        task = bar.add_task("index", total=len(todo))
        for n, part in enumerate(parts):
            pending.append(part)
            bar.advance(task, part.rows["path"].nunique())
            if (n + 1) % 20 == 0 or time.monotonic() - saved > 60:
                save()
        save()
