"""``rostro audit`` and ``rostro audit-model``: per-group metrics with intervals, gaps, the cross-group
matrix, and per-group thresholds."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.commands._base import read_embeddings
from rostro.config import save_config
from rostro.data.dataset import group_keys
from rostro.data.loading import DataConfig, open_data
from rostro.errors import RostroError
from rostro.evaluation.fairness import (
    AuditResult,
    CrossGroupResult,
    audit_predictions,
    cross_group_matrix,
    error_by_group,
)
from rostro.evaluation.mitigation import MitigationResult, mitigate_thresholds
from rostro.faces.status import status_counts
from rostro.files import check_writable
from rostro.models.heads import EmbeddingClassifier
from rostro.reports.audit import write_audit_report, write_model_audit_report


@dataclass
class AuditConfig:
    """Fairness audit of a classifier on face embeddings (one head per group, and one on all)."""

    embeddings: str
    label: str
    groups: list[str]
    cross_group: str | None = None
    classifier: str = "logistic"
    test_fraction: float = 0.3
    n_boot: int = 200
    cross_n_boot: int = 500  # the cross-group matrix's intervals (one per cell)
    seed: int = 0
    out: str = "rostro-report/audit"


@dataclass(kw_only=True)
class EmbeddingAuditResult:
    """Per-group metrics of a head on embeddings and the cross-group matrix."""

    audit: AuditResult
    cross: CrossGroupResult
    html: Path

    def lines(self) -> list[str]:
        columns = ["accuracy", "accuracy_low", "accuracy_high", "tpr", "fpr", "count"]
        return [
            self.audit.table()[[c for c in columns if c in self.audit.table().columns]].round(4).to_string(),
            "Gaps: " + ", ".join(f"{k} {v:.4f}" for k, v in self.audit.gaps.items()),
            "Cross-group accuracy (rows: trained on, columns: tested on):",
            self.cross.accuracy.astype(float).round(4).to_string(),
            f"Report: {self.html}",
        ]


def binary_label(frame: pd.DataFrame, label: str, source: str | None) -> np.ndarray:
    """``frame[label]`` as 0/1 integers, or an error naming the column and the ones that are 0/1."""
    values = pd.to_numeric(frame[label], errors="coerce")
    if values.isna().any() or not values.isin([0, 1]).all():
        found = sorted(map(str, frame[label].drop_duplicates().head(5)))
        binary = [c for c in frame.columns
                  if c != label and pd.to_numeric(frame[c], errors="coerce").isin([0, 1]).all()]  # fmt: skip
        raise RostroError(f"{source}: label {label!r}: expected 0/1 values, found {found}; 0/1 columns: {binary[:12]}")
    return values.to_numpy(int)


def audit(cfg: AuditConfig) -> EmbeddingAuditResult:
    """Per-group metrics of a head trained on all groups (held-out, identity-disjoint test part)
    and the cross-group matrix; writes ``audit.json`` and ``report.html``."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    check_writable(cfg.out)  # before the heads are fitted
    frame, X = read_embeddings(cfg.embeddings, [cfg.label, *cfg.groups])
    y = binary_label(frame, cfg.label, cfg.embeddings)
    ids = frame["identity"].to_numpy() if "identity" in frame.columns else None
    idx = np.arange(len(frame))
    if ids is not None:
        tr, te = next(GroupShuffleSplit(1, test_size=cfg.test_fraction, random_state=cfg.seed).split(idx, groups=ids))
    else:
        tr, te = train_test_split(idx, test_size=cfg.test_fraction, random_state=cfg.seed, stratify=y)
    head = EmbeddingClassifier(cfg.classifier, seed=cfg.seed).fit(X[tr], y[tr])
    groups = frame.loc[te, cfg.groups].astype(str).reset_index(drop=True)
    result = audit_predictions(y[te], head.predict(X[te]), groups if len(cfg.groups) > 1 else groups.iloc[:, 0],
                               n_boot=cfg.n_boot, seed=cfg.seed)  # fmt: skip
    column = cfg.cross_group or cfg.groups[0]
    cross = cross_group_matrix(
        X, y, frame[column].astype(str).to_numpy(), lambda: EmbeddingClassifier(cfg.classifier, seed=cfg.seed),
        identities=ids, test_fraction=cfg.test_fraction, n_boot=cfg.cross_n_boot, seed=cfg.seed,
    )  # fmt: skip
    note = (f"{cfg.label} from {cfg.classifier} heads on {Path(cfg.embeddings).name}; {len(te):,} held-out faces"
            f"{' (identity-disjoint)' if ids is not None else ''}.")  # fmt: skip
    html = write_audit_report(result, cross, cfg.out, title=f"rostro audit: {cfg.label} by {', '.join(cfg.groups)}",
                              note=note)  # fmt: skip
    save_config(cfg, Path(cfg.out) / "config.yaml")
    return EmbeddingAuditResult(audit=result, cross=cross, html=html)


@dataclass
class ModelAuditConfig(DataConfig):
    """Fairness of a trained attribute model (the shipped one by default) on a labelled dataset.

    ``mitigate`` fits per-group thresholds for ``mitigate_group`` on half of the faces and
    reports the other half before and after.
    """

    model: str | None = None
    label: str = "Male"
    groups: list[str] = dataclasses.field(default_factory=lambda: ["race", "gender"])
    aligned: bool = False
    mitigate: str | None = "equalized_odds"
    mitigate_group: str | None = None
    batch_size: int = 64
    n_boot: int = 200
    out: str = "rostro-report/model-audit"

    def __post_init__(self) -> None:
        if self.mitigate == "none":  # the CLI's and YAML's word for no mitigation
            self.mitigate = None


@dataclass(kw_only=True)
class ModelAuditResult:
    """Per-group audit of the faces found, face-found rate per group, and the mitigation."""

    audit: AuditResult
    found_rate: pd.Series
    mitigation: MitigationResult | None
    html: Path
    counts: dict[str, int]
    age: pd.DataFrame | None = None  # age MAE per group, for a model that predicts age on data that has it

    def lines(self) -> list[str]:
        columns = ["accuracy", "accuracy_low", "accuracy_high", "fpr", "fnr", "count"]
        table, c = self.audit.table(), self.counts
        out = [
            table[[c for c in columns if c in table.columns]].round(4).to_string(),
            "Face found: " + ", ".join(f"{k} {v:.4f}" for k, v in self.found_rate.items()),
            f"{c['images']:,} images: a face found in {c['face_found']:,}, no face in {c['no_face']:,}, "
            f"{c['unreadable']:,} unreadable (reasons in {self.html.parent / 'predictions.csv'}).",
            "Gaps: " + ", ".join(f"{k} {v:.4f}" for k, v in self.audit.gaps.items()),
        ]
        if self.mitigation is not None:
            m = self.mitigation
            out += [
                f"Per-group thresholds ({m.constraint}), {m.n_test:,} held-out faces:",
                m.summary().round(4).to_string(),
            ]
        return [*out, f"Report: {self.html}"]


def audit_model(cfg: ModelAuditConfig) -> ModelAuditResult:
    """Predict ``cfg.label`` on every image of ``cfg.data`` with a trained model, then audit per group.

    Predictions are kept in ``out/predictions.csv`` and resumed from it. Photos where no face
    is found are counted per group (``found_rate``) and left out of the metrics.
    """
    from rostro.inference.predict import AttributePredictor, predict_table

    if cfg.data is None:
        raise RostroError("audit-model needs a labelled dataset with group columns (the DATA argument)")
    ds = open_data(cfg)
    absent = [c for c in [cfg.label, *cfg.groups] if c not in ds.frame.columns]
    if absent:
        raise RostroError(f"{cfg.data}: no column(s) {absent}; labels {ds.labels}, groups {ds.groups}")
    predictor = AttributePredictor(cfg.model)
    if cfg.label not in predictor.labels:
        raise RostroError(f"model {predictor.run} does not predict {cfg.label!r}; it predicts {predictor.labels}")
    out = check_writable(cfg.out)
    save_config(cfg, out / "config.yaml")
    frame = ds.frame.reset_index(drop=True)
    preds = predict_table(predictor, frame["path"].tolist(), out / "predictions.csv", aligned=cfg.aligned,
                          batch_size=cfg.batch_size).set_index("path")  # fmt: skip
    found = preds.loc[frame["path"], "face_found"].astype(bool).to_numpy()
    counts = status_counts(preds.loc[frame["path"], "error"])
    found_rate = pd.Series(found).groupby(group_keys(frame[cfg.groups]).to_numpy()).mean()
    kept = frame[found].reset_index(drop=True)
    if kept.empty:
        raise RostroError(f"{cfg.data}: no face found in any of {len(frame):,} images")
    scores = preds.loc[kept["path"], cfg.label].to_numpy(float)
    threshold = float(predictor.thresholds[predictor.labels.index(cfg.label)])
    y = binary_label(kept, cfg.label, cfg.data)
    g = kept[cfg.groups].astype(str)
    result = audit_predictions(y, (scores >= threshold).astype(int), g if len(cfg.groups) > 1 else g.iloc[:, 0],
                               n_boot=cfg.n_boot, seed=cfg.seed)  # fmt: skip
    mitigation = None
    if cfg.mitigate is not None:
        column = cfg.mitigate_group or cfg.groups[0]
        mitigation = mitigate_thresholds(scores, y, kept[column], threshold=threshold, constraint=cfg.mitigate,
                                         n_boot=cfg.n_boot, seed=cfg.seed)  # fmt: skip
    age = None
    if "age" in predictor.values and "age" in kept.columns:
        by = [c for c in dict.fromkeys([*cfg.groups, "gender", "age_band"]) if c in kept.columns]
        age = error_by_group(preds.loc[kept["path"], "age"].to_numpy(float) - kept["age"].to_numpy(float),
                             kept[by], n_boot=cfg.n_boot, seed=cfg.seed)  # fmt: skip
    note = (f"{cfg.label} predicted by {predictor.run.name} (threshold {threshold:.3f}) on {Path(cfg.data).name}: "
            f"{len(frame):,} images, a face found in {counts['face_found']:,}, no face in {counts['no_face']:,}, "
            f"{counts['unreadable']:,} unreadable (reasons in predictions.csv); the metrics cover the faces "
            "found.")  # fmt: skip
    html = write_model_audit_report(result, found_rate, mitigation, out, title=f"rostro model audit: {cfg.label} by "
                                    f"{', '.join(cfg.groups)}", note=note, age=age)  # fmt: skip
    return ModelAuditResult(
        audit=result, found_rate=found_rate, mitigation=mitigation, html=html, counts=counts, age=age
    )
