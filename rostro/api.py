"""Commands as plain functions over a config dataclass; the CLI is a thin layer over these."""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import torch

from rostro._version import __version__
from rostro.config import save_config
from rostro.data.loading import DataConfig, open_data
from rostro.data.soft import StackedImages
from rostro.data.stats import DatasetSummary, describe_dataset
from rostro.distributed import barrier, init_world, peer_lost
from rostro.errors import RostroError
from rostro.evaluation.fairness import (
    AuditResult,
    CrossGroupResult,
    audit_predictions,
    cross_group_matrix,
    error_by_group,
)
from rostro.evaluation.metrics import EvaluationResult, evaluate_scores, tune_thresholds
from rostro.evaluation.mitigation import MitigationResult, mitigate_thresholds
from rostro.evaluation.verification import VerificationResult, make_pairs, per_group_rates, verification_curves
from rostro.faces.dlib_resnet import CHIP_SIZE
from rostro.models.calibration import Calibration
from rostro.models.fusion import Fusion, combine
from rostro.models.heads import EmbeddingClassifier
from rostro.models.inference import predict_logits, predict_proba
from rostro.models.registry import create_model, load_weights, model_spec
from rostro.reports.audit import write_audit_report, write_model_audit_report, write_tsne, write_verification_report
from rostro.reports.eda import write_eda_report
from rostro.reports.evaluation import write_evaluation_report, write_training_curves
from rostro.runs import RunInfo, git_commit, load_checkpoint, load_run, split_outputs, write_manifest
from rostro.training.config import TrainConfig
from rostro.training.data import cache_dataset, prepare_dataset, run_dataset, soft_label_data, split_indices
from rostro.training.loop import FitResult, TrainData, fit

log = logging.getLogger(__name__)


@dataclass
class EdaConfig(DataConfig):
    out: str = "rostro-report/eda"
    target: str | None = None
    samples: int = 16


def eda(cfg: EdaConfig) -> tuple[DatasetSummary, Path, list[dict[str, str]]]:
    """Describe a dataset's training split and write the HTML report.

    Returns (summary, html, unreadable): the last lists the images met while drawing the sample
    grid that could not be read, each with its reason.
    """
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
    return summary, html, unreadable


def _threads(n: int | None) -> None:
    """All cores by default, shared among the processes torchrun starts on this machine."""
    per_node = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    torch.set_num_threads(n or max(1, (os.cpu_count() or 1) // per_node))


def _transfer_size(cfg: TrainConfig, base: RunInfo) -> int:
    """The input size of a transfer: the trunk's own, or ``cfg.input_size`` where the network allows it."""
    if cfg.input_size is None or cfg.input_size == base.input_size:
        return base.input_size
    if not model_spec(base.model).any_size:
        raise ValueError(
            f"input_size {cfg.input_size}: {base.model} from {cfg.init_from} was built for {base.input_size} px "
            f"inputs (its dense layer depends on the size); leave input_size unset or set it to {base.input_size}"
        )
    return cfg.input_size


def train(cfg: TrainConfig) -> tuple[FitResult, RunInfo, Path]:
    """Train a model as ``cfg`` says; returns the fit history, the run description and the folder.

    The run folder then holds ``config.yaml``, ``run.json`` (labels, input size, thresholds
    tuned on validation), ``best.pt``, ``last.pt``, ``history.csv`` and ``curves.png``.
    """
    world = init_world()
    run_dir = Path(cfg.out)
    if (run_dir / "last.pt").exists() and not cfg.resume:
        raise RostroError(f"{run_dir} already holds a run; pass --resume to continue it or choose another --out")
    _threads(cfg.threads)
    ds = prepare_dataset(cfg)
    base_info = None
    torch.manual_seed(cfg.seed)  # the initial weights (and a new head) are part of the seeded run
    if cfg.init_from:
        model, base_info = load_run(cfg.init_from)
        name, kwargs = base_info.model, dict(base_info.model_kwargs)
        size, mean, std = _transfer_size(cfg, base_info), base_info.mean, base_info.std
        if size != base_info.input_size:
            kwargs["input_size"] = size
        if base_info.input == "chip" and not cfg.chips:
            raise RostroError(
                f"{cfg.init_from} reads the face network's 150-px chips: set chips to aligned "
                "(CelebA-aligned crops), photo (the largest face) or centre (pre-cropped faces)"
            )
        if base_info.outputs != ds.labels:
            model.replace_head(len(ds.labels))
            kwargs["num_outputs"] = len(ds.labels)
            if "hidden" in kwargs:  # the new head is linear, whatever hidden layer the trunk's run had
                kwargs["hidden"] = 0
    else:
        spec = model_spec(cfg.model)
        size, mean, std = cfg.input_size or spec.input_size, spec.mean, spec.std
        if cfg.chips and size != CHIP_SIZE:
            raise RostroError(f"chips are {CHIP_SIZE} px; {cfg.model} at {size} px cannot read them: leave chips unset "
                              f"or use a model that takes {CHIP_SIZE} px (dlib_resnet)")  # fmt: skip
        name, kwargs = cfg.model, {"num_outputs": len(ds.labels), "input_size": size}
        model = create_model(name, **kwargs)
    if not world.main:  # rank 0 decodes the images once; the others map its cache
        barrier(world)
    show = cfg.progress and world.main
    cache = cache_dataset(ds, cfg, size, progress=show)
    soft = soft_label_data(cfg, list(ds.labels), size, progress=show) if cfg.soft_labels else None
    if world.main:
        barrier(world)
    data = TrainData(
        images=cache.images,
        labels=ds.label_matrix(),
        train_idx=split_indices(ds, cache, "train"),
        val_idx=split_indices(ds, cache, "validation"),
        mean=mean,
        std=std,
    )
    if soft is not None:  # teacher-scored images join the training split only
        extra, targets = soft
        n = len(data.images)
        data.images = StackedImages(data.images, extra)
        data.labels = np.concatenate([data.labels.astype(np.float32), targets])
        data.train_idx = np.concatenate([data.train_idx, n + np.arange(len(extra))])
        log.info("%d soft-labelled image(s) added to the training split", len(extra))
    if world.main:
        run_dir.mkdir(parents=True, exist_ok=True)
        save_config(cfg, run_dir / "config.yaml")

    def curves(history: list[dict]) -> None:
        write_training_curves(history, run_dir, monitor=cfg.monitor)

    try:
        result = fit(model, data, cfg, run_dir, ds.labels, on_epoch_end=curves, world=world)
        barrier(world)  # best.pt is complete on every rank's view
    except (RuntimeError, torch.distributed.DistError) as exc:
        if world.distributed:
            raise peer_lost(exc) from exc
        raise
    best = run_dir / "best.pt"
    load_weights(model, load_checkpoint(best), source=str(best))
    val_probs = predict_proba(model, data.images, mean=mean, std=std, indices=data.val_idx)
    val_y = data.labels[data.val_idx]
    thresholds = tune_thresholds(val_y, val_probs, cfg.threshold_metric)
    val = evaluate_scores(val_y, val_probs, ds.labels, thresholds, split="validation")
    info = RunInfo(
        model=name,
        model_kwargs=kwargs,
        labels=list(ds.labels),
        input_size=size,
        mean=mean,
        std=std,
        thresholds=[float(t) for t in thresholds],
        threshold_metric=cfg.threshold_metric,
        data=dataclasses.asdict(cfg),
        source=ds.source,
        best_epoch=result.best_epoch,
        monitor=cfg.monitor,
        best_value=result.best_value,
        git_commit=git_commit(),
        rostro_version=__version__,
        validation=val.summary | {"images_per_second": result.images_per_second},
        input="chip" if cfg.chips else "crop",
    )
    if world.main:
        info.save(run_dir)
        write_manifest(run_dir)
    return result, info, run_dir


@dataclass
class EvaluateConfig:
    run: str
    split: str = "test"
    data: str | None = None
    out: str | None = None
    cache_dir: str | None = None
    threads: int | None = None
    progress: bool = True
    embeddings: str | None = None


def evaluate(cfg: EvaluateConfig) -> tuple[EvaluationResult, Path]:
    """Score a run on one split of the data it was trained with (or ``cfg.data`` in the same layout)."""
    if cfg.split not in ("train", "validation", "test"):
        raise ValueError(f"split must be train, validation or test, got {cfg.split!r}")
    _threads(cfg.threads)
    model, info = load_run(cfg.run)
    if "multitask" in info.data:
        return _evaluate_multitask(cfg, model, info)
    ds, tcfg = run_dataset(info, data=cfg.data, cache_dir=cfg.cache_dir, progress=cfg.progress)
    cache = cache_dataset(ds, tcfg, info.input_size)
    idx = split_indices(ds, cache, cfg.split)
    if len(idx) == 0:
        raise RostroError(f"the {cfg.split} split of {tcfg.data or 'the synthetic default'} has no readable images")
    logits = predict_logits(model, cache.images, mean=info.mean, std=info.std, indices=idx)
    probs = split_outputs(info, logits, Calibration.load(cfg.run, info.labels))[0]
    thresholds = info.thresholds
    fusion = Fusion.load(cfg.run) if cfg.embeddings else None
    if fusion is not None:
        emb = pd.read_parquet(cfg.embeddings).set_index("path")
        vectors = np.asarray(emb.loc[ds.frame["path"].iloc[idx], "embedding"].tolist(), np.float32)
        probs = combine(probs, fusion.head.predict_proba(vectors), fusion.weights)
        thresholds = fusion.thresholds
    result = evaluate_scores(ds.label_matrix()[idx], probs, info.labels, thresholds, split=cfg.split)
    out = Path(cfg.out) if cfg.out else Path(cfg.run) / f"eval-{cfg.split}"
    html = write_evaluation_report(result, out, title=f"rostro evaluation: {Path(cfg.run).name}, {cfg.split}")
    return result, html


def _evaluate_multitask(cfg: EvaluateConfig, model: torch.nn.Module, info: RunInfo) -> tuple[EvaluationResult, Path]:
    """A ``train-multitask`` run: the attribute table on the faces that carry every label, then Male
    over every source and age MAE where ages are known."""
    from rostro.config import load_config
    from rostro.training.multitask import MultiTaskConfig, load_chips, multitask_table

    config = Path(cfg.run) / "config.yaml"  # every multitask run holds its own, wherever it was moved
    mcfg = load_config(MultiTaskConfig, config, progress=False)
    table, labels = multitask_table(mcfg)
    chips, ok = load_chips(table, mcfg.parsed, cache_dir=cfg.cache_dir or mcfg.cache_dir, progress=cfg.progress)
    idx = np.flatnonzero((table["split"] == cfg.split).to_numpy() & ok)
    if len(idx) == 0:
        raise RostroError(f"the {cfg.split} split of {config} has no faces with a chip")
    logits = predict_logits(model, chips, mean=info.mean, std=info.std, indices=idx)
    probs, values = split_outputs(info, logits, Calibration.load(cfg.run, info.labels))
    y = table.iloc[idx][labels].to_numpy()
    full = ~np.isnan(y).any(axis=1)
    result = evaluate_scores(y[full].astype(int), probs[full], labels, info.thresholds, split=cfg.split)
    male = labels.index("Male") if "Male" in labels else None
    if male is not None:
        known = ~np.isnan(y[:, male])
        right = (probs[known, male] >= info.thresholds[male]) == (y[known, male] > 0.5)
        result.summary["male_accuracy_every_source"] = float(right.mean())
    if "age" in info.regression:
        age = table.iloc[idx]["age"].to_numpy()
        has = ~np.isnan(age)
        predicted = values[has, list(info.regression).index("age")]
        result.summary["age_mae"] = float(np.abs(predicted - age[has]).mean())
    out = Path(cfg.out) if cfg.out else Path(cfg.run) / f"eval-{cfg.split}"
    html = write_evaluation_report(result, out, title=f"rostro evaluation: {Path(cfg.run).name}, {cfg.split}")
    return result, html


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
    seed: int = 0
    out: str = "rostro-report/audit"


def _embedding_frame(path: str, needed: list[str]) -> tuple[pd.DataFrame, np.ndarray]:
    frame = pd.read_parquet(path)
    absent = [c for c in needed if c not in frame.columns]
    if absent:
        raise RostroError(f"{path}: no column(s) {absent}; columns are {list(frame.columns)}")
    n = len(frame)
    frame = frame[frame["face_found"]].reset_index(drop=True)
    if frame.empty:
        raise RostroError(f"{path}: no image with a face embedding")
    if len(frame) < n:
        log.warning("%s: %d of %d images have no embedding (no face found or unreadable) and are left out",
                    path, n - len(frame), n)  # fmt: skip
    return frame, np.asarray(frame["embedding"].tolist(), np.float32)


def audit(cfg: AuditConfig) -> tuple[AuditResult, CrossGroupResult, Path]:
    """Per-group metrics of a head trained on all groups (held-out, identity-disjoint test part)
    and the cross-group matrix; writes ``audit.json`` and ``report.html``."""
    from sklearn.model_selection import GroupShuffleSplit, train_test_split

    frame, X = _embedding_frame(cfg.embeddings, [cfg.label, *cfg.groups])
    y = frame[cfg.label].to_numpy(int)
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
        identities=ids, test_fraction=cfg.test_fraction, seed=cfg.seed,
    )  # fmt: skip
    note = (f"{cfg.label} from {cfg.classifier} heads on {Path(cfg.embeddings).name}; {len(te):,} held-out faces"
            f"{' (identity-disjoint)' if ids is not None else ''}.")  # fmt: skip
    html = write_audit_report(result, cross, cfg.out, title=f"rostro audit: {cfg.label} by {', '.join(cfg.groups)}",
                              note=note)  # fmt: skip
    save_config(cfg, Path(cfg.out) / "config.yaml")
    return result, cross, html


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


@dataclass
class ModelAuditResult:
    """Per-group audit of the faces found, face-found rate per group, and the mitigation."""

    audit: AuditResult
    found_rate: pd.Series
    mitigation: MitigationResult | None
    html: Path
    counts: dict[str, int]
    age: pd.DataFrame | None = None  # age MAE per group, for a model that predicts age on data that has it


def audit_model(cfg: ModelAuditConfig) -> ModelAuditResult:
    """Predict ``cfg.label`` on every image of ``cfg.data`` with a trained model, then audit per group.

    Predictions are kept in ``out/predictions.csv`` and resumed from it. Photos where no face
    is found are counted per group (``found_rate``) and left out of the metrics.
    """
    from rostro.inference.predict import AttributePredictor, predict_table

    if cfg.data is None:
        raise RostroError("audit-model needs a labelled dataset with group columns (--data)")
    ds = open_data(cfg)
    absent = [c for c in [cfg.label, *cfg.groups] if c not in ds.frame.columns]
    if absent:
        raise RostroError(f"{cfg.data}: no column(s) {absent}; labels {ds.labels}, groups {ds.groups}")
    predictor = AttributePredictor(cfg.model)
    if cfg.label not in predictor.labels:
        raise RostroError(f"model {predictor.run} does not predict {cfg.label!r}; it predicts {predictor.labels}")
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    frame = ds.frame.reset_index(drop=True)
    preds = predict_table(predictor, frame["path"].tolist(), out / "predictions.csv", aligned=cfg.aligned,
                          batch_size=cfg.batch_size).set_index("path")  # fmt: skip
    found = preds.loc[frame["path"], "face_found"].astype(bool).to_numpy()
    errors = preds.loc[frame["path"], "error"].fillna("").astype(str)
    counts = {"images": len(frame), "face_found": int(found.sum()), "no_face": int((errors == "no face found").sum())}
    counts["unreadable"] = counts["images"] - counts["face_found"] - counts["no_face"]
    groups = frame[cfg.groups].astype(str)
    group_key = groups.agg(" / ".join, axis=1) if len(cfg.groups) > 1 else groups.iloc[:, 0]
    found_rate = pd.Series(found).groupby(group_key.to_numpy()).mean()
    kept = frame[found].reset_index(drop=True)
    if kept.empty:
        raise RostroError(f"{cfg.data}: no face found in any of {len(frame):,} images")
    scores = preds.loc[kept["path"], cfg.label].to_numpy(float)
    threshold = float(predictor.thresholds[predictor.labels.index(cfg.label)])
    y = kept[cfg.label].to_numpy(int)
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
    return ModelAuditResult(result, found_rate, mitigation, html, counts, age)


@dataclass
class VerifyEvalConfig:
    """Verification figures from embeddings with identities."""

    embeddings: str
    group: str | None = None
    metric: str = "cosine"
    max_genuine: int | None = None
    max_impostor: int | None = 200_000
    target_far: float = 1e-3
    seed: int = 0
    out: str = "rostro-report/verify"


def verify_eval(cfg: VerifyEvalConfig) -> tuple[VerificationResult, pd.DataFrame | None, Path]:
    """Genuine/impostor pairs, FAR/FRR, EER, ROC/DET and, per group, rates at one global threshold."""
    frame, X = _embedding_frame(cfg.embeddings, ["identity", *([cfg.group] if cfg.group else [])])
    pairs = make_pairs(X, frame["identity"].to_numpy(), metric=cfg.metric, max_genuine=cfg.max_genuine,
                       max_impostor=cfg.max_impostor, seed=cfg.seed)  # fmt: skip
    result = verification_curves(pairs.scores, pairs.genuine)
    threshold = result.threshold_at_far(cfg.target_far)
    per_group = per_group_rates(pairs, frame[cfg.group].to_numpy(), threshold) if cfg.group else None
    note = f"{len(frame):,} faces of {frame['identity'].nunique():,} identities; {cfg.metric} similarity."
    html = write_verification_report(result, per_group, cfg.out, title="rostro verification", note=note,
                                     global_threshold=threshold)  # fmt: skip
    thresholds = {"metric": cfg.metric, "eer_threshold": result.eer_threshold, "target_far": cfg.target_far,
                  "threshold_at_target_far": threshold, "source": str(cfg.embeddings)}  # fmt: skip
    (Path(cfg.out) / "threshold.json").write_text(json.dumps(thresholds, indent=2))
    save_config(cfg, Path(cfg.out) / "config.yaml")
    return result, per_group, html


@dataclass
class TsneConfig:
    embeddings: str
    colour: str
    marker: str | None = None
    perplexity: float = 30.0
    max_points: int = 5000
    method: str = "tsne"
    seed: int = 0
    out: str = "rostro-report/tsne"


def _map_2d(X: np.ndarray, cfg: TsneConfig) -> np.ndarray:
    """t-SNE (scikit-learn), or UMAP when asked for and umap-learn is installed."""
    if cfg.method == "umap":
        try:
            import umap
        except ImportError:
            raise RostroError("method 'umap' needs umap-learn: pip install umap-learn") from None
        return umap.UMAP(random_state=cfg.seed).fit_transform(X)
    if cfg.method != "tsne":
        raise ValueError(f"method must be 'tsne' or 'umap', got {cfg.method!r}")
    from sklearn.manifold import TSNE

    perplexity = min(cfg.perplexity, max(2.0, (len(X) - 1) / 3))
    return TSNE(2, perplexity=perplexity, init="pca", random_state=cfg.seed).fit_transform(X)


def tsne(cfg: TsneConfig) -> tuple[pd.DataFrame, Path]:
    """2-D map of embeddings (t-SNE, or UMAP), coloured by one column and marked by another."""
    frame, X = _embedding_frame(cfg.embeddings, [cfg.colour, *([cfg.marker] if cfg.marker else [])])
    if len(frame) > cfg.max_points:
        keep = np.sort(np.random.default_rng(cfg.seed).choice(len(frame), cfg.max_points, replace=False))
        frame, X = frame.iloc[keep].reset_index(drop=True), X[keep]
    xy = _map_2d(X, cfg)

    def named(column: str) -> np.ndarray:
        return (column + "=" + frame[column].astype(str)).to_numpy()

    marker = named(cfg.marker) if cfg.marker else None
    title = f"{cfg.method.upper()} of {Path(cfg.embeddings).name}: colour {cfg.colour}" + (
        f", marker {cfg.marker}" if cfg.marker else ""
    )
    png = write_tsne(xy, named(cfg.colour), marker, cfg.out, title=title)
    coords = frame[["path", cfg.colour, *([cfg.marker] if cfg.marker else [])]].assign(x=xy[:, 0], y=xy[:, 1])
    coords.to_csv(Path(cfg.out) / "tsne.csv", index=False)
    return coords, png


@dataclass
class LfwConfig:
    """LFW's standard protocol (View 2, 10 folds) with dlib embeddings."""

    root: str
    pairs: str | None = None
    metric: str = "cosine"
    pick: str = "centre"
    flip: bool = True
    jitter: int = 0
    refine_jitter: int = 0
    refine_band: float = 0.02
    workers: int | None = None
    out: str = "rostro-report/lfw"

    def __post_init__(self) -> None:
        if self.jitter < 0 or self.refine_jitter < 0:
            raise ValueError(f"jitter and refine_jitter count copies: expected >= 0, got {self.jitter}, "
                             f"{self.refine_jitter}")  # fmt: skip
        if self.refine_jitter and not 0 < self.refine_band <= 2:
            raise ValueError(f"refine_band is how far from the threshold (in score units) a pair is re-scored: "
                             f"expected in (0, 2] (2: every pair), got {self.refine_band}")  # fmt: skip


def _pair_scores(emb: pd.DataFrame, pairs: pd.DataFrame, metric: str) -> np.ndarray:
    """Similarity of each pair's two images, from an embeddings frame indexed by path."""
    from rostro.evaluation.verification import similarity

    bad = emb.index[~emb["face_found"]]
    if len(bad):
        raise RostroError(f"{len(bad)} LFW image(s) could not be read, e.g. {bad[0]}: {emb.loc[bad[0], 'error']}")
    vec = {p: np.asarray(v, np.float32) for p, v in emb["embedding"].items()}
    a = np.stack([vec[p] for p in pairs["path_a"]])
    b = np.stack([vec[p] for p in pairs["path_b"]])
    return similarity(a, b, metric)


def lfw_eval(cfg: LfwConfig) -> tuple[pd.DataFrame, VerificationResult, dict, Path]:
    """Per-fold accuracy with thresholds chosen on the other folds, mean and std, ROC and EER.

    LFW's images are centred on the labelled face, so the detected face nearest the centre
    is used (``pick``); images where no face is detected are embedded from their centre and
    counted in ``summary['centre_fallback']``. ``flip`` averages each face with its mirror image.
    ``refine_jitter`` N re-embeds, as the mean of dlib's N jittered copies (dlib's own setting
    for its LFW figure is 100, at 100 times the cost), only the images of pairs within
    ``refine_band`` of a fold's threshold, and decides those pairs by that score (see
    ``lfw_protocol``). Embeddings are cached in ``out`` under names that record these options.
    """
    from rostro.data.dataset import FaceDataset
    from rostro.data.lfw import lfw_protocol, near_threshold, read_lfw_pairs
    from rostro.inference.embed import embed_dataset

    pairs = read_lfw_pairs(cfg.root, cfg.pairs)
    paths = pd.unique(pd.concat([pairs["path_a"], pairs["path_b"]]))
    frame = pd.DataFrame({"image_id": [Path(p).name for p in paths], "path": paths, "split": "test",
                          "identity": [Path(p).parent.name for p in paths]})  # fmt: skip
    ds = FaceDataset(frame=frame, labels=[], source="lfw", root=Path(cfg.root))
    out = Path(cfg.out)
    tag = cfg.pick + ("_flip" if cfg.flip else "") + (f"_jitter{cfg.jitter}" if cfg.jitter else "")
    name = f"lfw_embeddings_{tag}.parquet"
    emb = embed_dataset(ds, out / name, centre_fallback=True, pick=cfg.pick, flip=cfg.flip, jitter=cfg.jitter,
                        workers=cfg.workers)  # fmt: skip
    emb = emb.set_index("path")
    scores = _pair_scores(emb, pairs, cfg.metric)
    same, fold_of = pairs["same"].to_numpy(), pairs["fold"].to_numpy()
    folds = plain = lfw_protocol(scores, same, fold_of)
    refined_images = 0
    if cfg.refine_jitter:
        near = near_threshold(scores, plain["threshold"], cfg.refine_band)
        doubtful = set(pairs.loc[near, "path_a"]) | set(pairs.loc[near, "path_b"])
        refined_images = len(doubtful)
        refined = np.full(len(pairs), np.nan)
        if near.any():
            remb = embed_dataset(
                ds.with_frame(ds.frame[ds.frame["path"].isin(doubtful)]),
                out / f"lfw_embeddings_{cfg.pick}_jitter{cfg.refine_jitter}.parquet",
                centre_fallback=True, pick=cfg.pick, jitter=cfg.refine_jitter, workers=cfg.workers,
            ).set_index("path")  # fmt: skip
            refined[near] = _pair_scores(remb, pairs[near], cfg.metric)
        folds = lfw_protocol(scores, same, fold_of, refined=refined, band=cfg.refine_band)
    result = verification_curves(scores, same)
    summary = {
        "mean_accuracy": float(folds["accuracy"].mean()),
        "std_accuracy": float(folds["accuracy"].std(ddof=1)) if len(folds) > 1 else 0.0,
        "mean_accuracy_unrefined": float(plain["accuracy"].mean()),
        "refine_jitter": cfg.refine_jitter,
        "refine_band": cfg.refine_band if cfg.refine_jitter else None,
        "refined_images": refined_images,
        "eer": result.eer,
        "images": len(emb),
        "centre_fallback": int((emb["found_by"] == "centre").sum()),
        "cnn_detector": int((emb["found_by"] == "cnn").sum()),
        "pick": cfg.pick,
        "flip": cfg.flip,
        "jitter": cfg.jitter,
    }
    note = (f"LFW, {len(pairs):,} pairs in {len(folds)} folds; accuracy {summary['mean_accuracy']:.4f} ± "
            f"{summary['std_accuracy']:.4f} (thresholds chosen on the other folds). {summary['centre_fallback']} of "
            f"{summary['images']:,} images had no detected face and were embedded from their centre.")  # fmt: skip
    if cfg.refine_jitter:
        unrefined = summary["mean_accuracy_unrefined"]
        note += (f" Pairs within {cfg.refine_band} of their fold's threshold ({folds['refined_pairs'].sum():,}) "
                 f"were decided by the mean of {cfg.refine_jitter} jittered copies of their {refined_images:,} images "
                 f"(without: {unrefined:.4f}); the curves and EER use the plain scores.")  # fmt: skip
    html = write_verification_report(result, None, out, title="rostro verification: LFW", note=note)
    (out / "lfw_folds.csv").write_text(folds.to_csv(index=False))
    (out / "lfw.json").write_text(json.dumps({"summary": summary, "folds": folds.to_dict(orient="records")}, indent=2))
    return folds, result, summary, html
