"""``rostro explain``: which pixels made each attribute, for the largest face of every image."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.commands._base import found_line
from rostro.config import save_config
from rostro.data.images import ImageDecodeError, load_image
from rostro.errors import RostroError
from rostro.faces.status import NO_FACE
from rostro.files import atomic_write_text, check_writable, output_names
from rostro.inference.explain import FaceMaps
from rostro.inference.predict import collect_paths
from rostro.progress import progress_bar


@dataclass
class ExplainConfig:
    """Saliency maps of ``attrs`` (none: every attribute) for each image of ``target``."""

    target: str
    attrs: list[str] = field(default_factory=list)
    model: str | None = None
    aligned: bool = False
    layer: str = "auto"  # auto (the last block at least 1/12 of the input a side), last (classic Grad-CAM), or an index
    batch_size: int = 16
    out: str = "rostro-report/explain"


@dataclass(kw_only=True)
class ExplainResult:
    """One row per image (path, face_found, error, maps written) and the folder of maps."""

    frame: pd.DataFrame
    out: Path

    def lines(self) -> list[str]:
        return [found_line(self.frame["error"]),
                f"Wrote {int(self.frame['maps'].sum()):,} maps (PNG overlay and .npy) to {self.out}"]  # fmt: skip


def write_maps(img: np.ndarray, face: FaceMaps, out: Path, stem: str) -> list[Path]:
    """``OUT/<stem>_<attr>.png`` (the map over the photo) and ``.npy`` (float32, the photo's size), one
    attribute at a time."""
    from rostro.inference.explain import overlay

    written = []
    for attr in face.input_maps:
        saliency = face.on_photo(attr)
        np.save(out / f"{stem}_{attr}.npy", saliency)
        overlay(img, saliency).save(out / f"{stem}_{attr}.png")
        written.append(out / f"{stem}_{attr}.png")
    return written


def explain(cfg: ExplainConfig) -> ExplainResult:
    """Maps for every image, a batch at a time; unreadable images and faces not found are rows."""
    from rostro.inference.explain import Explainer

    if cfg.batch_size < 1:
        raise RostroError(f"batch_size: expected at least 1 image a batch, found {cfg.batch_size}")
    paths = collect_paths(cfg.target)
    out = check_writable(cfg.out)  # before the model loads
    explainer = Explainer(cfg.model, layer=cfg.layer)
    attrs = explainer.check(cfg.attrs)
    names = dict(zip(map(str, paths), output_names(paths, Path(cfg.target)), strict=True))
    rows = []
    with progress_bar("explain") as bar:
        task = bar.add_task("explain", total=len(paths))
        for start in range(0, len(paths), cfg.batch_size):
            chunk, images, errors = paths[start : start + cfg.batch_size], [], []
            for p in chunk:
                try:
                    images.append(load_image(p))
                    errors.append("")
                except ImageDecodeError as exc:
                    images.append(None)
                    errors.append(exc.reason)
            readable = [i for i, img in enumerate(images) if img is not None]
            faces = explainer.explain([images[i] for i in readable], attrs, aligned=cfg.aligned)
            found = dict(zip(readable, faces, strict=True))
            for i, p in enumerate(chunk):
                face = found.get(i)
                if face is None and not errors[i]:
                    errors[i] = NO_FACE
                n = len(write_maps(images[i], face, out, names[str(p)])) if face is not None else 0
                rows.append({"path": str(p), "face_found": face is not None, "error": errors[i], "maps": n})
            bar.advance(task, len(chunk))
    frame = pd.DataFrame(rows, columns=["path", "face_found", "error", "maps"])
    atomic_write_text(out / "explain.csv", frame.to_csv(index=False))
    save_config(cfg, out / "config.yaml")
    return ExplainResult(frame=frame, out=out)
