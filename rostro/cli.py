"""The ``rostro`` command: flags and ``--config`` YAML in, :mod:`rostro.commands` called, its result printed.

Every flag defaults to None, meaning "not given": the config dataclass (or the YAML file given with
``--config``) holds the defaults, and a given flag overrides it. Errors are caught in one place
(:func:`command`) and printed as one line with exit code 2.
"""

from __future__ import annotations

import functools
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Annotated, Any

import typer
import yaml
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from rostro import commands as C
from rostro._version import __version__
from rostro.config import load_config
from rostro.errors import RostroError

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
SeedOpt = Annotated[int | None, typer.Option(help="Random seed.")]
DropOpt = Annotated[bool | None, typer.Option("--drop-missing", help="Leave out listed images absent from disk.")]
RunOpt = Annotated[str | None, typer.Option("--model", "-m", help="Run folder (default: the shipped model).")]
AlignedOpt = Annotated[bool | None, typer.Option("--aligned", help="Images are CelebA-aligned crops: skip detection.")]
EmbArg = Annotated[str | None, typer.Argument(help="Parquet file from `rostro embed`.")]


def _out(help: str) -> Any:
    return Annotated[str | None, typer.Option("--out", "-o", help=help)]


def _message(exc: BaseException) -> str:
    """One line naming the problem; OSErrors say which file and why (pandas' only give the name)."""
    if isinstance(exc, OSError) and exc.strerror and exc.filename:
        return f"{exc.filename}: {exc.strerror}"
    if isinstance(exc, FileNotFoundError) and not exc.strerror:
        return f"{exc}: no such file or directory"
    if isinstance(exc, KeyError):
        return f"no {exc}"
    return str(exc)


def _fail(exc: BaseException) -> None:
    err.print(f"[bold red]error:[/] {escape(_message(exc))}", highlight=False, soft_wrap=True)
    raise typer.Exit(2)


def command(name: str | None = None) -> Callable:
    """Register a CLI command that returns a result (or None); the one place errors become messages."""

    def register(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(**kwargs: Any) -> None:
            try:
                result = fn(**kwargs)
            except (RostroError, ValueError, OSError, KeyError) as exc:
                _fail(exc)
            for line in result.lines() if result is not None else []:
                console.print(line, markup=False, highlight=False, soft_wrap=True)

        return app.command(name)(run)

    return register


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


@command()
def eda(
    data: DataArg = None,
    out: _out("Report folder.") = None,
    format: Annotated[str | None, typer.Option(help="auto, celeba, folders, manifest or utkface.")] = None,
    target: Annotated[str | None, typer.Option(help="Label whose class balance is shown (default Male).")] = None,
    drop_missing: DropOpt = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
) -> C.EdaResult:
    """Explore a dataset's training split: balance, prevalence, correlations, sample faces."""
    return C.eda(
        load_config(
            C.EdaConfig, config, data=data, out=out, format=format, target=target, drop_missing=drop_missing, seed=seed
        )
    )


@command()
def train(
    data: DataArg = None,
    out: _out("Run folder.") = None,
    model: Annotated[str | None, typer.Option(help="Registered model: attr_net, small_cnn or dlib_resnet.")] = None,
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
    ] = None,  # fmt: skip
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
) -> C.TrainResult:
    """Train a face-attribute model; the run folder can then be evaluated or used to predict."""
    from rostro.distributed import finish

    try:
        return C.train(
            load_config(
                C.TrainConfig,
                config,
                data=data,
                out=out,
                model=model,
                labels=labels.split(",") if labels else None,
                epochs=epochs,
                steps_per_epoch=steps_per_epoch,
                batch_size=batch_size,
                lr=lr,
                input_size=input_size,
                imbalance=imbalance,
                monitor=monitor,
                patience=patience,
                init_from=init_from,
                freeze_trunk=freeze_trunk,
                unfreeze_after=unfreeze_after,
                unfreeze_blocks=unfreeze_blocks,
                exclude=exclude or None,
                soft_labels=soft_labels,
                resume=resume,
                threads=threads,
                compile=compile,
                chips=chips,
                seed=seed,
                drop_missing=drop_missing,
            )
        )
    finally:
        finish()


@command("train-multitask")
def train_multitask(
    out: _out("Run folder.") = None,
    epochs: Annotated[int | None, typer.Option(help="Epochs.")] = None,
    limit: Annotated[int | None, typer.Option(help="Faces per source and split, for a quick check.")] = None,
    seed: SeedOpt = None,
    config: Annotated[
        Path | None, typer.Option("--config", "-c", help="YAML of sources and schedule (configs/model_v2.yaml).")
    ] = None,
) -> C.MultiTaskResult:
    """Heads for attributes and age on dlib's face network (frozen or fine-tuned), trained on several labelled
    sets at once: one network per face."""
    return C.train_multitask(load_config(C.MultiTaskConfig, config, out=out, epochs=epochs, limit=limit, seed=seed))


@command()
def evaluate(
    run: Annotated[str | None, typer.Argument(help="Run folder from `rostro train`.")] = None,
    split: Annotated[str | None, typer.Option(help="train, validation or test (default test).")] = None,
    data: Annotated[str | None, typer.Option(help="Dataset path, when it moved since training.")] = None,
    out: Annotated[str | None, typer.Option(help="Report folder (default RUN/eval-SPLIT).")] = None,
    embeddings: Annotated[
        str | None, typer.Option(help="dlib embeddings of the data, to score a fused run (`rostro fuse`).")
    ] = None,
    config: ConfigOpt = None,
) -> C.EvaluateResult:
    """Score a trained run on a split: metrics.json and an HTML report with plots."""
    return C.evaluate(
        load_config(C.EvaluateConfig, config, run=run, split=split, data=data, out=out, embeddings=embeddings)
    )


@command()
def predict(
    target: Annotated[str | None, typer.Argument(help="An image, or a folder of images.")] = None,
    model: RunOpt = None,
    out: _out("CSV (one row per image) or JSON (all faces).") = None,
    aligned: AlignedOpt = None,
    runtime: Annotated[str | None, typer.Option(help="onnx (default) or torch.")] = None,
    annotate: Annotated[str | None, typer.Option("--annotate", help="Folder for images with boxes drawn.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per batch (default 64).")] = None,
    workers: Annotated[
        int | None, typer.Option(help="Processes for a folder (default: one per core, up to 4).")
    ] = None,
    config: ConfigOpt = None,
) -> C.PredictResult | None:
    """Attributes of the largest face in each image; unreadable images and missing faces are rows too."""
    return C.predict(
        load_config(
            C.PredictConfig,
            config,
            target=target,
            model=model,
            out=out,
            aligned=aligned,
            runtime=runtime,
            annotate=annotate,
            batch_size=batch_size,
            workers=workers,
        )
    )


@command()
def analyze(
    photo: Annotated[str | None, typer.Argument(help="A photo (default: a portrait that matplotlib ships).")] = None,
    model: RunOpt = None,
    out: _out("Folder for the annotated image and JSON.") = None,
    config: ConfigOpt = None,
) -> C.AnalyzeResult:
    """Detect every face in one photo and list its attributes with probabilities."""
    return C.analyze(load_config(C.AnalyzeConfig, config, photo=photo, model=model, out=out))


@command()
def export(
    run: Annotated[str | None, typer.Argument(help="Run folder.")] = None,
    format: Annotated[str | None, typer.Option(help="Only onnx for now.")] = None,
    out: Annotated[str | None, typer.Option(help="Output file (default RUN/model.onnx).")] = None,
    config: ConfigOpt = None,
) -> C.ExportResult:
    """Export a run's model for onnxruntime."""
    return C.export(load_config(C.ExportConfig, config, run=run, format=format, out=out))


@command()
def embed(
    data: DataArg = None,
    out: _out("Parquet file; a re-run skips images already in it (default embeddings.parquet).") = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Use this run's features instead of dlib's.")
    ] = None,
    aligned: AlignedOpt = None,
    workers: Annotated[int | None, typer.Option(help="Processes (default: cores).")] = None,
    chunk: Annotated[
        int | None, typer.Option(help="Images per task; progress is saved every 20 tasks or minute.")
    ] = None,
    pick: Annotated[
        str | None, typer.Option(help="Which face of a photo: largest, or centre (pre-cropped sets).")
    ] = None,
    flip: Annotated[bool | None, typer.Option("--flip", help="Average each face with its mirror image.")] = None,
    jitter: Annotated[
        int | None, typer.Option(help="Average dlib's N jittered copies of each chip (N x slower).")
    ] = None,
    face_network: Annotated[
        str | None, typer.Option(help="Run dlib's face network with onnx (default), torch, or dlib itself (to check).")
    ] = None,
    drop_missing: DropOpt = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
) -> C.EmbedResult | None:
    """Face embeddings for every image of a dataset or any folder of photos, with labels, groups and identities."""
    return C.embed(
        load_config(
            C.EmbedConfig,
            config,
            data=data,
            out=out,
            model=model,
            aligned=aligned,
            workers=workers,
            chunk=chunk,
            pick=pick,
            flip=flip,
            jitter=jitter,
            face_network=face_network,
            drop_missing=drop_missing,
            seed=seed,
        )
    )


@command()
def fuse(
    run: Annotated[str | None, typer.Argument(help="Run folder from `rostro train`.")] = None,
    embeddings: Annotated[
        str | None, typer.Argument(help="dlib embeddings of the run's data (`rostro embed --aligned`).")
    ] = None,
    data: Annotated[str | None, typer.Option(help="Dataset path, when it moved since training.")] = None,
    config: ConfigOpt = None,
) -> C.FuseResult:
    """Add heads on dlib embeddings to a run and choose, per attribute, how much of CNN and embedding."""
    return C.fuse(load_config(C.FuseConfig, config, run=run, embeddings=embeddings, data=data))


GroupOpt = Annotated[list[str] | None, typer.Option("--group", help="Group column(s); repeat for intersections.")]


@command()
def audit(
    embeddings: EmbArg = None,
    label: Annotated[str | None, typer.Option(help="Label column to predict, e.g. Male.")] = None,
    group: GroupOpt = None,
    cross_group: Annotated[
        str | None, typer.Option(help="Group column of the cross-group matrix (default: first).")
    ] = None,
    classifier: Annotated[str | None, typer.Option(help="logistic (default) or mlp.")] = None,
    out: _out("Report folder.") = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
) -> C.EmbeddingAuditResult:
    """Audit a classifier on embeddings per group: metrics with intervals, gaps, cross-group matrix."""
    return C.audit(
        load_config(
            C.AuditConfig,
            config,
            embeddings=embeddings,
            label=label,
            groups=group or None,
            cross_group=cross_group,
            classifier=classifier,
            out=out,
            seed=seed,
        )
    )


@command("audit-model")
def audit_model(
    data: Annotated[
        str | None, typer.Argument(help="Labelled dataset with group columns (e.g. a UTKFace folder).")
    ] = None,
    model: RunOpt = None,
    label: Annotated[str | None, typer.Option(help="Attribute to audit (default Male).")] = None,
    group: GroupOpt = None,
    mitigate: Annotated[
        str | None, typer.Option(help="Per-group thresholds: equalized_odds (default), demographic_parity or none.")
    ] = None,
    mitigate_group: Annotated[str | None, typer.Option(help="Group column for thresholds (default: first).")] = None,
    aligned: AlignedOpt = None,
    drop_missing: DropOpt = None,
    out: _out("Report folder.") = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
) -> C.ModelAuditResult:
    """Audit a trained model (the shipped one by default) per group, then try per-group thresholds."""
    return C.audit_model(
        load_config(
            C.ModelAuditConfig,
            config,
            data=data,
            model=model,
            label=label,
            groups=group or None,
            mitigate=mitigate,
            mitigate_group=mitigate_group,
            aligned=aligned,
            drop_missing=drop_missing,
            out=out,
            seed=seed,
        )
    )


def _is_lfw(config: Path | None, lfw: str | None) -> bool:
    """``verify-eval`` runs LFW's protocol for ``--lfw`` or a YAML config that names LFW's ``root``."""
    if lfw is not None or config is None:
        return lfw is not None
    loaded = yaml.safe_load(config.read_text(encoding="utf-8"))
    return isinstance(loaded, dict) and "root" in loaded


@command("verify-eval")
def verify_eval(
    embeddings: EmbArg = None,
    lfw: Annotated[str | None, typer.Option(help="LFW folder (lfw/ and pairs.txt): run the 10-fold protocol.")] = None,
    group: Annotated[str | None, typer.Option(help="Group column for per-group FAR/FRR.")] = None,
    metric: Annotated[str | None, typer.Option(help="cosine (default) or euclidean.")] = None,
    flip: Annotated[
        bool | None, typer.Option("--flip/--no-flip", help="LFW: mirror-image averaging (default on).")
    ] = None,
    jitter: Annotated[
        int | None, typer.Option(help="LFW: average dlib's N jittered copies of each chip (N x slower).")
    ] = None,
    refine_jitter: Annotated[
        int | None, typer.Option(help="LFW: re-score pairs near the threshold with N jitters.")
    ] = None,
    refine_band: Annotated[
        float | None, typer.Option(help="LFW: how near the threshold a pair is refined (default 0.02; 2: every pair).")
    ] = None,
    target_far: Annotated[
        float | None, typer.Option(help="FAR at which the global threshold is set (default 1e-3).")
    ] = None,
    max_impostor: Annotated[int | None, typer.Option(help="Cap on sampled impostor pairs (default 200,000).")] = None,
    out: _out("Report folder.") = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
) -> C.VerifyEvalResult | C.LfwResult:
    """Verification figures: FAR/FRR, EER, ROC/DET, FRR at target FARs, per-group rates; or LFW's protocol."""
    if _is_lfw(config, lfw):
        return C.lfw_eval(
            load_config(
                C.LfwConfig,
                config,
                root=lfw,
                metric=metric,
                flip=flip,
                jitter=jitter,
                refine_jitter=refine_jitter,
                refine_band=refine_band,
                out=out,
            )
        )
    return C.verify_eval(
        load_config(
            C.VerifyEvalConfig,
            config,
            embeddings=embeddings,
            group=group,
            metric=metric,
            target_far=target_far,
            max_impostor=max_impostor,
            out=out,
            seed=seed,
        )
    )


@command()
def verify(
    image_a: Annotated[str | None, typer.Argument(help="First photo.")] = None,
    image_b: Annotated[str | None, typer.Argument(help="Second photo.")] = None,
    threshold: Annotated[float | None, typer.Option(help="Accept at or above this cosine similarity.")] = None,
    threshold_file: Annotated[str | None, typer.Option(help="threshold.json from `rostro verify-eval`.")] = None,
    config: ConfigOpt = None,
) -> C.VerifyResult:
    """Are two photos the same person? Cosine similarity of dlib embeddings against a threshold."""
    return C.verify(
        load_config(
            C.VerifyConfig, config, image_a=image_a, image_b=image_b, threshold=threshold, threshold_file=threshold_file
        )
    )


@command()
def tsne(
    embeddings: EmbArg = None,
    colour: Annotated[str | None, typer.Option(help="Column that colours the points.")] = None,
    marker: Annotated[str | None, typer.Option(help="Column that picks the marker.")] = None,
    method: Annotated[str | None, typer.Option(help="tsne (default), or umap when umap-learn is installed.")] = None,
    out: _out("Output folder.") = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
) -> C.TsneResult:
    """A t-SNE (or UMAP) map of embeddings coloured by group and marked by label."""
    return C.tsne(
        load_config(
            C.TsneConfig, config, embeddings=embeddings, colour=colour, marker=marker, method=method, out=out, seed=seed
        )
    )


@command()
def synth(
    out: Annotated[str | None, typer.Argument(help="Folder to write.")] = None,
    n: Annotated[int | None, typer.Option(help="Number of faces (default 800).")] = None,
    layout: Annotated[str | None, typer.Option(help="celeba (default) or folders.")] = None,
    attribute: Annotated[str | None, typer.Option(help="Class attribute for the folders layout.")] = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
) -> C.SynthResult:
    """Draw synthetic faces with known attributes, in CelebA or folder-per-class layout."""
    return C.synth(load_config(C.SynthConfig, config, out=out, n=n, layout=layout, attribute=attribute, seed=seed))


@command()
def serve(
    model: RunOpt = None,
    host: Annotated[
        str | None, typer.Option(help="Address to bind (default 127.0.0.1); other than loopback needs an API key.")
    ] = None,
    port: Annotated[int | None, typer.Option(help="Port (default 8000).")] = None,
    api_key: Annotated[
        str | None, typer.Option(help="Key clients send as X-API-Key (or set ROSTRO_API_KEY).", show_default=False)
    ] = None,
    cors_origin: Annotated[
        list[str] | None, typer.Option(help="Allowed browser origin; repeat (default: none).")
    ] = None,
    max_upload_mb: Annotated[float | None, typer.Option(help="Largest upload accepted (default 10).")] = None,
    max_queue: Annotated[int | None, typer.Option(help="Requests allowed to wait; more get 503 (default 32).")] = None,
    config: ConfigOpt = None,
) -> None:
    """Serve the REST API and the web page (http://HOST:PORT/, API docs at /docs)."""
    C.serve(
        load_config(
            C.ServeConfig,
            config,
            model=model,
            host=host,
            port=port,
            api_key=api_key,
            cors_origins=cors_origin or None,
            max_upload_mb=max_upload_mb,
            max_queue=max_queue,
        )
    )


def run() -> None:
    """Entry point for ``python -m rostro``."""
    app(prog_name="rostro")


if __name__ == "__main__":
    sys.exit(run())
