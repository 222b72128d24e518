"""``rostro eda``: describe a dataset's training split and write an HTML report."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from rostro.config import save_config
from rostro.data.loading import DataConfig, open_data
from rostro.data.stats import DatasetSummary, describe_dataset
from rostro.files import check_writable
from rostro.reports.eda import write_eda_report


@dataclass
class EdaConfig(DataConfig):
    out: str = "rostro-report/eda"
    target: str | None = None
    samples: int = 16


@dataclass(kw_only=True)
class EdaResult:
    """The dataset's summary, the report, and the images met while drawing the sample grid that
    could not be read (each with its reason)."""

    summary: DatasetSummary
    html: Path
    unreadable: list[dict[str, str]] = field(default_factory=list)
    synthetic: int | None = None  # how many synthetic faces stood in for a missing dataset

    def lines(self) -> list[str]:
        s = self.summary
        lines = [f"No DATA given: used {self.synthetic} synthetic faces drawn by rostro."] if self.synthetic else []
        sizes = ", ".join(f"{k} {v:,}" for k, v in s.split_sizes.items())
        lines.append(f"{s.n_images:,} images ({sizes}); figures from the train split.")
        if s.n_identities is not None:
            lines.append(f"{s.n_identities:,} identities, {s.identities_in_several_splits} in more than one split.")
        if s.target:
            bal = s.class_balance
            lines.append(f"{s.target}: {bal['positive_rate']:.3f} positive ({bal['positive']:,} of {s.n_train:,})")
        pairs = s.top_positive[:5] + s.top_negative[:5]
        if pairs:
            lines.append("Strongest correlations (train):")
            lines += [f"  {a} ~ {b}: {r:+.3f}" for a, b, r in pairs]
        lines += [f"unreadable, left out of the sample grid: {u['path']}: {u['reason']}" for u in self.unreadable]
        lines.append(f"Report: {self.html}")
        return lines


def eda(cfg: EdaConfig) -> EdaResult:
    """Describe a dataset's training split and write the HTML report and the config beside it."""
    check_writable(cfg.out)  # before the dataset is read
    target = cfg.target
    ds = open_data(cfg, stratify=target or "Male")
    if target is None and "Male" in ds.labels:
        target = "Male"
    elif target is None:
        target = ds.labels[0]
    summary = describe_dataset(ds, target=target)
    out = Path(cfg.out)
    html, unreadable = write_eda_report(summary, ds, out, samples=cfg.samples, seed=cfg.seed)
    save_config(cfg, out / "config.yaml")
    if ds.dropped:
        (out / "dropped.json").write_text(json.dumps(ds.dropped))
    return EdaResult(summary=summary, html=html, unreadable=unreadable,
                     synthetic=cfg.synthetic_n if cfg.data is None else None)  # fmt: skip
