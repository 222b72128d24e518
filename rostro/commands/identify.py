"""``rostro identify`` (every face of a collection against a gallery, to CSV) and ``rostro search`` (the
best matches of the faces of one photo, printed)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rostro.config import save_config
from rostro.errors import RostroError
from rostro.files import atomic_write_text, check_writable

CSV_COLUMNS = ("path", "face", "left", "top", "right", "bottom", "name", "similarity", "candidates", "error")


@dataclass
class IdentifyConfig:
    """Who each face of ``photos`` (a photo, a folder of photos or a Parquet of ``rostro embed``) is, among the
    gallery's people: ``name`` is empty when the best match is below the threshold. Photos are embedded as the
    gallery's faces were (its stamp's flip and jitter); a Parquet must have been made that way. With ``rerank``
    (the default) the collection is named at once: people are ranked by k-reciprocal re-ranked distances over the
    gallery's and the collection's faces together (``Gallery.identify_collection``), which named the right person
    first for 0.934 of the known people's photos against 0.896 by cosine alone (celeba-wild's validation
    identities, 49 known to 10 unknown, one gallery photo a person); names are still given by cosine at the
    threshold."""

    photos: str
    gallery: str = "gallery"
    out: str = "identified.csv"
    k: int = 5  # candidates per face
    far: float | None = None  # none: the gallery's threshold; else one chosen for this false-accept rate
    threshold: float | None = None  # a cosine similarity that overrides both
    rerank: bool = True  # rank people with the collection's other faces (64 to 10,000 faces in all)
    name_column: str = "image_id"
    workers: int | None = None
    progress: bool = True


@dataclass(kw_only=True)
class IdentifyResult:
    frame: pd.DataFrame
    out: Path
    threshold: str

    def lines(self) -> list[str]:
        faces = self.frame[self.frame["error"] == ""]
        named = int((faces["name"] != "").sum())
        return [f"{self.frame['path'].nunique():,} photos, {len(faces):,} faces: {named:,} identified, "
                f"{len(faces) - named:,} unknown, {int((self.frame['error'] != '').sum()):,} photo(s) without a face "
                f"or unreadable.", f"Threshold {self.threshold}.", f"Wrote {self.out}"]  # fmt: skip


def _identify(gallery, source: str, *, k: int, far: float | None, threshold: float | None, name_column: str,
              workers: int | None, progress: bool, rerank: bool = False) -> tuple[pd.DataFrame, str]:  # fmt: skip
    """One row per face (and per photo without one) with its matches, and the threshold used."""
    from rostro.search.gallery import PAIR_FACES, check_far, choose_threshold, photo_options, stamp_threshold
    from rostro.search.sources import read_faces
    from rostro.workers import default_workers

    if k < 1:
        raise RostroError(f"k: expected at least 1 candidate per face, found {k}")
    if far is not None:
        check_far(far)  # before the photos are embedded
    # photos are described as the gallery's faces were (flip, jitter), whatever rostro's defaults are now
    faces, stamp = read_faces(source, name_column=name_column, workers=workers or default_workers(), progress=progress,
                              **photo_options(gallery.stamp))  # fmt: skip
    gallery.check_stamp(stamp, f"the faces of {source}")
    t = gallery.threshold
    if far is not None:
        t = choose_threshold(*gallery.sample(PAIR_FACES), far, default=stamp_threshold(gallery.stamp))
    if threshold is not None:
        value, described = threshold, f"{threshold:.4f} (given)"
    else:
        value, described = t.value, t.describe()
    rows = faces.rows.copy()
    rows["name"], rows["similarity"], rows["candidates"] = "", float("nan"), ""
    has = faces.has_face
    if has.any():
        name = gallery.identify_collection if rerank else gallery.identify
        found = name(faces.vectors, k, threshold=value)
        rows.loc[has, "name"] = [f[0] for f in found]
        rows.loc[has, "similarity"] = [round(f[1], 6) for f in found]
        rows.loc[has, "candidates"] = [json.dumps(f[2]) for f in found]
    rows["face"] = rows["face"].astype("Int64").where(rows["face"] >= 0)
    for c in ("left", "top", "right", "bottom"):
        rows[c] = rows[c].astype("Int64").where(rows[c] >= 0)
    return rows[list(CSV_COLUMNS)], described


def identify(cfg: IdentifyConfig) -> IdentifyResult:
    from rostro.search.gallery import open_gallery

    out = Path(cfg.out)
    check_writable(out.parent)
    with open_gallery(cfg.gallery) as gallery:
        frame, described = _identify(gallery, cfg.photos, k=cfg.k, far=cfg.far, threshold=cfg.threshold,
                                     name_column=cfg.name_column, workers=cfg.workers, progress=cfg.progress,
                                     rerank=cfg.rerank)  # fmt: skip
    atomic_write_text(out, frame.to_csv(index=False))
    save_config(cfg, out.with_suffix(".config.yaml"))
    return IdentifyResult(frame=frame, out=out, threshold=described)


@dataclass
class SearchConfig:
    """The best matches in the gallery of each face of one photo (embedded as the gallery's faces were)."""

    photo: str
    gallery: str = "gallery"
    k: int = 5


@dataclass(kw_only=True)
class SearchResult:
    frame: pd.DataFrame
    threshold: str

    def lines(self) -> list[str]:
        out = []
        for row in self.frame.itertuples():
            if row.error:
                out.append(f"{row.path}: {row.error}")
                continue
            who = row.name or "unknown"
            out.append(f"face {row.face} at ({row.left}, {row.top}, {row.right}, {row.bottom}): {who}")
            out += [f"  {i + 1}. {name}  {sim:.4f}" for i, (name, sim) in enumerate(json.loads(row.candidates))]
        return [*out, f"Threshold {self.threshold}."]


def search(cfg: SearchConfig) -> SearchResult:
    from rostro.search.gallery import open_gallery

    with open_gallery(cfg.gallery) as gallery:
        frame, described = _identify(gallery, cfg.photo, k=cfg.k, far=None, threshold=None, name_column="image_id",
                                     workers=1, progress=False)  # fmt: skip
    return SearchResult(frame=frame, threshold=described)
