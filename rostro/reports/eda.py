"""The EDA report: an HTML page with PNG plots and a JSON of every figure."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rostro.data.dataset import FaceDataset
from rostro.data.images import ImageDecodeError, load_image
from rostro.data.stats import DatasetSummary
from rostro.reports import plots
from rostro.reports.html import Page


def _sample_grid(
    ds: FaceDataset, n: int, seed: int, target: str | None, path: Path
) -> tuple[Path | None, list[dict[str, str]]]:
    """Draw ``n`` readable training images; return the grid and the unreadable ones met on the way.

    Unreadable files are skipped (up to ``4 n`` tries) so one bad file never blanks a tile,
    and each is reported by name and reason.
    """
    train = ds.split("train").frame
    if len(train) == 0 or n <= 0:
        return None, []
    rows = train.sample(min(4 * n, len(train)), random_state=seed)
    images, captions, unreadable = [], [], []
    for _, row in rows.iterrows():
        if len(images) == n:
            break
        try:
            images.append(load_image(row["path"]))
        except ImageDecodeError as exc:
            unreadable.append({"path": str(row["path"]), "reason": exc.reason})
            continue
        tags = [f"{target}={int(row[target])}"] if target else [k for k in ds.labels if row[k] == 1][:3]
        captions.append(f"{row['image_id']}\n" + ", ".join(tags))
    return (plots.image_grid(images, captions, path) if images else None), unreadable


def write_eda_report(
    summary: DatasetSummary, ds: FaceDataset, out_dir: str | Path, *, samples: int = 16, seed: int = 0
) -> tuple[Path, list[dict[str, str]]]:
    """Write ``index.html``, ``summary.json`` and the PNG plots into ``out_dir``.

    Returns the HTML path and the unreadable images met while drawing the sample grid.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    page = Page(f"rostro EDA: {ds.root.name} ({summary.source})")
    page.paragraph(
        f"{summary.n_images:,} images; statistics below are computed on the training split only "
        f"({summary.n_train:,} images), so validation and test stay unseen."
    )
    if summary.dropped_images:
        page.paragraph(f"{summary.dropped_images} listed images were missing on disk and left out.")
    page.heading("Splits")
    plots.bar_chart(summary.split_sizes, out / "splits.png", title="Images per split", xlabel="images")
    page.table(pd.DataFrame([summary.split_sizes], index=["images"])).image("splits.png", "images per split")
    if summary.n_identities is not None:
        page.paragraph(
            f"{summary.n_identities:,} identities; "
            f"{summary.identities_in_several_splits} appear in more than one split."
        )
    if summary.target:
        page.heading(f"Class balance of {summary.target} (train)")
        bal = {k: v for k, v in summary.class_balance.items() if k != "positive_rate"}
        plots.bar_chart(bal, out / "class_balance.png", title=f"{summary.target} (train)", xlabel="images")
        page.table(pd.DataFrame([summary.class_balance], index=[summary.target]))
        page.image("class_balance.png", "class balance")
    page.heading("Prevalence of each attribute (train)")
    prev = dict(sorted(summary.prevalence.items(), key=lambda kv: -kv[1]))
    plots.bar_chart(prev, out / "prevalence.png", title="Share of positive labels", xlabel="share", horizontal=True)
    page.image("prevalence.png", "prevalence")
    page.table(pd.DataFrame({"prevalence": prev}))
    if len(summary.prevalence) > 1:
        page.heading("Correlation between attributes (train)")
        plots.heatmap(summary.correlation, out / "correlation.png", title="Pearson (phi) correlation")
        page.image("correlation.png", "correlation matrix")
        cols = ["attribute A", "attribute B", "r"]
        page.heading("Strongest positive pairs", 3).table(pd.DataFrame(summary.top_positive, columns=cols), index=False)
        page.heading("Strongest negative pairs", 3).table(pd.DataFrame(summary.top_negative, columns=cols), index=False)
    grid, unreadable = _sample_grid(ds, samples, seed, summary.target, out / "samples.png")
    if grid is not None:
        page.heading("Sample faces (train)").image("samples.png", "sample faces")
    if unreadable:
        page.paragraph(f"{len(unreadable)} images met while drawing the samples could not be read:")
        page.table(pd.DataFrame(unreadable), index=False)
    (out / "summary.json").write_text(json.dumps({**summary.to_dict(), "unreadable_in_sample": unreadable}, indent=2))
    return page.write(out / "index.html"), unreadable
