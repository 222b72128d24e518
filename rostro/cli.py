"""The ``rostro`` command: a thin typer layer over :mod:`rostro.api`."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.table import Table

from rostro import __version__, api
from rostro.config import load_config
from rostro.errors import RostroError
from rostro.training.config import TrainConfig

app = typer.Typer(
    help="rostro: train, evaluate, audit and serve face-attribute classifiers, offline.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)

ConfigOpt = Annotated[
    Path | None, typer.Option("--config", "-c", help="YAML file of options; flags override it.")
]
SeedOpt = Annotated[int | None, typer.Option(help="Random seed for splits and sampling.")]


def _fail(exc: BaseException) -> None:
    err.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
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
    data: Annotated[
        str | None,
        typer.Argument(help="CelebA folder, folder per class, or CSV manifest. Default: synthetic faces."),
    ] = None,
    out: Annotated[str | None, typer.Option("--out", "-o", help="Report folder.")] = None,
    format: Annotated[str | None, typer.Option(help="auto, celeba, folders or manifest.")] = None,
    target: Annotated[
        str | None, typer.Option(help="Label whose class balance is shown (default Male).")
    ] = None,
    drop_missing: Annotated[
        bool | None, typer.Option("--drop-missing", help="Leave out listed images absent from disk.")
    ] = None,
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
        summary, html = api.eda(cfg)
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)
    sizes = ", ".join(f"{k} {v:,}" for k, v in summary.split_sizes.items())
    console.print(f"[bold]{summary.n_images:,} images[/] ({sizes}); figures from the train split.")
    if summary.n_identities is not None:
        console.print(
            f"{summary.n_identities:,} identities, "
            f"{summary.identities_in_several_splits} in more than one split."
        )
    if summary.target:
        bal = summary.class_balance
        console.print(
            f"{summary.target}: {bal['positive_rate']:.3f} positive "
            f"({bal['positive']:,} of {summary.n_train:,})"
        )
    table = Table(title="Strongest correlations (train)")
    for col in ("attribute A", "attribute B", "r"):
        table.add_column(col, justify="right" if col == "r" else "left")
    for a, b, r in summary.top_positive[:5] + summary.top_negative[:5]:
        table.add_row(a, b, f"{r:+.3f}")
    if table.row_count:
        console.print(table)
    console.print(f"Report: {html}")


@app.command()
def train(
    data: Annotated[
        str | None, typer.Argument(help="Dataset (CelebA folder, folder per class, CSV). Default: synthetic.")
    ] = None,
    out: Annotated[str | None, typer.Option("--out", "-o", help="Run folder.")] = None,
    model: Annotated[str | None, typer.Option(help="Registered model: attr_net or small_cnn.")] = None,
    labels: Annotated[
        str | None, typer.Option(help="Comma-separated labels to learn (default: all).")
    ] = None,
    epochs: Annotated[int | None, typer.Option(help="Maximum epochs.")] = None,
    batch_size: Annotated[int | None, typer.Option(help="Images per step.")] = None,
    lr: Annotated[float | None, typer.Option(help="Peak learning rate.")] = None,
    input_size: Annotated[int | None, typer.Option(help="Square input size in pixels.")] = None,
    imbalance: Annotated[str | None, typer.Option(help="none, pos_weight or balanced (sampling).")] = None,
    monitor: Annotated[
        str | None, typer.Option(help="Validation figure for best checkpoint and early stop.")
    ] = None,
    patience: Annotated[int | None, typer.Option(help="Epochs without improvement before stopping.")] = None,
    init_from: Annotated[
        str | None, typer.Option(help="Run folder to start from (transfer learning).")
    ] = None,
    freeze_trunk: Annotated[
        bool | None, typer.Option("--freeze-trunk", help="Train only the new head.")
    ] = None,
    unfreeze_after: Annotated[
        int | None, typer.Option(help="Epoch from which the last trunk blocks train too.")
    ] = None,
    exclude: Annotated[
        list[str] | None, typer.Option(help="Folder or id list whose images and identities are left out.")
    ] = None,
    resume: Annotated[
        bool | None, typer.Option("--resume", help="Continue the run in --out from its last epoch.")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads (default: all cores).")] = None,
    seed: SeedOpt = None,
    config: ConfigOpt = None,
) -> None:
    """Train a face-attribute model; the run folder can then be evaluated or used to predict."""
    try:
        cfg = load_config(
            TrainConfig, config, data=data, out=out, model=model,
            labels=labels.split(",") if labels else None, epochs=epochs, batch_size=batch_size, lr=lr,
            input_size=input_size, imbalance=imbalance, monitor=monitor, patience=patience,
            init_from=init_from, freeze_trunk=freeze_trunk, unfreeze_after=unfreeze_after,
            exclude=exclude or None, resume=resume, threads=threads, seed=seed,
        )  # fmt: skip
        result, info, run_dir = api.train(cfg)
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)
    v = info.validation
    console.print(
        f"Best epoch {result.best_epoch} ({info.monitor} {result.best_value:.4f}); "
        f"{result.images_per_second:,.0f} training images/s."
    )
    console.print(
        f"Validation with tuned thresholds: mean accuracy {v['mean_accuracy']:.4f} "
        f"(majority {v['mean_majority_baseline']:.4f}), "
        f"mean balanced accuracy {v['mean_balanced_accuracy']:.4f}"
    )
    console.print(f"Run: {run_dir}")


@app.command()
def evaluate(
    run: Annotated[str, typer.Argument(help="Run folder from `rostro train`.")],
    split: Annotated[str, typer.Option(help="train, validation or test.")] = "test",
    data: Annotated[str | None, typer.Option(help="Dataset path, when it moved since training.")] = None,
    out: Annotated[str | None, typer.Option(help="Report folder (default RUN/eval-SPLIT).")] = None,
) -> None:
    """Score a trained run on a split: metrics.json and an HTML report with plots."""
    try:
        result, html = api.evaluate(api.EvaluateConfig(run=run, split=split, data=data, out=out))
    except (RostroError, ValueError, OSError) as exc:
        _fail(exc)
    table = Table(title=f"{split}: {result.n:,} images, worst attributes first")
    for col in ("attribute", "accuracy", "majority", "balanced acc.", "F1", "ROC-AUC"):
        table.add_column(col, justify="left" if col == "attribute" else "right")
    for name, row in result.table.head(12).iterrows():
        table.add_row(
            name,
            *(
                f"{row[c]:.4f}"
                for c in ("accuracy", "majority_baseline", "balanced_accuracy", "f1", "roc_auc")
            ),
        )
    console.print(table)
    s = result.summary
    console.print(
        f"Mean accuracy {s['mean_accuracy']:.4f} (majority {s['mean_majority_baseline']:.4f}); "
        f"mean balanced accuracy {s['mean_balanced_accuracy']:.4f}"
    )
    console.print(f"Report: {html}")


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


def run() -> None:
    """Entry point for ``python -m rostro``."""
    app(prog_name="rostro")


if __name__ == "__main__":
    sys.exit(run())
