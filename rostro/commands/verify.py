"""``rostro verify-eval`` (FAR/FRR, EER, ROC/DET, per-group rates; or LFW's protocol) and ``rostro verify``."""

from __future__ import annotations

import json
import numbers
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from rostro.commands._base import read_embeddings
from rostro.config import save_config
from rostro.errors import RostroError
from rostro.evaluation.verification import VerificationResult, make_pairs, verification_curves
from rostro.reports.audit import write_verification_report


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


@dataclass(kw_only=True)
class VerifyEvalResult:
    verification: VerificationResult
    per_group: pd.DataFrame | None
    threshold: float
    html: Path

    def lines(self) -> list[str]:
        v = self.verification
        out = [f"{v.n_genuine:,} genuine, {v.n_impostor:,} impostor pairs; EER {v.eer:.4f} at {v.eer_threshold:.4f}",
               v.operating_points().to_string(index=False)]  # fmt: skip
        if self.per_group is not None:
            out.append(self.per_group.round(4).to_string())
        return [*out, f"Report: {self.html}"]


def verify_eval(cfg: VerifyEvalConfig) -> VerifyEvalResult:
    """Genuine/impostor pairs, FAR/FRR, EER, ROC/DET and, per group, rates at one global threshold."""
    frame, X = read_embeddings(cfg.embeddings, ["identity", *([cfg.group] if cfg.group else [])])
    pairs = make_pairs(X, frame["identity"].to_numpy(), metric=cfg.metric, max_genuine=cfg.max_genuine,
                       max_impostor=cfg.max_impostor, seed=cfg.seed)  # fmt: skip
    groups = pairs.shared_group(frame[cfg.group].to_numpy()) if cfg.group else None
    result = verification_curves(pairs.scores, pairs.genuine, groups=groups)
    threshold = result.threshold_at_far(cfg.target_far)
    per_group = result.by_group(threshold) if cfg.group else None
    note = f"{len(frame):,} faces of {frame['identity'].nunique():,} identities; {cfg.metric} similarity."
    html = write_verification_report(result, per_group, cfg.out, title="rostro verification", note=note,
                                     global_threshold=threshold)  # fmt: skip
    thresholds = {"metric": cfg.metric, "eer_threshold": result.eer_threshold, "target_far": cfg.target_far,
                  "threshold_at_target_far": threshold, "source": str(cfg.embeddings)}  # fmt: skip
    (Path(cfg.out) / "threshold.json").write_text(json.dumps(thresholds, indent=2))
    save_config(cfg, Path(cfg.out) / "config.yaml")
    return VerifyEvalResult(verification=result, per_group=per_group, threshold=threshold, html=html)


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
    out: str = "rostro-report/verify"

    def __post_init__(self) -> None:
        if self.jitter < 0 or self.refine_jitter < 0:
            raise ValueError(f"jitter and refine_jitter count copies: expected >= 0, got {self.jitter}, "
                             f"{self.refine_jitter}")  # fmt: skip
        if self.refine_jitter and not 0 < self.refine_band <= 2:
            raise ValueError(f"refine_band is how far from the threshold (in score units) a pair is re-scored: "
                             f"expected in (0, 2] (2: every pair), got {self.refine_band}")  # fmt: skip


@dataclass(kw_only=True)
class LfwResult:
    """Per-fold accuracy, the curves of the plain scores, the summary (``lfw.json``) and the report."""

    folds: pd.DataFrame
    verification: VerificationResult
    summary: dict
    html: Path

    def lines(self) -> list[str]:
        s = self.summary
        out = [
            self.folds.round(4).to_string(index=False),
            f"LFW accuracy {s['mean_accuracy']:.4f} ± {s['std_accuracy']:.4f}; EER {s['eer']:.4f}; "
            f"{s['centre_fallback']} of {s['images']:,} images embedded from their centre (no face detected).",
        ]
        if s["refine_jitter"]:
            out.append(
                f"{s['refined_images']:,} images of pairs near the threshold re-embedded with "
                f"{s['refine_jitter']} jittered copies; without: {s['mean_accuracy_unrefined']:.4f}."
            )
        return [*out, f"Report: {self.html}"]


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


def lfw_eval(cfg: LfwConfig) -> LfwResult:
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
    from rostro.data.lfw import read_lfw_pairs
    from rostro.evaluation.lfw import lfw_protocol, near_threshold
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
                centre_fallback=True, pick=cfg.pick, flip=False, jitter=cfg.refine_jitter, workers=cfg.workers,
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
    save_config(cfg, out / "config.yaml")
    return LfwResult(folds=folds, verification=result, summary=summary, html=html)


@dataclass
class VerifyConfig:
    """Two photos, and the threshold to accept them as one person (given, from a ``threshold.json``, or the one
    measured for the vectors ``flip`` makes)."""

    image_a: str
    image_b: str
    threshold: float | None = None
    threshold_file: str | None = None
    flip: bool = True  # each face averaged with its mirror image (EER 0.0355 -> 0.0334 on celeba-wild photos)


@dataclass(kw_only=True)
class VerifyResult:
    score: float
    threshold: float
    same: bool

    def lines(self) -> list[str]:
        verdict = "same person" if self.same else "different people"
        return [f"similarity {self.score:.4f}, threshold {self.threshold:.4f}: {verdict}"]


def verify(cfg: VerifyConfig) -> VerifyResult:
    """Are two photos the same person? Cosine similarity of their largest faces' embeddings."""
    from rostro.data.images import load_image
    from rostro.faces.embedding import compare_photos

    threshold = cfg.threshold
    if threshold is None and cfg.threshold_file is not None:
        file = cfg.threshold_file
        try:
            stored = json.loads(Path(file).read_text(encoding="utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise RostroError(f"{file}: not JSON ({exc}); expected the threshold.json that rostro verify-eval "
                              "writes") from None  # fmt: skip
        threshold = stored.get("threshold_at_target_far") if isinstance(stored, dict) else None
        if threshold is None:
            raise RostroError(f"{file}: no 'threshold_at_target_far'; expected the threshold.json that rostro "
                              "verify-eval writes")  # fmt: skip
        where = f"{file}: threshold_at_target_far"
    else:
        where = "threshold"
    usable = isinstance(threshold, numbers.Real) and not isinstance(threshold, bool) and -1 <= threshold <= 1
    if threshold is not None and not usable:
        raise RostroError(f"{where}: expected a cosine similarity between -1 and 1 (e.g. 0.93), found {threshold!r}")
    result = compare_photos(load_image(cfg.image_a), load_image(cfg.image_b), threshold=threshold, flip=cfg.flip)
    return VerifyResult(score=result["score"], threshold=result["threshold"], same=bool(result["same"]))
