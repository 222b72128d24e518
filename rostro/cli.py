"""The ``rostro`` command, made from :mod:`rostro.commands`: each command's flags are its config
dataclass's fields.

Every flag defaults to None, meaning "not given": the config dataclass (or the YAML file given with
``--config``) holds the one set of defaults, shown in each flag's help, and a given flag overrides
it. Errors are caught in one place (:func:`_invoke`) and printed as one line with exit code 2; a
result is printed through its ``lines()``.

Start-up is kept short: each command is registered by name with a function that makes its
:class:`Spec`, and :func:`run` builds the app with only the command the arguments name, so
``rostro video`` imports only what ``video`` needs. ``app``, with every command, is built on first
use (``rostro --help`` and an unknown command get it too).
"""

from __future__ import annotations

import dataclasses
import inspect
import logging
import sys
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from rostro import commands as C  # loads each command's module on first use
from rostro._version import __version__
from rostro.config import load_config, read_yaml
from rostro.errors import RostroError

if TYPE_CHECKING:
    from rostro.commands._base import CommandResult

console = Console()
err = Console(stderr=True)

SHORT = {"out": "-o", "model": "-m"}
KEYWORD = inspect.Parameter.KEYWORD_ONLY
HELP = {  # fields shared by several commands; a command's own text wins
    "data": "Dataset: CelebA folder, folder per class, UTKFace folder or CSV; none: synthetic faces.",
    "format": "auto, celeba, folders, manifest or utkface.",
    "drop_missing": "Leave out listed images absent from disk.",
    "seed": "Random seed.",
    "model": "Run folder, or a shipped model: default (v4), v4, v3, v2, v1, or fast (small, for bulk --aligned crops).",
    "aligned": "Images are CelebA-aligned crops: skip detection.",
    "embeddings": "Parquet file from `rostro embed`.",
    "groups": "Group column(s); repeat for intersections.",
    "threads": "CPU threads; none: all cores.",
    "workers": "Processes; none: one per core, up to 4.",
}


@dataclass(frozen=True)
class Spec:
    """How a command's config dataclass(es) appear on the command line."""

    configs: tuple[type, ...]
    run: Callable[[Any], CommandResult | None]
    args: tuple[str, ...] = ()  # fields given as positional arguments
    help: dict[str, str] = field(default_factory=dict)
    flags: dict[str, str] = field(default_factory=dict)  # field -> flag, where not --field-name
    comma: tuple[str, ...] = ()  # list fields that also take comma-separated values
    choose: Callable[[dict, Path | None], type] | None = None  # which config, for a command with several


def _cli_type(hint: Any) -> Any:
    """The flag's type for a field's type hint; None for what only YAML can hold (mappings)."""
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if typing.get_origin(hint) in (typing.Union, types.UnionType):
        return _cli_type(args[0]) if len(args) == 1 else None
    if typing.get_origin(hint) is list:
        return hint if args and args[0] in (str, int, float) else None
    if typing.get_origin(hint) is tuple:
        return hint
    return hint if hint in (str, int, float, bool) else None


def _default(f: dataclasses.Field) -> str:
    if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
        return ""
    value = f.default if f.default is not dataclasses.MISSING else f.default_factory()
    return "" if value in (None, []) else f" (default {value})"


def _parameters(spec: Spec) -> list[inspect.Parameter]:
    seen: dict[str, inspect.Parameter] = {}
    for cls in spec.configs:
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind = _cli_type(hints[f.name])
            if kind is None or f.name in seen:
                continue
            text = spec.help.get(f.name, HELP.get(f.name, f"The config key {f.name}.")) + _default(f)
            if f.name in spec.args:
                info = typer.Argument(help=text, show_default=False)
            else:
                flag = _flag(spec, f.name)
                if kind is bool:
                    flag = f"{flag}/--no-{flag[2:]}"
                info = typer.Option(flag, *([SHORT[f.name]] if f.name in SHORT else []), help=text, show_default=False)
            annotation = Annotated[kind | None, info]
            seen[f.name] = inspect.Parameter(f.name, KEYWORD, default=None, annotation=annotation)
    config = typer.Option("--config", "-c", help="YAML file of options; flags override it.", show_default=False)
    seen["config"] = inspect.Parameter("config", KEYWORD, default=None, annotation=Annotated[Path | None, config])
    order = [seen.pop(a) for a in spec.args]  # positional arguments first, in the order given
    return order + list(seen.values())


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


def _flag(spec: Spec, name: str) -> str:
    return spec.flags.get(name, "--" + name.replace("_", "-"))


def _shown(spec: Spec, name: str) -> str:
    """How a config field is given on the command line: ``--flag``, or the argument's NAME."""
    return name.upper() if name in spec.args else _flag(spec, name)


def _invoke(spec: Spec, values: dict[str, Any]) -> None:
    """Build the config from YAML and flags, run the command, print its result: the one error handler."""
    config = values.pop("config")
    for name in spec.comma:
        if values.get(name):
            values[name] = [part for v in values[name] for part in v.split(",") if part]
    try:
        cls = spec.choose(values, config) if spec.choose else spec.configs[0]
        names = {f.name for f in dataclasses.fields(cls)}
        stray = [_shown(spec, k) for k, v in values.items() if v is not None and k not in names]
        if stray:
            raise ValueError(f"{', '.join(stray)}: not an option of {cls.__name__}; leave it out")
        shown = partial(_shown, spec)
        result = spec.run(load_config(cls, config, shown=shown, **{k: v for k, v in values.items() if k in names}))
    except (RostroError, ValueError, OSError, KeyError) as exc:
        _fail(exc)
    finally:
        _finish_distributed()
    for line in result.lines() if result is not None else []:
        console.print(line, markup=False, highlight=False, soft_wrap=True)


def _finish_distributed() -> None:
    """A command run under torchrun leaves its process group (only a command that loaded torch can be in one)."""
    if "torch.distributed" in sys.modules:
        from rostro.distributed import finish

        finish()


COMMANDS: dict[str, tuple[Callable[[], Spec], str]] = {}  # name -> (makes its Spec, help), in --help's order


def add(name: str, spec: Callable[[], Spec], help: str) -> None:
    """Register the command ``name``; ``spec`` makes its :class:`Spec` (importing its module) when it is built."""
    COMMANDS[name] = (spec, help)


def _command(spec: Spec, help: str) -> Callable[..., None]:
    """The function typer calls for ``spec``: its signature holds the flags."""

    def command(**values: Any) -> None:
        _invoke(spec, values)

    command.__signature__ = inspect.Signature(_parameters(spec))  # type: ignore[attr-defined]
    command.__annotations__ = {}
    command.__doc__ = help
    return command


def main(verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Show debug logs.")] = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err, show_path=False, show_time=False)],
    )


def version() -> None:
    """Print rostro's version."""
    console.print(f"rostro {__version__}")


def _lfw_or_pairs(values: dict, config: Path | None) -> type:
    """``verify-eval`` runs LFW's protocol for ``--lfw`` or a YAML config that names LFW's ``root``."""
    if values.get("root") is not None:
        return C.LfwConfig
    loaded = read_yaml(config) if config is not None else None
    return C.LfwConfig if isinstance(loaded, dict) and "root" in loaded else C.VerifyEvalConfig


def _verify_eval(cfg: C.VerifyEvalConfig | C.LfwConfig) -> C.VerifyEvalResult | C.LfwResult:
    return C.lfw_eval(cfg) if isinstance(cfg, C.LfwConfig) else C.verify_eval(cfg)


add("eda", lambda: Spec((C.EdaConfig,), C.eda, args=("data",), help={
    "out": "Report folder.", "target": "Label whose class balance is shown; none: Male.",
}), "Explore a dataset's training split: balance, prevalence, correlations, sample faces.")  # fmt: skip
add("train", lambda: Spec((C.TrainConfig,), C.train, args=("data",), comma=("labels",), help={
    "out": "Run folder.", "model": "Registered model: attr_net, small_cnn or dlib_resnet.",
    "labels": "Labels to learn (repeat, or comma-separated); none: all.",
    "input_size": "Input size in px; none: the model's (with --init-from, the trunk's).",
    "init_from": "Run folder to start from (transfer learning).", "freeze_trunk": "Train only the new head.",
    "unfreeze_after": "Epoch from which the last trunk blocks train too.",
    "exclude": "Folder or id list whose images and identities are left out.",
    "soft_labels": "CSV/Parquet of extra images with a teacher's probabilities (distillation).",
    "resume": "Continue the run in --out from its last epoch.",
    "chips": "Train on the face network's 150-px chips: aligned, photo or centre (dlib_resnet trunks).",
    "compile": "torch.compile the model (measure first).",
}), "Train a face-attribute model; the run folder can then be evaluated or used to predict.")  # fmt: skip
add("train-multitask", lambda: Spec((C.MultiTaskConfig,), C.train_multitask, help={
    "out": "Run folder.", "limit": "Faces per source and split, for a quick check.",
    "pack_to": "Write the training and validation inputs as a pack (to train elsewhere with --pack) and stop.",
    "pack": "Train from a pack written by --pack-to instead of the sources' files.",
    "device": "auto (the GPU when there is one), cpu or cuda.",
}), "Heads for attributes and age on dlib's face network, trained on several labelled sets at once "
    "(sources and schedule in --config, e.g. configs/model_v2.yaml).")  # fmt: skip
add("evaluate", lambda: Spec((C.EvaluateConfig,), C.evaluate, args=("run",), help={
    "run": "Run folder.", "split": "train, validation or test.", "data": "Dataset path, when it moved since training.",
    "out": "Report folder; none: RUN/eval-SPLIT.", "embeddings": "dlib embeddings of the data, to score a fused run.",
}), "Score a trained run on a split: metrics.json and an HTML report with plots.")  # fmt: skip
add("predict", lambda: Spec((C.PredictConfig,), C.predict, args=("target",), help={
    "target": "An image, or a folder of images.", "out": "CSV (one row per image, resumable) or JSON (all faces).",
    "runtime": "onnx or torch.", "annotate": "Folder for images with boxes drawn.", "batch_size": "Images per batch.",
}), "Attributes of the largest face in each image; unreadable images and missing faces are rows too.")  # fmt: skip
add("analyze", lambda: Spec((C.AnalyzeConfig,), C.analyze, args=("photo",), help={
    "photo": "A photo; none: a portrait that matplotlib ships.", "out": "Folder for the annotated image and JSON.",
    "explain": "Add a saliency map of each attribute called positive.",
}), "Detect every face in one photo and list its attributes with probabilities.")  # fmt: skip
add("explain", lambda: Spec((C.ExplainConfig,), C.explain, args=("target",), flags={"attrs": "--attr"},
                            comma=("attrs",), help={
    "target": "An image, or a folder of images.", "attrs": "Attribute to explain; repeat (none: every attribute).",
    "out": "Folder for DIR/<stem>_<attr>.png (overlay) and .npy (the map, the photo's size).",
    "layer": "auto (a block fine enough to locate cues) or last (classic Grad-CAM).",
}), "Which pixels made each attribute: Grad-CAM maps of the largest face, over the photo.")  # fmt: skip
add("export", lambda: Spec((C.ExportConfig,), C.export, args=("run",), help={
    "run": "Run folder or shipped name.", "format": "Only onnx for now.",
    "out": "Output file; none: RUN/model.onnx, or with --int8 the file predict uses beside the run.",
    "int8": "Quantize to int8 (about 2x faster on a CPU; measure its accuracy before shipping it).",
    "calibrate": "Aligned crops (a folder, or a .txt of paths) to measure each layer's range on.",
    "calibrate_limit": "At most this many calibration crops, drawn with --seed.",
}), "Export a run's model for onnxruntime.")  # fmt: skip
add("embed", lambda: Spec((C.EmbedConfig,), C.embed, args=("data",), help={
    "out": "Parquet file; a re-run skips images already in it.", "model": "Use this run's features instead of dlib's.",
    "chunk": "Images per task; progress is saved every 20 tasks or minute.",
    "pick": "Which face of a photo: largest, or centre (pre-cropped sets).",
    "flip": "Average each face with its mirror image (lower verification error); --no-flip: dlib's own vector.",
    "jitter": "Average dlib's N jittered copies of each chip.",
    "face_network": "Run dlib's face network with onnx, torch, or dlib itself (to check).",
}), "Face embeddings for every image of a dataset or a folder of photos, with labels, groups, identities.")  # fmt: skip
add("fuse", lambda: Spec((C.FuseConfig,), C.fuse, args=("run", "embeddings"), help={
    "run": "Run folder from `rostro train` (or train-multitask, with --partner).",
    "embeddings": "dlib embeddings of the run's data.", "data": "Dataset path, when it moved since training.",
    "partner": "Instead of embeddings: a chip run (e.g. v3) to mix in per attribute and for age.",
}), "Mix a run's CNN with heads on dlib embeddings or a partner run, per attribute, chosen on validation.")  # fmt: skip
add("audit", lambda: Spec((C.AuditConfig,), C.audit, args=("embeddings",), flags={"groups": "--group"}, help={
    "label": "Label column to predict, e.g. Male.",
    "cross_group": "Group column of the cross-group matrix; none: first.",
    "classifier": "logistic or mlp.", "out": "Report folder.",
}), "Audit a classifier on embeddings per group: metrics with intervals, gaps, cross-group matrix.")  # fmt: skip
add("audit-model", lambda: Spec((C.ModelAuditConfig,), C.audit_model, args=("data",), flags={"groups": "--group"},
                                help={
    "data": "Labelled dataset with group columns (e.g. a UTKFace folder).", "label": "Attribute to audit.",
    "mitigate": "Per-group thresholds: equalized_odds, demographic_parity or none.",
    "mitigate_group": "Group column for thresholds; none: the first.", "out": "Report folder.",
}), "Audit a trained model (the shipped one by default) per group, then try per-group thresholds.")  # fmt: skip
add("verify-eval", lambda: Spec((C.VerifyEvalConfig, C.LfwConfig), _verify_eval, args=("embeddings",),
                                flags={"root": "--lfw"}, choose=_lfw_or_pairs, help={
    "root": "LFW folder (lfw/ and pairs.txt): run the 10-fold protocol.",
    "group": "Group column for per-group FAR/FRR.",
    "metric": "cosine or euclidean.", "flip": "LFW: mirror-image averaging.",
    "jitter": "LFW: average dlib's N jittered copies of each chip.",
    "refine_jitter": "LFW: re-score pairs near the threshold with N jitters.",
    "refine_band": "LFW: how near the threshold a pair is refined (2: every pair).",
    "target_far": "FAR at which the global threshold is set.", "out": "Report folder.",
}), "Verification figures: FAR/FRR, EER, ROC/DET, FRR at target FARs, per-group rates; or LFW's protocol.")  # fmt: skip
add("verify", lambda: Spec((C.VerifyConfig,), C.verify, args=("image_a", "image_b"), help={
    "image_a": "First photo.", "image_b": "Second photo.", "threshold": "Accept at or above this cosine similarity.",
    "threshold_file": "threshold.json from `rostro verify-eval`.",
    "flip": "Average each face with its mirror image; --no-flip: dlib's own vectors (and their threshold).",
}), "Are two photos the same person? Cosine similarity of dlib embeddings against a threshold.")  # fmt: skip
add("tsne", lambda: Spec((C.TsneConfig,), C.tsne, args=("embeddings",), help={
    "colour": "Column that colours the points.", "marker": "Column that picks the marker.",
    "method": "tsne, or umap when umap-learn is installed.", "out": "Output folder.",
}), "A t-SNE (or UMAP) map of embeddings coloured by group and marked by label.")  # fmt: skip
add("synth", lambda: Spec((C.SynthConfig,), C.synth, args=("out",), help={
    "out": "Folder to write.", "n": "Number of faces.", "layout": "celeba or folders.",
    "attribute": "Class attribute for the folders layout.",
}), "Draw synthetic faces with known attributes, in CelebA or folder-per-class layout.")  # fmt: skip
add("index", lambda: Spec((C.IndexConfig,), C.index, args=("source",), comma=("remove",), help={
    "source": "Folder with a sub-folder of photos per person, a folder of photos, or a Parquet from `rostro embed`.",
    "gallery": "Gallery: a folder, milvus://HOST:PORT/COLLECTION, or milvus:PATH.db/COLLECTION (Milvus Lite).",
    "kind": "people, photos or parquet; auto: from the source.", "name_column": "Parquet: the column naming each face.",
    "remove": "Remove this person's faces (repeat, or comma-separated).",
    "far": "False-accept rate the identification threshold is chosen for, on the gallery's own pairs (default: the "
           "gallery's; 0.001 for a new gallery).",
    "chunk": "Photos per task; what is done is saved every 20 tasks or minute.",
    "flip": "Average each face with its mirror image (default: the gallery's; on for a new gallery).",
    "jitter": "Average dlib's N jittered copies of each chip (default: the gallery's; 0 for a new gallery).",
    "progress": "Show a progress bar.",
}), "Add faces to a gallery (only photos not in it yet), or remove a person's, for identify and search.")  # fmt: skip
add("identify", lambda: Spec((C.IdentifyConfig,), C.identify, args=("photos",), help={
    "photos": "A photo, a folder of photos, or a Parquet from `rostro embed`.",
    "gallery": "Gallery from `rostro index`.", "k": "Candidates per face.",
    "out": "CSV: one row per face, with name, similarity and candidates.",
    "far": "Choose the threshold for this false-accept rate; none: the gallery's.",
    "rerank": "Rank people with the collection's other faces too (k-reciprocal re-ranking).",
    "threshold": "Cosine similarity at or above which a face is named (overrides --far).",
    "name_column": "Parquet: the column naming each face.", "progress": "Show a progress bar.",
}), "Name every face of a collection from a gallery; a face below the threshold is unknown.")  # fmt: skip
add("search", lambda: Spec((C.SearchConfig,), C.search, args=("photo",), help={
    "photo": "A photo.", "gallery": "Gallery from `rostro index`.", "k": "Matches per face.",
}), "Print the best gallery matches of each face of a photo.")  # fmt: skip
add("cluster", lambda: Spec((C.ClusterConfig,), C.cluster, args=("photos",), help={
    "photos": "A folder of photos, or a Parquet from `rostro embed`.", "out": "Folder for clusters.csv and index.html.",
    "method": "reranked (average linkage counting shared neighbours), agglomerative or whispers (Chinese whispers).",
    "threshold": "Distance between faces of one person (reranked: Euclidean with shared neighbours); none: default.",
    "name_column": "Parquet: a column copied to the CSV.", "progress": "Show a progress bar.",
}), "Group the faces of a collection by person, without labels: clusters.csv and an HTML page.")  # fmt: skip
add("video", lambda: Spec((C.VideoConfig,), C.video, args=("clip",), help={
    "clip": "A video file (anything FFmpeg reads).",
    "out": "Folder for frames.csv, tracks.csv, annotated.mp4 and report.html.",
    "every": "Detect faces on every n-th frame (and at each shot cut); track them in between.",
    "max_seconds": "Analyse only the clip's first seconds.",
    "gallery": "Name each track from this gallery (`rostro index`).",
    "detector": "blazeface, hog, cnn or auto (auto tries dlib's CNN on faceless frames: seconds a frame).",
    "runtime": "onnx or torch.", "annotate": "Write annotated.mp4.", "report": "Write report.html.",
    "progress": "Show a progress bar.",
}), "Track every face of a clip: attributes and age per track, frames.csv, tracks.csv, annotated.mp4, a report; "
    "a killed run resumes.")  # fmt: skip
add("serve", lambda: Spec((C.ServeConfig,), C.serve, flags={"cors_origins": "--cors-origin"}, help={
    "host": "Address to bind; other than loopback needs an API key.",
    "api_key": "Key clients send as X-API-Key (or set ROSTRO_API_KEY).",
    "cors_origins": "Allowed browser origin; repeat.", "max_upload_mb": "Largest upload accepted.",
    "max_queue": "Requests allowed to wait; more get 503.",
    "gallery": "Gallery for /identify (and /gallery additions, which need an API key).",
    "verify_threshold": "Cosine similarity /verify accepts at; none: the one measured for --flip or --no-flip.",
    "flip": "/embed and /verify average each face with its mirror image; --no-flip: dlib's own vectors.",
}), "Serve the REST API and the web page (http://HOST:PORT/, API docs at /docs).")  # fmt: skip


def build_app(names: Sequence[str] | None = None) -> typer.Typer:
    """The ``rostro`` app with the commands ``names`` (and ``version``); None: every command."""
    app = typer.Typer(
        help="rostro: train, evaluate, audit and serve face-attribute classifiers, offline.",
        no_args_is_help=True,
        add_completion=False,
        pretty_exceptions_enable=False,
    )
    app.callback()(main)
    app.command()(version)
    for name in COMMANDS if names is None else names:
        spec, help = COMMANDS[name]
        app.command(name)(_command(spec(), help))
    return app


def _named(args: Sequence[str]) -> list[str] | None:
    """The commands :func:`build_app` needs for ``args``: the one they name (the first argument that is not
    an option: ``main``'s take no value); None (all) for none, an unknown one or ``--help`` before it."""
    for arg in args:
        if arg == "--help":
            return None
        if not arg.startswith("-"):
            return [arg] if arg in COMMANDS else [] if arg == "version" else None
    return None


def run() -> None:
    """Entry point of the ``rostro`` command and ``python -m rostro``: builds only the command named."""
    build_app(_named(sys.argv[1:]))(prog_name="rostro")


def __getattr__(name: str) -> Any:
    """``app``, with every command, built on first use (by tests through typer's CliRunner, for one)."""
    if name != "app":
        raise AttributeError(f"module 'rostro.cli' has no attribute {name!r}")
    globals()["app"] = build_app()
    return globals()["app"]


if __name__ == "__main__":
    sys.exit(run())
