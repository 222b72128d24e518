"""``rostro predict`` (attributes of every image of a folder, to CSV or JSON), ``rostro analyze`` (one
photo, every face) and ``rostro export`` (a run to ONNX)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.commands._base import found_line
from rostro.config import save_config
from rostro.data.images import load_image
from rostro.distributed import finish as finish_distributed
from rostro.distributed import init_world, launched
from rostro.errors import RostroError
from rostro.files import atomic_write_text, check_writable, output_names
from rostro.inference import predict as P
from rostro.workers import default_workers


@dataclass
class PredictConfig:
    """Attributes of the largest face in each image of ``target`` (an image or a folder)."""

    target: str
    model: str | None = None  # a run folder; None: the shipped model
    out: str | None = None  # CSV (one row per image, resumable) or JSON (every face); None: print
    aligned: bool = False  # images are CelebA-aligned crops: no detection
    runtime: str = "onnx"
    annotate: str | None = None  # folder for the images with boxes drawn
    batch_size: int = 64
    workers: int | None = None  # processes for a folder; None: one per core, up to 4


@dataclass(kw_only=True)
class PredictResult:
    """The CSV layout's table (one row per image), the per-face results where they were kept, and counts."""

    frame: pd.DataFrame
    out: Path | None
    results: list[P.ImageResult] = field(default_factory=list)
    ranks: int = 1

    def lines(self) -> list[str]:
        head = found_line(self.frame["error"])
        if self.ranks > 1:
            head = head.replace(" images:", f" images from {self.ranks} ranks:", 1)
        if self.out is None:
            return [head, self.frame.to_string(index=False, max_cols=12)]
        return [head, f"Wrote {self.out}"]


def predict(cfg: PredictConfig) -> PredictResult | None:
    """Predict, write ``cfg.out`` (resumable for a CSV) and the config beside it. Under torchrun each
    rank takes a shard and rank 0 merges the one CSV; other ranks return None."""
    out = Path(cfg.out) if cfg.out else None
    if cfg.batch_size < 1:
        raise RostroError(f"batch_size: expected at least 1 image a batch, found {cfg.batch_size}")
    if launched():
        return _predict_sharded(cfg, out)
    paths = P.collect_paths(cfg.target)
    annotated = check_writable(cfg.annotate) if cfg.annotate is not None else None  # before any work
    predictor = P.AttributePredictor(cfg.model, runtime=cfg.runtime)
    workers = cfg.workers or default_workers()
    options = {"aligned": cfg.aligned, "batch_size": cfg.batch_size, "workers": workers}
    results: list[P.ImageResult] = []
    if out is not None and out.suffix.lower() == ".csv" and cfg.annotate is None:
        # resumable: a re-run after a kill skips the images already in the file
        frame = P.predict_table(predictor, paths, out, rewrite=True, **options)
    else:
        results = predictor.predict_paths(paths, **options)
        frame = P.results_frame(results, predictor.labels, predictor.values)
        if out is not None:
            out.parent.mkdir(parents=True, exist_ok=True)
            if out.suffix.lower() == ".json":
                atomic_write_text(out, json.dumps([dataclasses.asdict(r) for r in results], indent=1))
            else:
                atomic_write_text(out, frame.to_csv(index=False))
    if annotated is not None:
        names = output_names([Path(r.path) for r in results], Path(cfg.target))
        for r, name in zip(results, names, strict=True):
            if r.faces and not cfg.aligned:
                P.annotate(load_image(r.path), r, annotated / f"{name}.png")
    if out is not None:
        save_config(cfg, out.with_suffix(".config.yaml"))
    return PredictResult(frame=frame, out=out, results=results)


def _predict_sharded(cfg: PredictConfig, out: Path | None) -> PredictResult | None:
    if out is None or out.suffix.lower() != ".csv":
        raise ValueError("under torchrun, predict needs --out FILE.csv (the ranks' parts are merged into it)")
    try:
        world = init_world()
        predictor = P.AttributePredictor(cfg.model, runtime=cfg.runtime)
        frame = P.predict_sharded(predictor, P.collect_paths(cfg.target), out, world, aligned=cfg.aligned,
                                  batch_size=cfg.batch_size)  # fmt: skip
    finally:
        finish_distributed()
    if frame is None:
        return None
    save_config(cfg, out.with_suffix(".config.yaml"))
    return PredictResult(frame=frame, out=out, ranks=world.size)


@dataclass
class AnalyzeConfig:
    """Every face of one photo (None: a portrait that matplotlib ships), with an annotated copy and JSON."""

    photo: str | None = None
    model: str | None = None
    out: str = "rostro-report/analyze"
    explain: bool = False  # also a saliency map of each attribute the largest face is called positive for


@dataclass(kw_only=True)
class AnalyzeResult:
    result: P.ImageResult
    photo: Path
    out: Path
    sample: bool = False  # no photo was given: matplotlib's portrait was used
    maps: list[Path] = field(default_factory=list)

    def lines(self) -> list[str]:
        lines = [f"No photo given: used {self.photo.name}, which matplotlib ships."] if self.sample else []
        if not self.result.faces:
            lines.append(f"{self.photo}: no face found.")
        for i, face in enumerate(self.result.faces, 1):
            numbers = "".join(f", {n} {v:.0f}" for n, v in face.values.items())
            table = pd.DataFrame(
                [(n, f"{p:.3f}", "yes" if n in face.positive else "")
                 for n, p in sorted(face.probabilities.items(), key=lambda kv: -kv[1])],
                columns=["attribute", "probability", "present"],
            )  # fmt: skip
            lines += [f"Face {i} at {face.box} ({face.detector}{numbers})", table.to_string(index=False)]
        if self.maps:
            lines.append(f"{len(self.maps)} saliency maps (the attributes called positive), e.g. {self.maps[0].name}")
        return [*lines, f"Annotated image and JSON in {self.out}"]


def analyze(cfg: AnalyzeConfig) -> AnalyzeResult:
    """Detect every face in one photo and give its attributes; writes ``result.json`` and an annotated PNG."""
    path = Path(cfg.photo) if cfg.photo else P.sample_photo()
    out = check_writable(cfg.out)
    predictor = P.AttributePredictor(cfg.model)
    img = load_image(path)
    result = predictor.analyze_image(img, name=str(path))
    atomic_write_text(out / "result.json", json.dumps(dataclasses.asdict(result), indent=1))
    P.annotate(img, result, out / (path.stem + ".png"))
    maps = []
    if cfg.explain and result.faces and result.faces[0].positive:
        from rostro.commands.explain import write_maps
        from rostro.inference.explain import Explainer

        face = Explainer(predictor=predictor).explain([img], result.faces[0].positive)[0]
        maps = write_maps(img, face, out, path.stem) if face is not None else []
    save_config(cfg, out / "config.yaml")
    return AnalyzeResult(result=result, photo=path, out=out, sample=cfg.photo is None, maps=maps)


@dataclass
class ExportConfig:
    run: str
    format: str = "onnx"
    out: str | None = None  # None: RUN/model.onnx (with --int8: the file predict picks up beside the run)
    int8: bool = False  # static int8 quantization, activation ranges from --calibrate's aligned crops
    calibrate: str | None = None  # a folder of aligned crops, or a text file of their paths (one a line)
    calibrate_limit: int = 512
    seed: int = 0


@dataclass(kw_only=True)
class ExportResult:
    path: Path

    def lines(self) -> list[str]:
        return [f"Wrote {self.path}"]


def export(cfg: ExportConfig) -> ExportResult:
    """A run's model for onnxruntime."""
    from rostro.models.export import export_onnx
    from rostro.runs import load_run

    if cfg.format != "onnx":
        raise ValueError(f"format must be 'onnx', got {cfg.format!r}")
    if cfg.int8:
        return ExportResult(path=_export_int8(cfg))
    run = P.resolve_run(cfg.run)
    model, info = load_run(run)
    path = export_onnx(model, Path(cfg.out) if cfg.out else run / "model.onnx", input_size=info.input_size)
    return ExportResult(path=path)


def _calibration_paths(cfg: ExportConfig) -> list[Path]:
    if not cfg.calibrate:
        raise RostroError("--int8 needs --calibrate: a folder of aligned crops (or a text file of their paths) like "
                          "those the model will see, to measure each layer's range")  # fmt: skip
    source = Path(cfg.calibrate)
    if source.is_file() and source.suffix == ".txt":
        paths = [Path(line) for line in source.read_text().split("\n") if line.strip()]
    else:
        paths = P.collect_paths(source)
    if not paths:
        raise RostroError(f"--calibrate {source}: no images found; expected a folder of aligned crops or a .txt list")
    if cfg.calibrate_limit < 1:
        raise ValueError(f"calibrate_limit: expected >= 1, found {cfg.calibrate_limit}")
    pick = np.random.default_rng(cfg.seed).permutation(len(paths))[: cfg.calibrate_limit]
    return [paths[i] for i in np.sort(pick)]


def _export_int8(cfg: ExportConfig) -> Path:
    """The run's network quantized to int8, its ranges measured on crops cut as ``predict --aligned`` cuts them."""
    from rostro.data.transforms import to_float_tensor
    from rostro.models.export import quantize_onnx

    paths = _calibration_paths(cfg)
    pred = P.AttributePredictor(cfg.run)
    x = to_float_tensor(pred.aligned_inputs(paths), pred.info.mean, pred.info.std).numpy()
    out = Path(cfg.out) if cfg.out else P.int8_file(pred.run)
    return quantize_onnx(pred.float_onnx_file(), out, x)
