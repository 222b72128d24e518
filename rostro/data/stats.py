"""Dataset statistics for exploratory analysis, computed on the training split only."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np
import pandas as pd

from rostro.data.dataset import FaceDataset
from rostro.data.sampling import identity_overlap
from rostro.validation import check_names


@dataclass
class DatasetSummary:
    """Figures an EDA report shows; plain values so they serialise to JSON as they are."""

    source: str
    n_images: int
    split_sizes: dict[str, int]
    computed_on: str
    n_train: int
    target: str | None
    class_balance: dict[str, float]
    prevalence: dict[str, float]
    correlation: pd.DataFrame = field(repr=False)
    top_positive: list[tuple[str, str, float]]
    top_negative: list[tuple[str, str, float]]
    n_identities: int | None
    identities_in_several_splits: int
    dropped_images: int

    def to_dict(self) -> dict:
        out = asdict(self)
        out["correlation"] = {
            k: {j: round(v, 4) for j, v in row.items()} for k, row in self.correlation.to_dict().items()
        }
        return out


def _strongest_pairs(corr: pd.DataFrame, k: int) -> tuple[list, list]:
    names = list(corr.columns)
    iu = np.triu_indices(len(names), k=1)
    vals = corr.to_numpy()[iu]
    keep = ~np.isnan(vals)
    pairs = sorted(
        ((names[i], names[j], float(v)) for i, j, v in zip(iu[0][keep], iu[1][keep], vals[keep], strict=True)),
        key=lambda p: p[2],
    )
    pos = [(a, b, round(v, 4)) for a, b, v in reversed(pairs[-k:]) if v > 0]
    neg = [(a, b, round(v, 4)) for a, b, v in pairs[:k] if v < 0]
    return pos, neg


def describe_dataset(ds: FaceDataset, *, target: str | None = None, top_k: int = 10) -> DatasetSummary:
    """Split sizes for all data; balance, prevalence and correlations on 'train' alone.

    Statistics stay on the training split so nothing about validation or test images
    informs choices made from the report.
    """
    if target is not None:
        check_names(target, ds.labels, what="label", caller="describe_dataset")
    train = ds.split("train")
    if len(train) == 0:
        raise ValueError("describe_dataset: the dataset has no 'train' rows to describe")
    labels = train.frame[ds.labels].astype(float)
    prevalence = {k: round(float(v), 4) for k, v in labels.mean().items()}
    corr = labels.corr() if len(ds.labels) > 1 else pd.DataFrame(index=ds.labels, columns=ds.labels, dtype=float)
    pos, neg = _strongest_pairs(corr, top_k) if len(ds.labels) > 1 else ([], [])
    balance = {}
    if target is not None:
        n_pos = int(train.frame[target].sum())
        balance = {
            "positive": n_pos,
            "negative": len(train) - n_pos,
            "positive_rate": round(n_pos / len(train), 4),
        }
    return DatasetSummary(
        source=ds.source,
        n_images=len(ds),
        split_sizes=ds.split_sizes(),
        computed_on="train",
        n_train=len(train),
        target=target,
        class_balance=balance,
        prevalence=prevalence,
        correlation=corr,
        top_positive=pos,
        top_negative=neg,
        n_identities=int(ds.frame["identity"].nunique()) if ds.has_identity else None,
        identities_in_several_splits=len(identity_overlap(ds)),
        dropped_images=len(ds.dropped),
    )
