"""Matplotlib figures written as PNG files (headless backend, closed after saving)."""

from __future__ import annotations

import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402


def _save(fig: plt.Figure, path: Path) -> Path:
    with warnings.catch_warnings():
        # file names in captions may hold characters the bundled font lacks: drawn as boxes, no warning
        warnings.filterwarnings("ignore", message="Glyph .* missing from font")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def _labelled(fig: plt.Figure, ax: plt.Axes, path: Path, *, title: str, xlabel: str, ylabel: str = "") -> Path:
    """The line plots' finish: axis labels, title and a small legend, then :func:`_save`."""
    ax.set_xlabel(xlabel)
    if ylabel:
        ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(fontsize=7)
    return _save(fig, path)


def bar_chart(values: dict[str, float], path: Path, *, title: str, xlabel: str = "", horizontal: bool = False) -> Path:
    """A bar per key; horizontal bars suit long lists such as 40 attributes."""
    names, vals = list(values), list(values.values())
    if horizontal:
        fig, ax = plt.subplots(figsize=(7, max(2.5, 0.22 * len(names) + 1)))
        ax.barh(names, vals, color="#4878d0")
        ax.invert_yaxis()
        ax.set_xlabel(xlabel)
    else:
        fig, ax = plt.subplots(figsize=(max(4, 0.6 * len(names) + 2), 3.5))
        ax.bar(names, vals, color="#4878d0")
        ax.set_ylabel(xlabel)
    ax.set_title(title)
    return _save(fig, path)


def paired_bars(frame: pd.DataFrame, path: Path, *, title: str, xlabel: str = "") -> Path:
    """Horizontal bars, one colour per column (e.g. before and after), one row of bars per index entry."""
    n, k = frame.shape
    fig, ax = plt.subplots(figsize=(7, max(2.5, 0.35 * n * k / 2 + 1)))
    height = 0.8 / k
    for j, col in enumerate(frame.columns):
        ax.barh(np.arange(n) + j * height, frame[col].to_numpy(float), height, label=str(col))
    ax.set_yticks(np.arange(n) + height * (k - 1) / 2, frame.index)
    ax.invert_yaxis()
    ax.set_xlabel(xlabel)
    ax.legend(fontsize=8)
    ax.set_title(title)
    return _save(fig, path)


def heatmap(matrix: pd.DataFrame, path: Path, *, title: str, vmin: float = -1, vmax: float = 1) -> Path:
    """A labelled heatmap with a diverging colour map centred on zero."""
    rows, cols = matrix.shape
    fig, ax = plt.subplots(figsize=(max(4, 0.28 * cols + 3), max(3.5, 0.28 * rows + 2)))
    values = matrix.to_numpy(dtype=float)
    im = ax.imshow(values, cmap="RdBu_r", vmin=vmin, vmax=vmax)
    ax.set_xticks(range(cols), matrix.columns, rotation=90, fontsize=7)
    ax.set_yticks(range(rows), matrix.index, fontsize=7)
    if rows * cols <= 64:  # small matrices get their numbers written in
        for (i, j), v in np.ndenumerate(values):
            ax.text(j, i, f"{v:.3f}", ha="center", va="center", fontsize=7)
    fig.colorbar(im, ax=ax, shrink=0.8)
    ax.set_title(title)
    return _save(fig, path)


def image_grid(images: list[np.ndarray], captions: list[str], path: Path, *, cols: int = 8) -> Path:
    """Images in a grid with a caption under each."""
    rows = max(1, int(np.ceil(len(images) / cols)))
    fig, axes = plt.subplots(rows, cols, figsize=(cols * 1.6, rows * 2.4), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, img, cap in zip(axes.flat, images, captions, strict=False):
        ax.imshow(img)
        ax.set_title(cap, fontsize=6)
    return _save(fig, path)


def training_curves(history: pd.DataFrame, path: Path, *, metric: str) -> Path:
    """Loss (train and validation) and the monitored validation metric per epoch."""
    fig, (a, b) = plt.subplots(1, 2, figsize=(10, 3.6))
    a.plot(history["epoch"], history["train_loss"], "o-", label="train")
    a.plot(history["epoch"], history["val_loss"], "o-", label="validation")
    a.set_xlabel("epoch")
    a.set_ylabel("loss")
    a.legend()
    a.set_title("Loss")
    shown = [c for c in ("val_mean_accuracy", "val_mean_balanced_accuracy", metric) if c in history and c != "val_loss"]
    for col in dict.fromkeys(shown):
        b.plot(history["epoch"], history[col], "o-", label=col.removeprefix("val_"))
    b.set_xlabel("epoch")
    b.set_title("Validation")
    b.legend()
    return _save(fig, path)


def confusion(tn: int, fp: int, fn: int, tp: int, path: Path, *, title: str, labels=("0", "1")) -> Path:
    fig, ax = plt.subplots(figsize=(3.6, 3.2))
    m = np.array([[tn, fp], [fn, tp]])
    ax.imshow(m, cmap="Blues")
    for (i, j), v in np.ndenumerate(m):
        ax.text(j, i, f"{v:,}", ha="center", va="center", color="white" if v > m.max() / 2 else "black")
    ax.set_xticks([0, 1], [f"pred {labels[0]}", f"pred {labels[1]}"])
    ax.set_yticks([0, 1], [f"true {labels[0]}", f"true {labels[1]}"])
    ax.set_title(title)
    return _save(fig, path)


def curve(
    curves: dict[str, tuple[np.ndarray, np.ndarray]],
    path: Path,
    *,
    title: str,
    xlabel: str,
    ylabel: str,
    diagonal: bool = False,
    markers: bool = False,
) -> Path:
    """Several named x/y curves on one axis (ROC, precision-recall, reliability)."""
    fig, ax = plt.subplots(figsize=(4.6, 4))
    for name, (x, y) in curves.items():
        ax.plot(x, y, label=name, marker="o" if markers else None, markersize=3)
    if diagonal:
        ax.plot([0, 1], [0, 1], "--", color="grey", lw=0.8)
    return _labelled(fig, ax, path, title=title, xlabel=xlabel, ylabel=ylabel)


def score_histograms(genuine: np.ndarray, impostor: np.ndarray, path: Path, *, threshold: float) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    bins = np.linspace(min(genuine.min(), impostor.min()), max(genuine.max(), impostor.max()), 60)
    ax.hist(impostor, bins, alpha=0.6, density=True, label=f"impostor ({len(impostor):,})")
    ax.hist(genuine, bins, alpha=0.6, density=True, label=f"genuine ({len(genuine):,})")
    ax.axvline(threshold, color="k", ls="--", lw=1, label="EER threshold")
    return _labelled(fig, ax, path, title="Genuine and impostor scores", xlabel="similarity")


def far_frr(thresholds: np.ndarray, far: np.ndarray, frr: np.ndarray, path: Path, *, eer: float, eer_t: float) -> Path:
    fig, ax = plt.subplots(figsize=(5.5, 3.6))
    ax.plot(thresholds, far, label="FAR")
    ax.plot(thresholds, frr, label="FRR")
    ax.plot([eer_t], [eer], "ko", label=f"EER {eer:.2%}")
    return _labelled(fig, ax, path, title="FAR and FRR by threshold", xlabel="threshold", ylabel="rate")


def det_curve(far: np.ndarray, frr: np.ndarray, path: Path) -> Path:
    """DET: FRR against FAR on normal-deviate axes, as biometrics reports draw it."""
    from scipy.stats import norm

    keep = (far > 0) & (far < 1) & (frr > 0) & (frr < 1)
    fig, ax = plt.subplots(figsize=(4.6, 4))
    ax.plot(norm.ppf(far[keep]), norm.ppf(frr[keep]))
    ticks = np.array([1e-4, 1e-3, 1e-2, 0.05, 0.2, 0.5])
    ax.set_xticks(norm.ppf(ticks), [f"{t:g}" for t in ticks])
    ax.set_yticks(norm.ppf(ticks), [f"{t:g}" for t in ticks])
    ax.set_xlabel("FAR")
    ax.set_ylabel("FRR")
    ax.set_title("DET")
    ax.grid(alpha=0.3)
    return _save(fig, path)


def scatter_2d(
    xy: np.ndarray, colour: np.ndarray, path: Path, *, marker: np.ndarray | None = None, title: str = ""
) -> Path:
    """A 2-D map coloured by one column and marked by another (t-SNE of embeddings)."""
    fig, ax = plt.subplots(figsize=(6.5, 5.5))
    markers = ["o", "^", "s", "D", "v", "P", "X", "*"]
    colours = {c: plt.cm.tab10(i % 10) for i, c in enumerate(sorted(set(colour)))}
    marks = sorted(set(marker)) if marker is not None else [None]
    for c, col in colours.items():
        for k, m in enumerate(marks):
            sel = (colour == c) & ((marker == m) if marker is not None else True)
            if sel.any():
                label = f"{c}" + (f" / {m}" if m is not None else "")
                ax.scatter(xy[sel, 0], xy[sel, 1], s=6, color=col, marker=markers[k % len(markers)], label=label)
    ax.legend(fontsize=6, markerscale=2, ncol=2)
    ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return _save(fig, path)


def attention_grid(
    mean_face: np.ndarray, correct: np.ndarray, wrong: np.ndarray, names: list[str], counts: np.ndarray, path: Path
) -> Path:
    """Per attribute, the mean map over faces it got right and over faces it got wrong, on the mean face.

    ``correct`` and ``wrong`` are K x S x S (NaN where no face), ``counts`` K x 2 (right, wrong).
    """
    per_row = 4
    rows = -(-len(names) // per_row)
    fig, axes = plt.subplots(rows, per_row * 2, figsize=(per_row * 2 * 1.25, rows * 1.45), squeeze=False)
    gray = mean_face.mean(axis=2) if mean_face.ndim == 3 else mean_face
    for ax in axes.ravel():
        ax.axis("off")
    for k, name in enumerate(names):
        for j, (maps, word) in enumerate(((correct, "right"), (wrong, "wrong"))):
            ax = axes[k // per_row, (k % per_row) * 2 + j]
            ax.imshow(gray, cmap="gray", vmin=0, vmax=255)
            if not np.isnan(maps[k]).all():
                ax.imshow(maps[k], cmap="jet", alpha=0.5, vmin=0, vmax=max(float(np.nanmax(maps[k])), 1e-9))
            ax.set_title(f"{name[:16]}\n{word} ({int(counts[k, j])})", fontsize=6)
    return _save(fig, path)
