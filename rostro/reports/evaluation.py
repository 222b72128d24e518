"""Training and evaluation reports: curves, confusion matrices, per-attribute tables."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from rostro.evaluation.metrics import EvaluationResult
from rostro.reports import plots
from rostro.reports.html import Page


def write_training_curves(history: list[dict], run_dir: str | Path, *, monitor: str) -> Path:
    return plots.training_curves(pd.DataFrame(history), Path(run_dir) / "curves.png", metric=monitor)


def write_evaluation_report(
    result: EvaluationResult, out_dir: str | Path, *, title: str, attention: dict | None = None
) -> Path:
    """``metrics.json``, ``report.html`` and the plots for one evaluated split; ``attention`` (from
    ``rostro.inference.explain.maps_by_outcome`` on validation faces) adds where the model looks."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(result.to_dict(), indent=2))
    page = Page(title)
    s = result.summary
    page.paragraph(
        f"{result.n:,} images of the {result.split} split. Mean accuracy {s['mean_accuracy']:.4f} "
        f"(always predicting the majority: {s['mean_majority_baseline']:.4f}); mean balanced accuracy "
        f"{s['mean_balanced_accuracy']:.4f}. Thresholds were tuned on the validation split."
    )
    table = result.table
    names = list(table.index)
    if len(names) == 1:
        row = table.iloc[0]
        plots.confusion(int(row.tn), int(row.fp), int(row.fn), int(row.tp), out / "confusion.png", title=names[0])
        page.heading("Confusion matrix").image("confusion.png", "confusion matrix")
    else:
        acc = {n: float(table.loc[n, "accuracy"]) for n in names}
        plots.bar_chart(acc, out / "accuracy.png", title="Accuracy per attribute", xlabel="accuracy", horizontal=True)
        page.heading("Accuracy per attribute").image("accuracy.png", "accuracy per attribute")
    shown = [n for n in names if n in result.roc][:6]
    if shown:
        roc = {n: result.roc[n] for n in shown}
        pr = {n: result.pr[n] for n in shown}
        fpr, tpr = "false positive rate", "true positive rate"
        plots.curve(roc, out / "roc.png", title="ROC", xlabel=fpr, ylabel=tpr, diagonal=True)
        plots.curve(pr, out / "pr.png", title="Precision-recall", xlabel="recall", ylabel="precision")
        page.heading("ROC and precision-recall" + (" (worst attributes)" if len(names) > 6 else ""))
        page.image("roc.png", "ROC curves").image("pr.png", "precision-recall curves")
    worst = [n for n in table.sort_values("ece", ascending=False).index if len(result.reliability.get(n, ()))][:6]
    if worst:
        curves = {
            f"{n} (ECE {table.loc[n, 'ece']:.3f})": (
                result.reliability[n]["mean_probability"].to_numpy(),
                result.reliability[n]["frequency"].to_numpy(),
            )
            for n in worst
        }
        plots.curve(curves, out / "reliability.png", title="Reliability (15 bins)", xlabel="mean probability",
                    ylabel="observed frequency", diagonal=True, markers=True)  # fmt: skip
        page.heading("Calibration" + (" (least calibrated attributes)" if len(names) > 6 else ""))
        page.paragraph(f"Expected calibration error (15 equal bins): mean {s['mean_ece']:.4f}, largest "
                       f"{s['max_ece']:.4f}. A perfectly calibrated attribute lies on the diagonal.")  # fmt: skip
        page.image("reliability.png", "reliability diagrams")
    if attention is not None:
        plots.attention_grid(attention["mean_face"], attention["correct"], attention["wrong"], attention["names"],
                             attention["counts"], out / "attention.png")  # fmt: skip
        page.heading("Where the model looks, right and wrong")
        page.paragraph(f"Mean Grad-CAM map per attribute over {attention['faces']} validation faces it got right and "
                       "over those it got wrong, on the mean face (counts in brackets); each face's map is scaled to "
                       "its own maximum first; where it moves on failures shows what misled the model.")  # fmt: skip
        page.image("attention.png", "mean maps over right and wrong validation faces")
    cols = ["accuracy", "majority_baseline", "balanced_accuracy", "precision", "recall", "f1", "roc_auc", "ece",
            "prevalence", "threshold"]  # fmt: skip
    page.heading("Per attribute, worst first").table(table[cols])
    return page.write(out / "report.html")
