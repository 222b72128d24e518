"""``rostro cluster``: the faces of a collection grouped by person, without labels."""

from __future__ import annotations

import html
import json
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rostro.config import save_config
from rostro.errors import RostroError
from rostro.files import atomic_write_text, check_writable
from rostro.search.cluster import DEFAULT_METHOD

SHOWN_CLUSTERS = 200  # clusters drawn on the page (all are in the CSV)
SHOWN_FACES = 24  # thumbnails per cluster
THUMB = 96  # px


@dataclass
class ClusterConfig:
    """Group every face of ``photos`` (a folder of photos or a Parquet of ``rostro embed``) by person:
    ``DIR/clusters.csv`` (one row per face, face 0 the largest of its photo, a ``cluster`` id, 0 the largest
    cluster) and ``DIR/index.html`` (each cluster's faces). Methods: ``whispers`` (Chinese whispers on the
    graph of faces closer than 0.5, as dlib's ``chinese_whispers_clustering``), ``agglomerative`` (average
    linkage on Euclidean distances, up to 20,000 faces) and ``reranked``, the default (average linkage on
    distances that also count shared neighbours, k-reciprocal re-ranking; up to 20,000 faces), which scored the
    highest BCubed F on validation collections (``rostro.search.cluster``'s note; celeba-wild's validation
    identities: 0.921 against 0.915 for agglomerative and 0.883 for whispers at 0.5). Its threshold adapts to the
    collection, higher where most faces have a close neighbour and lower the more faces there are (see
    ``rostro.search.cluster.default_threshold``); the one used is printed and saved. The thresholds are
    distances between dlib's plain vectors, so photos are embedded without flip-averaging here, and a Parquet of
    flip-averaged (unit) vectors, ``rostro embed``'s default, needs ``--threshold`` (or ``rostro embed --no-flip``)."""

    photos: str
    out: str = "clusters"
    method: str = DEFAULT_METHOD
    threshold: float | None = None  # a distance (see the methods); none: the method's default for the collection
    name_column: str = "image_id"  # Parquet: a column copied to the CSV
    workers: int | None = None
    progress: bool = True


@dataclass(kw_only=True)
class ClusterResult:
    frame: pd.DataFrame
    out: Path
    method: str
    threshold: float

    def lines(self) -> list[str]:
        faces = self.frame.dropna(subset=["cluster"])
        sizes = faces["cluster"].value_counts()
        return [f"{len(faces):,} faces in {len(sizes):,} clusters ({int((sizes > 1).sum()):,} with two or more faces; "
                f"largest {int(sizes.max()) if len(sizes) else 0:,}), {self.method} at {self.threshold:.3f}.",
                f"Wrote {self.out / 'clusters.csv'} and {self.out / 'index.html'}"]  # fmt: skip


def cluster(cfg: ClusterConfig) -> ClusterResult:
    from rostro.search.cluster import METHODS, cluster_faces, default_threshold
    from rostro.search.sources import read_faces
    from rostro.workers import default_workers

    if cfg.method not in METHODS:  # before the photos are embedded
        raise RostroError(f"method: expected one of {METHODS}, found {cfg.method!r}")
    out = check_writable(cfg.out)
    # the thresholds were measured on dlib's plain vectors (norm about 1.4), not on flip-averaged unit ones
    faces, stamp = read_faces(cfg.photos, name_column=cfg.name_column, workers=cfg.workers or default_workers(),
                              flip=False, progress=cfg.progress)  # fmt: skip
    if stamp.get("flip") and cfg.threshold is None:
        raise RostroError(f"{cfg.photos}: flip-averaged vectors (unit length; `rostro embed`'s default), but "
                          f"{cfg.method}'s default threshold is a distance between dlib's plain vectors (norm about "
                          f"1.4); embed them with `rostro embed ... --no-flip`, cluster the photos themselves, or "
                          f"give --threshold")  # fmt: skip
    has = faces.has_face
    if not has.any():
        raise RostroError(f"{cfg.photos}: no face found in any photo; nothing to cluster")
    frame = faces.rows.drop(columns=["photo_hash"]).copy()
    if Path(cfg.photos).suffix.lower() == ".parquet":  # the name column is copied, as the user named it
        frame = frame.rename(columns={} if cfg.name_column in frame.columns else {"name": cfg.name_column})
    else:
        frame = frame.drop(columns=["name"])
    frame["cluster"] = pd.array([pd.NA] * len(frame), dtype="Int64")
    threshold = default_threshold(faces.vectors, cfg.method) if cfg.threshold is None else cfg.threshold
    frame.loc[has, "cluster"] = cluster_faces(faces.vectors, cfg.method, threshold)
    for c in ("face", "left", "top", "right", "bottom"):
        frame[c] = frame[c].astype("Int64").where(frame[c] >= 0)
    atomic_write_text(out / "clusters.csv", frame.to_csv(index=False))
    _page(frame, out, cfg, threshold)
    save_config(cfg, out / "config.yaml")
    atomic_write_text(out / "threshold.json", json.dumps({"method": cfg.method, "threshold": threshold}) + "\n")
    return ClusterResult(frame=frame, out=out, method=cfg.method, threshold=threshold)


def _thumb(path: str, box: tuple, file: Path) -> bool:
    from PIL import Image

    from rostro.data.images import ImageDecodeError, load_image

    try:
        img = load_image(path)
    except (ImageDecodeError, OSError):
        return False
    if not pd.isna(box[0]):
        left, top, right, bottom = (int(v) for v in box)
        pad = (right - left) // 4
        img = img[max(0, top - pad) : bottom + pad, max(0, left - pad) : right + pad]
    pic = Image.fromarray(img)
    pic.thumbnail((THUMB, THUMB))
    pic.save(file, format="JPEG", quality=85)
    return True


def _page(frame: pd.DataFrame, out: Path, cfg: ClusterConfig, threshold: float) -> None:
    from rostro.reports.html import Page

    thumbs = out / "thumbs"
    thumbs.mkdir(exist_ok=True)
    faces = frame.dropna(subset=["cluster"])
    sizes = faces["cluster"].value_counts()
    page = Page(f"Faces of {Path(cfg.photos).name} by person")
    page.paragraph(f"{len(faces):,} faces in {len(sizes):,} clusters by {cfg.method} at {threshold:.3f}; the "
                   f"largest {SHOWN_CLUSTERS} clusters are shown, up to {SHOWN_FACES} faces each. clusters.csv lists "
                   "every face.")  # fmt: skip
    for c in sorted(sizes.index)[:SHOWN_CLUSTERS]:
        members = faces[faces["cluster"] == c].head(SHOWN_FACES)
        page.heading(f"Cluster {c}: {int(sizes[c]):,} face(s)", level=3)
        cells = []
        for i, row in members.iterrows():
            file = thumbs / f"{i}.jpg"
            title = html.escape(f"{row['path']} face {row['face']}")
            if _thumb(row["path"], (row["left"], row["top"], row["right"], row["bottom"]), file):
                cells.append(f'<img src="thumbs/{i}.jpg" title="{title}" alt="{title}" '
                             f'style="width:{THUMB}px;height:auto;margin:2px">')  # fmt: skip
            else:
                cells.append(f"<span title='{title}'>(unreadable)</span>")
        page.parts.append("<div>" + "".join(cells) + "</div>")
    page.write(out / "index.html")
