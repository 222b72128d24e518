"""The ``rostro`` command: a thin typer layer over :mod:`rostro.api`."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from rostro import api
from rostro._version import __version__
from rostro.config import load_config
from rostro.data.images import load_image
from rostro.distributed import finish as finish_distributed
from rostro.distributed import init_world, launched
from rostro.errors import RostroError
from rostro.files import atomic_write_text
from rostro.training.config import TrainConfig
from rostro.workers import default_workers

app = typer.Typer(
    help="rostro: train, evaluate, audit and serve face-attribute classifiers, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

DataArg = Annotated[
    str | None,
    typer.Argument(help="Dataset: CelebA folder, folder per class, UTKFace folder or CSV. Default: synthetic."),
]
ConfigOpt = Annotated[Path | None, typer.Option("--config", "-c", help="YAML file of options; flags override it.")]
SeedOpt = Annotated[int | None, typer.Option(help="Random seed for splits and sampling.")]
DropOpt = Annotated[bool | None, typer.Option("--drop-missing", help="Leave out listed images absent from disk.")]


def _message(exc: BaseException) -> str:
    """One line naming the problem; OSErrors say which file and why (pandas' only give the name)."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, FileNotFoundError) and not exc.strerror:
        return f"{exc}: no such file or directory"
    return str(exc)


def _fail(exc: BaseException) -> None:
    err.print(f"[bold red]error:[/] {escape(_message(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


@app.callback()
def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show debug logs.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
    )


@app.command()
def version() -> None:
    """Print rostro's version."""
    console.print(f"rostro {__version__}")


@app.command()
def eda(
    data: DataArg = None,
    out: Annotated[str | None, typer.Option("--out", "-o", help="Report folder.")] = None,
    format: Annotated[str | None, typer.Option(help="auto, celeba, folders, manifest or utkface.")] = None,
    target: Annotated[str | None, typer.Option(help="Label whose class balance is shown (default Male).")] = None,
    drop_missing: DropOpt = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Explore a dataset's training split: balance, prevalence, correlations, sample faces."""
    try:
        cfg = load_config(
            api.EdaConfig,
            config,
            data=data,
            out=out,
            format=format,
            target=target,
            drop_missing=drop_missing,
            seed=seed,
        )
        if cfg.data is None:
            console.print(f"No DATA given: using {cfg.synthetic_n} synthetic faces drawn by rostro.")
        summary, html, unreadable = api.eda(cfg)
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)
    sizes = ", ".join(f"{k} {v:,}" for k, v in summary.split_sizes.items())
    console.print(f"[bold]{summary.n_images:,} images[/] ({sizes}); figures from the train split.")
    if summary.n_identities is not None:
        console.print(
            f"{summary.n_identities:,} identities, {summary.identities_in_several_splits} in more than one split."
        )
    if summary.target:
        bal = summary.class_balance
        console.print(
            f"{summary.target}: {bal['positive_rate']:.3f} positive ({bal['positive']:,} of {summary.n_train:,})"
        )
    table = Table(title="Strongest correlations (train)")
    for col in ("attribute A", "attribute B", "r"):
        table.add_column(col, justify="right" if col == "r" else "left")
    for a, b, r in summary.top_positive[:5] + summary.top_negative[:5]:
        table.add_row(a, b, f"{r:+.3f}")
    if table.row_count:
        console.print(table)
    for item in unreadable:
        console.print(
            f"[yellow]unreadable, left out of the sample grid:[/] {escape(item['path'])}: {escape(item['reason'])}",
            soft_wrap=True,
        )
    console.print(f"Report: {html}")


@app.command()
def train(
    data: DataArg = None,
    out: Annotated[str | None, typer.Option("--out", "-o", help="Run folder.")] = None,
    model: Annotated[str | None, typer.Option(help="Registered model: attr_net or small_cnn.")] = None,
    labels: Annotated[str | None, typer.Option(help="Comma-separated labels to learn (default: all).")] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs.")] = None,
    steps_per_epoch: Annotated[int | None, typer.Option(help="Cap on steps per epoch (huge sets).")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per step.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    input_size: Annotated[
        int | None, typer.Option(help="Input size in px (default: the model's; with --init-from, the trunk's).")
    ] = None,
    imbalance: Annotated[str | None, typer.Option(help="none, pos_weight or balanced (sampling).")] = None,
    monitor: Annotated[str | None, typer.Option(help="Validation figure for best checkpoint and early stop.")] = None,
    patience: Annotated[int | None, typer.Option(help="Epochs without improvement before stopping.")] = None,
    init_from: Annotated[str | None, typer.Option(help="Run folder to start from (transfer learning).")] = None,
    freeze_trunk: Annotated[bool | None, typer.Option("--freeze-trunk", help="Train only the new head.")] = None,
    unfreeze_after: Annotated[
        int | None, typer.Option(help="Epoch from which the last trunk blocks train too.")
    ] = None,
    unfreeze_blocks: Annotated[
        int | None, typer.Option(help="How many of the trunk's last blocks --unfreeze-after opens (default 2).")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Folder or id list whose images and identities are left out.")
    ] = None,
    soft_labels: Annotated[
        str | None,
        typer.Option(
            help="CSV/Parquet of extra images with a teacher's probabilities (e.g. predict --aligned's "
            "CSV): they join the training split (distillation)."
        ),
    ] = None,
    resume: Annotated[
        bool | None, typer.Option("--resume", help="Continue the run in --out from its last epoch.")
    ] = None,
    chips: Annotated[
        str | None,
        typer.Option(help="Train on the face network's 150-px chips: aligned, photo or centre (dlib_resnet trunks)."),
    ] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: all cores).")] = None,
    compile: Annotated[bool | None, typer.Option("--compile", help="torch.compile the model (measure first).")] = None,
    drop_missing: DropOpt = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Train a face-attribute model; the run folder can then be evaluated or used to predict."""
    try:
        cfg = load_config(
            TrainConfig, config, data=data, out=out, model=model,
            labels=labels.split(",") if labels else None, epochs=epochs, steps_per_epoch=steps_per_epoch,
            batch_size=batch_size, lr=lr,
            input_size=input_size, imbalance=imbalance, monitor=monitor, patience=patience,
            init_from=init_from, freeze_trunk=freeze_trunk, unfreeze_after=unfreeze_after,
            unfreeze_blocks=unfreeze_blocks,
            exclude=exclude or None, soft_labels=soft_labels, resume=resume, threads=threads, compile=compile,
            chips=chips,
            seed=seed, drop_missing=drop_missing,
        )  # fmt: skip
        result, info, run_dir = api.train(cfg)
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)
    finally:
        finish_distributed()
    if int(os.environ.get("RANK", "0")) != 0:
        return
    v = info.validation
    console.print(
        f"Best epoch {result.best_epoch} ({info.monitor} {result.best_value:.4f}); "
        f"{result.images_per_second:,.0f} training images/s."
    )
    console.print(
        f"Validation at the run's thresholds: mean accuracy {v['mean_accuracy']:.4f} "
        f"(majority {v['mean_majority_baseline']:.4f}), "
        f"mean balanced accuracy {v['mean_balanced_accuracy']:.4f}"
    )
    console.print(f"Run: {run_dir}")


@app.command("train-multitask")
def train_multitask(
    config: Annotated[
        Path, typer.Option("--config", "-c", help="YAML of sources and schedule (configs/model_v2.yaml).")
    ],
    out: Annotated[str | None, typer.Option("--out", "-o", help="Run folder.")] = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs.")] = None,
    limit: Annotated[int | None, typer.Option(help="Faces per source and split, for a quick check.")] = None,
    seed: SeedOpt = None,
) -> None:
    """Heads for attributes and age on dlib's face network (frozen or fine-tuned), trained on several labelled
    sets at once: one network per face."""
    from rostro.training.multitask import MultiTaskConfig
    from rostro.training.multitask import train_multitask as fit

    try:
        cfg = load_config(MultiTaskConfig, config, out=out, epochs=epochs, limit=limit, seed=seed)
        run_dir = fit(cfg)
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)
    v = json.loads((run_dir / "run.json").read_text())["validation"]
    age = f", age MAE {v['age_mae']:.2f} years" if "age_mae" in v else ""
    console.print(f"Validation mean accuracy {v['mean_accuracy']:.4f}{age}. Run: {run_dir}")


@app.command()
def evaluate(
    run: Annotated[str, typer.Argument(help="Run folder from `rostro train`.")],
    split: Annotated[str, typer.Option(help="train, validation or test.")] = "test",
    data: Annotated[str | None, typer.Option(help="Dataset path, when it moved since training.")] = None,
    out: Annotated[str | None, typer.Option(help="Report folder (default RUN/eval-SPLIT).")] = None,
    embeddings: Annotated[
        str | None, typer.Option(help="dlib embeddings of the data, to score a fused run (`rostro fuse`).")
    ] = None,
) -> None:
    """Score a trained run on a split: metrics.json and an HTML report with plots."""
    try:
        cfg = api.EvaluateConfig(run=run, split=split, data=data, out=out, embeddings=embeddings)
        result, html = api.evaluate(cfg)
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)
    table = Table(title=f"{split}: {result.n:,} images, worst attributes first")
    for col in ("attribute", "accuracy", "majority", "balanced acc.", "F1", "ROC-AUC"):
        table.add_column(col, justify="left" if col == "attribute" else "right")
    for name, row in result.table.head(12).iterrows():
        table.add_row(
            name,
            *(f"{row[c]:.4f}" for c in ("accuracy", "majority_baseline", "balanced_accuracy", "f1", "roc_auc")),
        )
    console.print(table)
    s = result.summary
    console.print(
        f"Mean accuracy {s['mean_accuracy']:.4f} (majority {s['mean_majority_baseline']:.4f}); "
        f"mean balanced accuracy {s['mean_balanced_accuracy']:.4f}"
    )
    console.print(f"Report: {html}")


RunOpt = Annotated[str | None, typer.Option("--model", "-m", help="Run folder (default: the shipped model).")]


@app.command()
def predict(
    target: Annotated[str, typer.Argument(help="An image, or a folder of images.")],
    model: RunOpt = None,
    out: Annotated[
        Path | None, typer.Option("--out", "-o", help="CSV (one row per image) or JSON (all faces).")
    ] = None,
    aligned: Annotated[
        bool, typer.Option("--aligned", help="Images are CelebA-aligned crops: skip detection.")
    ] = False,
    runtime: Annotated[str, typer.Option(help="onnx (default) or torch.")] = "onnx",
    annotate_dir: Annotated[Path | None, typer.Option("--annotate", help="Folder for images with boxes drawn.")] = None,
    batch_size: Annotated[int, typer.Option(help="Images per batch.")] = 64,
    workers: Annotated[
        int | None, typer.Option(help="Processes for a folder (default: one per core, up to 4).")
    ] = None,
) -> None:
    """Attributes of the largest face in each image; unreadable images and missing faces are rows too."""
    from rostro.inference import predict as P

    if launched():
        _predict_sharded(target, model, out, aligned, runtime, batch_size)
        return
    try:
        predictor = P.AttributePredictor(model, runtime=runtime)
        paths = P.collect_paths(target)
        workers = workers or default_workers()
        if out is not None and out.suffix.lower() == ".csv" and annotate_dir is None:
            # resumable: a re-run after a kill skips the images already in the file
            frame = P.predict_table(predictor, paths, out, aligned=aligned, batch_size=batch_size, workers=workers)
            atomic_write_text(out, frame.to_csv(index=False))
            results = []
        else:
            results = predictor.predict_paths(paths, aligned=aligned, batch_size=batch_size, workers=workers)
            frame = P.results_frame(results, predictor.labels)
        if out is not None and results:
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.suffix.lower() == ".json":
                out.write_text(json.dumps([dataclasses.asdict(r) for r in results], indent=1))
            else:
                frame.to_csv(out, index=False)
        if annotate_dir is not None:
            annotate_dir.mkdir(parents=True, exist_ok=True)
            for r in results:
                if r.faces and not aligned:
                    P.annotate(load_image(r.path), r, annotate_dir / (Path(r.path).stem + ".png"))
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)
    found = int(frame["face_found"].sum())
    no_face = int((frame["error"] == "no face found").sum())
    unreadable = len(frame) - found - no_face
    console.print(f"{len(frame):,} images: face found in {found:,}, no face in {no_face:,}, unreadable {unreadable:,}.")
    if out is None:
        console.print(frame.to_string(index=False, max_cols=12))
    else:
        console.print(f"Wrote {out}")


def _predict_sharded(target: str, model: str | None, out: Path | None, aligned: bool, runtime: str, batch: int) -> None:
    """`rostro predict` under torchrun: each rank takes a shard; rank 0 merges the one CSV."""
    from rostro.inference import predict as P

    try:
        if out is None or out.suffix.lower() != ".csv":
            raise ValueError("under torchrun, predict needs --out FILE.csv (the ranks' parts are merged into it)")
        world = init_world()
        predictor = P.AttributePredictor(model, runtime=runtime)
        frame = P.predict_sharded(predictor, P.collect_paths(target), out, world, aligned=aligned, batch_size=batch)
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)
    finally:
        finish_distributed()
    if frame is not None:
        console.print(
            f"{len(frame):,} images from {world.size} ranks: face found in {int(frame['face_found'].sum()):,}."
        )
        console.print(f"Wrote {out}")


@app.command()
def analyze(
    photo: Annotated[str | None, typer.Argument(help="A photo (default: a portrait that matplotlib ships).")] = None,
    model: RunOpt = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Folder for the annotated image and JSON.")] = Path(
        "rostro-report/analyze"
    ),
) -> None:
    """Detect every face in one photo and list its attributes with probabilities."""
    from rostro.inference import predict as P

    try:
        path = Path(photo) if photo else P.sample_photo()
        if photo is None:
            console.print(f"No photo given: using {path.name}, which matplotlib ships.")
        predictor = P.AttributePredictor(model)
        img = load_image(path)
        result = predictor.analyze_image(img, name=str(path))
        out.mkdir(parents=True, exist_ok=True)
        (out / "result.json").write_text(json.dumps(dataclasses.asdict(result), indent=1))
        P.annotate(img, result, out / (path.stem + ".png"))
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)
    if not result.faces:
        console.print(f"{path}: no face found.")
    for i, face in enumerate(result.faces, 1):
        numbers = "".join(f", {n} {v:.0f}" for n, v in face.values.items())
        table = Table(title=f"Face {i} at {face.box} ({face.detector}{numbers})")
        table.add_column("attribute")
        table.add_column("probability", justify="right")
        table.add_column("present", justify="center")
        for name, p in sorted(face.probabilities.items(), key=lambda kv: -kv[1]):
            table.add_row(name, f"{p:.3f}", "yes" if name in face.positive else "")
        console.print(table)
    console.print(f"Annotated image and JSON in {out}")


@app.command()
def export(
    run: Annotated[str, typer.Argument(help="Run folder.")],
    format: Annotated[str, typer.Option(help="Only onnx for now.")] = "onnx",
    out: Annotated[Path | None, typer.Option(help="Output file (default RUN/model.onnx).")] = None,
) -> None:
    """Export a run's model for onnxruntime."""
    from rostro.models.export import export_onnx
    from rostro.runs import load_run

    try:
        if format != "onnx":
            raise ValueError(f"format must be 'onnx', got {format!r}")
        model, info = load_run(run)
        path = export_onnx(model, out or Path(run) / "model.onnx", input_size=info.input_size)
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)
    console.print(f"Wrote {path}")


@app.command()
def embed(
    data: DataArg = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="Parquet file; a re-run skips images already in it.")] = Path(
        "embeddings.parquet"
    ),
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Use this run's features instead of dlib's.")
    ] = None,
    aligned: Annotated[
        bool, typer.Option("--aligned", help="Images are CelebA-aligned crops: skip detection.")
    ] = False,
    workers: Annotated[int | None, typer.Option(help="Processes (default: cores).")] = None,
    chunk: Annotated[int, typer.Option(help="Images per task; progress is saved every 20 tasks or minute.")] = 32,
    pick: Annotated[
        str, typer.Option(help="Which face of a photo: largest, or centre (pre-cropped sets).")
    ] = "largest",
    flip: Annotated[bool, typer.Option("--flip", help="Average each face with its mirror image (dlib only).")] = False,
    jitter: Annotated[int, typer.Option(help="Average dlib's N jittered copies of each chip (N x slower).")] = 0,
    face_network: Annotated[
        str, typer.Option(help="Run dlib's face network with onnx (default), torch, or dlib itself (to check).")
    ] = "onnx",
    drop_missing: DropOpt = None,
    seed: SeedOpt = None,
) -> None:
    """Face embeddings for every image of a dataset, with its labels, groups and identities."""
    from rostro.data.loading import DataConfig, open_data
    from rostro.inference.embed import embed_dataset, embed_sharded

    try:
        ds = open_data(DataConfig(data=data, seed=seed or 0, drop_missing=bool(drop_missing)), labels_optional=True)
        options = {"aligned": aligned, "run": model, "pick": pick, "flip": flip, "jitter": jitter,
                   "backend": face_network}  # fmt: skip
        if launched():
            frame = embed_sharded(ds, out, init_world(), workers=1, chunk=chunk, **options)
        else:
            frame = embed_dataset(ds, out, workers=workers, chunk=chunk, **options)
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)
    finally:
        finish_distributed()
    if frame is None:  # a rank other than 0 under torchrun
        return
    found = int(frame["face_found"].sum())
    no_face = int((frame["error"] == "no face found").sum())
    console.print(
        f"{len(frame):,} images, {found:,} embedded, {no_face:,} without a face, "
        f"{len(frame) - found - no_face:,} unreadable."
    )
    console.print(f"Wrote {out}")


@app.command()
def fuse(
    run: Annotated[str, typer.Argument(help="Run folder from `rostro train`.")],
    embeddings: Annotated[Path, typer.Argument(help="dlib embeddings of the run's data (`rostro embed --aligned`).")],
    data: Annotated[str | None, typer.Option(help="Dataset path, when it moved since training.")] = None,
) -> None:
    """Add heads on dlib embeddings to a run and choose, per attribute, how much of CNN and embedding."""
    from rostro.models.fusion import route_counts
    from rostro.training.fusion import fit_fusion

    try:
        fusion = fit_fusion(run, embeddings, data=data)
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)
    cnn, emb, mixed = route_counts(fusion.weights)
    console.print(
        f"Chosen on validation: {cnn} attributes from the CNN alone, {emb} from the embedding alone, "
        f"{mixed} mixed. Wrote {Path(run) / 'fusion.json'}"
    )


EmbOpt = Annotated[str, typer.Argument(help="Parquet file from `rostro embed`.")]


@app.command()
def audit(
    embeddings: EmbOpt,
    label: Annotated[str, typer.Option(help="Label column to predict, e.g. Male.")],
    group: Annotated[list[str], typer.Option(help="Group column(s); repeat for intersections.")],
    cross_group: Annotated[
        str | None, typer.Option(help="Group column of the cross-group matrix (default: first).")
    ] = None,
    classifier: Annotated[str, typer.Option(help="logistic or mlp.")] = "logistic",
    out: Annotated[str, typer.Option("--out", "-o", help="Report folder.")] = "rostro-report/audit",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Audit a classifier on embeddings per group: metrics with intervals, gaps, cross-group matrix."""
    try:
        cfg = api.AuditConfig(embeddings=embeddings, label=label, groups=group, cross_group=cross_group,
                              classifier=classifier, out=out, seed=seed)  # fmt: skip
        result, cross, html = api.audit(cfg)
    except (RostroError, ValueError, OSError, KeyError) as exc:
        _fail(exc)
    console.print(
        result.table()[["accuracy", "accuracy_low", "accuracy_high", "tpr", "fpr", "count"]].round(4).to_string()
    )
    console.print("Gaps: " + ", ".join(f"{k} {v:.4f}" for k, v in result.gaps.items()))
    console.print("Cross-group accuracy (rows: trained on, columns: tested on):")
    console.print(cross.accuracy.astype(float).round(4).to_string())
    console.print(f"Report: {html}")


@app.command("audit-model")
def audit_model(
    data: Annotated[str, typer.Argument(help="Labelled dataset with group columns (e.g. a UTKFace folder).")],
    model: RunOpt = None,
    label: Annotated[str, typer.Option(help="Attribute to audit.")] = "Male",
    group: Annotated[list[str] | None, typer.Option(help="Group column(s); repeat for intersections.")] = None,
    mitigate: Annotated[
        str, typer.Option(help="Per-group thresholds: equalized_odds, demographic_parity or none.")
    ] = "equalized_odds",
    mitigate_group: Annotated[str | None, typer.Option(help="Group column for thresholds (default: first).")] = None,
    aligned: Annotated[bool, typer.Option("--aligned", help="Images are CelebA-aligned crops.")] = False,
    drop_missing: DropOpt = None,
    out: Annotated[str, typer.Option("--out", "-o", help="Report folder.")] = "rostro-report/model-audit",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Audit a trained model (the shipped one by default) per group, then try per-group thresholds."""
    try:
        cfg = api.ModelAuditConfig(data=data, model=model, label=label, groups=group or ["race", "gender"],
                                   mitigate=None if mitigate == "none" else mitigate, mitigate_group=mitigate_group,
                                   aligned=aligned, drop_missing=bool(drop_missing), out=out, seed=seed)  # fmt: skip
        res = api.audit_model(cfg)
    except (RostroError, ValueError, OSError, KeyError) as exc:
        _fail(exc)
    table = res.audit.table()[["accuracy", "accuracy_low", "accuracy_high", "fpr", "fnr", "count"]]
    console.print(table.round(4).to_string())
    console.print("Face found: " + ", ".join(f"{k} {v:.4f}" for k, v in res.found_rate.items()))
    c = res.counts
    console.print(f"{c['images']:,} images: a face found in {c['face_found']:,}, no face in {c['no_face']:,}, "
                  f"{c['unreadable']:,} unreadable (reasons in {Path(out) / 'predictions.csv'}).")  # fmt: skip
    console.print("Gaps: " + ", ".join(f"{k} {v:.4f}" for k, v in res.audit.gaps.items()))
    if res.mitigation is not None:
        console.print(f"Per-group thresholds ({res.mitigation.constraint}), {res.mitigation.n_test:,} held-out faces:")
        console.print(res.mitigation.summary().round(4).to_string())
    console.print(f"Report: {res.html}")


@app.command("verify-eval")
def verify_eval(
    embeddings: Annotated[str | None, typer.Argument(help="Parquet file from `rostro embed` (or use --lfw).")] = None,
    lfw: Annotated[str | None, typer.Option(help="LFW folder (lfw/ and pairs.txt): run the 10-fold protocol.")] = None,
    group: Annotated[str | None, typer.Option(help="Group column for per-group FAR/FRR.")] = None,
    metric: Annotated[str, typer.Option(help="cosine or euclidean.")] = "cosine",
    no_flip: Annotated[bool, typer.Option("--no-flip", help="LFW: no mirror-image averaging.")] = False,
    jitter: Annotated[int, typer.Option(help="LFW: average dlib's N jittered copies of each chip (N x slower).")] = 0,
    refine_jitter: Annotated[int, typer.Option(help="LFW: re-score pairs near the threshold with N jitters.")] = 0,
    refine_band: Annotated[
        float, typer.Option(help="LFW: how near the threshold a pair is refined (2: every pair).")
    ] = 0.02,
    target_far: Annotated[float, typer.Option(help="FAR at which the global threshold is set.")] = 1e-3,
    max_impostor: Annotated[int, typer.Option(help="Cap on sampled impostor pairs.")] = 200_000,
    out: Annotated[str, typer.Option("--out", "-o", help="Report folder.")] = "rostro-report/verify",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Verification figures: FAR/FRR, EER, ROC/DET, FRR at target FARs, per-group rates; or LFW's protocol."""
    if lfw is not None:
        try:
            folds, result, summary, html = api.lfw_eval(
                api.LfwConfig(root=lfw, metric=metric, flip=not no_flip, jitter=jitter,
                              refine_jitter=refine_jitter, refine_band=refine_band, out=out)
            )  # fmt: skip
        except (RostroError, ValueError, OSError, KeyError) as exc:
            _fail(exc)
        console.print(folds.round(4).to_string(index=False))
        console.print(f"LFW accuracy {summary['mean_accuracy']:.4f} ± {summary['std_accuracy']:.4f}; "
                      f"EER {summary['eer']:.4f}; {summary['centre_fallback']} of {summary['images']:,} images "
                      "embedded from their centre (no face detected).")  # fmt: skip
        if refine_jitter:
            unrefined = summary["mean_accuracy_unrefined"]
            console.print(f"{summary['refined_images']:,} images of pairs near the threshold re-embedded with "
                          f"{refine_jitter} jittered copies; without: {unrefined:.4f}.")  # fmt: skip
        console.print(f"Report: {html}")
        return
    if embeddings is None:
        _fail(ValueError("give an embeddings file or --lfw DIR"))
    try:
        cfg = api.VerifyEvalConfig(embeddings=embeddings, group=group, metric=metric, target_far=target_far,
                                   max_impostor=max_impostor, out=out, seed=seed)  # fmt: skip
        result, per_group, html = api.verify_eval(cfg)
    except (RostroError, ValueError, OSError, KeyError) as exc:
        _fail(exc)
    console.print(f"{result.n_genuine:,} genuine, {result.n_impostor:,} impostor pairs; EER {result.eer:.4f} "
                  f"at {result.eer_threshold:.4f}")  # fmt: skip
    console.print(result.operating_points().to_string(index=False))
    if per_group is not None:
        console.print(per_group.round(4).to_string())
    console.print(f"Report: {html}")


@app.command()
def verify(
    image_a: Annotated[str, typer.Argument(help="First photo.")],
    image_b: Annotated[str, typer.Argument(help="Second photo.")],
    threshold: Annotated[float | None, typer.Option(help="Accept at or above this cosine similarity.")] = None,
    threshold_file: Annotated[Path | None, typer.Option(help="threshold.json from `rostro verify-eval`.")] = None,
) -> None:
    """Are two photos the same person? Cosine similarity of dlib embeddings against a threshold."""
    from rostro.faces.embedding import compare_photos

    try:
        if threshold is None and threshold_file is not None:
            threshold = json.loads(threshold_file.read_text())["threshold_at_target_far"]
        result = compare_photos(load_image(image_a), load_image(image_b), threshold=threshold)
    except (RostroError, ValueError, OSError, KeyError) as exc:
        _fail(exc)
    verdict = "same person" if result["same"] else "different people"
    console.print(f"similarity {result['score']:.4f}, threshold {result['threshold']:.4f}: {verdict}")


@app.command()
def tsne(
    embeddings: EmbOpt,
    colour: Annotated[str, typer.Option(help="Column that colours the points.")],
    marker: Annotated[str | None, typer.Option(help="Column that picks the marker.")] = None,
    method: Annotated[str, typer.Option(help="tsne, or umap when umap-learn is installed.")] = "tsne",
    out: Annotated[str, typer.Option("--out", "-o", help="Output folder.")] = "rostro-report/tsne",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """A t-SNE (or UMAP) map of embeddings coloured by group and marked by label."""
    try:
        cfg = api.TsneConfig(embeddings=embeddings, colour=colour, marker=marker, method=method, out=out, seed=seed)
        _, png = api.tsne(cfg)
    except (RostroError, ValueError, OSError, KeyError) as exc:
        _fail(exc)
    console.print(f"Wrote {png}")


@app.command()
def synth(
    out: Annotated[Path, typer.Argument(help="Folder to write.")],
    n: Annotated[int, typer.Option(help="Number of faces.")] = 800,
    layout: Annotated[str, typer.Option(help="celeba or folders.")] = "celeba",
    attribute: Annotated[str, typer.Option(help="Class attribute for the folders layout.")] = "Eyeglasses",
    seed: Annotated[int, typer.Option(help="Random seed.")] = 0,
) -> None:
    """Draw synthetic faces with known attributes, in CelebA or folder-per-class layout."""
    from rostro.data.synthetic import write_celeba, write_folders

    try:
        if layout == "celeba":
            write_celeba(out, n, seed=seed)
        elif layout == "folders":
            write_folders(out, n, attribute=attribute, seed=seed)
        else:
            raise ValueError(f"layout must be 'celeba' or 'folders', got {layout!r}")
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)
    console.print(f"Wrote {n} synthetic faces to {out} ({layout} layout).")


@app.command()
def serve(
    model: RunOpt = None,
    host: Annotated[str, typer.Option(help="Address to bind; other than loopback needs an API key.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port.")] = 8000,
    api_key: Annotated[
        str | None, typer.Option(help="Key clients send as X-API-Key (or set ROSTRO_API_KEY).", show_default=False)
    ] = None,
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="Allowed browser origin; repeat (default: none).")
    ] = None,
    max_upload_mb: Annotated[float, typer.Option(help="Largest upload accepted.")] = 10.0,
    max_queue: Annotated[int, typer.Option(help="Requests allowed to wait; more get 503.")] = 32,
) -> None:
    """Serve the REST API and the web page (http://HOST:PORT/, API docs at /docs)."""
    from rostro.serve.app import ServeConfig
    from rostro.serve.app import serve as run_server

    cfg = ServeConfig(model=model, host=host, port=port, api_key=api_key, cors_origins=cors_origin or [],
                      max_upload_mb=max_upload_mb, max_queue=max_queue)  # fmt: skip
    try:
        run_server(cfg)
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)


def run() -> None:
    """Entry point for ``python -m rostro``."""
    app(prog_name="rostro")


if __name__ == "__main__":
    sys.exit(run())
