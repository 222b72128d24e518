"""``rostro tsne``: a 2-D map (t-SNE, or UMAP) of embeddings coloured by group and marked by label."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.commands._base import read_embeddings
from rostro.config import save_config
from rostro.errors import RostroError
from rostro.reports.audit import write_tsne


@dataclass
class TsneConfig:
    embeddings: str
    colour: str
    marker: str | None = None
    perplexity: float = 30.0
    max_points: int = 5000
    method: str = "tsne"
    seed: int = 0
    out: str = "rostro-report/tsne"


@dataclass(kw_only=True)
class TsneResult:
    coords: pd.DataFrame
    png: Path

    def lines(self) -> list[str]:
        return [f"Wrote {self.png}"]


def _map_2d(X: np.ndarray, cfg: TsneConfig) -> np.ndarray:
    """t-SNE (scikit-learn), or UMAP when asked for and umap-learn is installed."""
    if cfg.method == "umap":
        try:
            import umap
        except ImportError:
            raise RostroError("method 'umap' needs umap-learn: pip install umap-learn") from None
        return umap.UMAP(random_state=cfg.seed).fit_transform(X)
    if cfg.method != "tsne":
        raise ValueError(f"method must be 'tsne' or 'umap', got {cfg.method!r}")
    from sklearn.manifold import TSNE

    perplexity = min(cfg.perplexity, max(2.0, (len(X) - 1) / 3))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=cfg.seed).fit_transform(X)


def tsne(cfg: TsneConfig) -> TsneResult:
    """2-D map of embeddings (t-SNE, or UMAP), coloured by one column and marked by another."""
    frame, X = read_embeddings(cfg.embeddings, [cfg.colour, *([cfg.marker] if cfg.marker else [])])
    if len(frame) > cfg.max_points:
        keep = np.sort(np.random.default_rng(cfg.seed).choice(len(frame), cfg.max_points, replace=False))
        frame, X = frame.iloc[keep].reset_index(drop=True), X[keep]
    xy = _map_2d(X, cfg)

    def named(column: str) -> np.ndarray:
        return (column + "=" + frame[column].astype(str)).to_numpy()

    marker = named(cfg.marker) if cfg.marker else None
    title = f"{cfg.method.upper()} of {Path(cfg.embeddings).name}: colour {cfg.colour}" + (
        f", marker {cfg.marker}" if cfg.marker else ""
    )
    png = write_tsne(xy, named(cfg.colour), marker, cfg.out, title=title)
    coords = frame[["path", cfg.colour, *([cfg.marker] if cfg.marker else [])]].assign(x=xy[:, 0], y=xy[:, 1])
    coords.to_csv(Path(cfg.out) / "tsne.csv", index=False)
    save_config(cfg, Path(cfg.out) / "config.yaml")
    return TsneResult(coords=coords, png=png)
