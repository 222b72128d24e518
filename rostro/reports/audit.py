"""HTML reports for the fairness audit, verification and t-SNE maps."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.data.dataset import group_name
from rostro.evaluation.fairness import AuditResult, CrossGroupResult
from rostro.evaluation.mitigation import MitigationResult
from rostro.evaluation.verification import VerificationResult
from rostro.reports import plots
from rostro.reports.html import Page


def _start(out_dir: str | Path, title: str, note: str) -> tuple[Path, Page]:
    """The report folder (created) and a page with its title and note."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    page = Page(title)
    if note:
        page.paragraph(note)
    return out, page


def _finish(out: Path, page: Page, name: str, data: dict) -> Path:
    """Write the report's figures as ``name`` (JSON) beside its page; returns the page's path."""
    (out / name).write_text(json.dumps(data, indent=2, default=float))
    return page.write(out / "report.html")


def _audit_section(page: Page, audit: AuditResult, out: Path) -> None:
    page.heading("Overall").table(audit.overall.to_frame("value"))
    page.heading("Per group (95% bootstrap intervals)").table(audit.table())
    acc = {group_name(k): v for k, v in audit.by_group["accuracy"].items()}
    plots.bar_chart(acc, out / "accuracy_by_group.png", title="Accuracy per group", xlabel="accuracy", horizontal=True)
    page.image("accuracy_by_group.png", "accuracy per group")
    gaps = pd.DataFrame({"difference (max - min)": audit.difference, "ratio (min / max)": audit.ratio})
    page.heading("Gaps between groups").table(gaps).table(pd.Series(audit.gaps).to_frame("value"))


def write_audit_report(
    audit: AuditResult, cross: CrossGroupResult | None, out_dir: str | Path, *, title: str, note: str = ""
) -> Path:
    out, page = _start(out_dir, title, note)
    _audit_section(page, audit, out)
    data = {"audit": audit.to_dict()}
    if cross is not None:
        page.heading("Cross-group matrix: trained on the row's group, tested on the column's")
        plots.heatmap(cross.accuracy.astype(float), out / "cross_group.png", title="Accuracy", vmin=0.5, vmax=1.0)
        page.image("cross_group.png", "cross-group accuracy").table(cross.accuracy.astype(float))
        page.heading("Lower and upper 95% bounds", 3).table(cross.ci_low.astype(float)).table(
            cross.ci_high.astype(float)
        )
        data["cross_group"] = cross.to_dict()
    return _finish(out, page, "audit.json", data)


def write_model_audit_report(
    audit: AuditResult, found_rate: pd.Series, mitigation: MitigationResult | None, out_dir: str | Path, *,
    title: str, note: str = "", age: pd.DataFrame | None = None,
) -> Path:  # fmt: skip
    """A trained model audited per group, the face-found rate per group, per-group thresholds and,
    for a model that predicts age, its error per group."""
    out, page = _start(out_dir, title, note)
    page.heading("Face found, per group").table(found_rate.to_frame("face found"))
    _audit_section(page, audit, out)
    data = {"audit": audit.to_dict(), "face_found": {str(k): float(v) for k, v in found_rate.items()}}
    if age is not None:
        page.heading("Age: mean absolute error in years, per group (95% bootstrap interval)")
        page.table(age, index=False)
        data["age"] = age.to_dict(orient="records")
    if mitigation is not None:
        summary = mitigation.summary()
        page.heading(f"Per-group thresholds ({mitigation.constraint.replace('_', ' ')})")
        page.paragraph(f"Thresholds fitted on {mitigation.n_fit:,} faces; figures on the other {mitigation.n_test:,}.")
        page.table(summary)
        plots.paired_bars(summary, out / "mitigation.png", title="Held-out faces: before and after")
        page.image("mitigation.png", "before and after per-group thresholds")
        data["mitigation"] = mitigation.to_dict()
    return _finish(out, page, "audit.json", data)


def write_verification_report(
    result: VerificationResult, per_group: pd.DataFrame | None, out_dir: str | Path, *, title: str,
    global_threshold: float | None = None, note: str = "",
) -> Path:  # fmt: skip
    out, page = _start(out_dir, title, note)
    page.paragraph(
        f"{result.n_genuine:,} genuine and {result.n_impostor:,} impostor pairs. "
        f"EER {result.eer:.4f} at threshold {result.eer_threshold:.4f}."
    )
    page.heading("Operating points").table(result.operating_points(), index=False)
    plots.score_histograms(result.genuine_scores, result.impostor_scores, out / "scores.png",
                           threshold=result.eer_threshold)  # fmt: skip
    plots.far_frr(result.thresholds, result.far, result.frr, out / "far_frr.png", eer=result.eer,
                  eer_t=result.eer_threshold)  # fmt: skip
    plots.curve({"ROC": (result.far, 1 - result.frr)}, out / "roc.png", title="ROC", xlabel="FAR", ylabel="1 - FRR",
                diagonal=True)  # fmt: skip
    plots.det_curve(result.far, result.frr, out / "det.png")
    for name in ("scores", "far_frr", "roc", "det"):
        page.image(f"{name}.png", name)
    data = {"verification": result.to_dict()}
    if per_group is not None:
        page.heading(f"Per group at one global threshold ({global_threshold:.4f})").table(per_group)
        data["per_group"] = {"threshold": global_threshold, "table": per_group.reset_index().to_dict(orient="records")}
    return _finish(out, page, "verification.json", data)


def write_tsne(
    xy: np.ndarray, colour: np.ndarray, marker: np.ndarray | None, out_dir: str | Path, *, title: str
) -> Path:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    return plots.scatter_2d(xy, colour, out / "tsne.png", marker=marker, title=title)
