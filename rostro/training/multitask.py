"""dlib's face network with heads for attributes and age, trained on every labelled face there is.

Each source labels what it labels (``rostro.data.multisource``); the loss masks the rest. The
input is the face network's own 150-px chip, cut as prediction cuts it, so one network per face
serves photos and aligned crops. The trunk is fine-tuned, or frozen (``freeze_trunk``: its
features are computed once and only the head trains). Attributes are logits (binary cross-entropy over the known
cells); each regression output (age) is ``offset + scale * output``, learnt with an L1 loss in
``scale`` units. The run folder is an ordinary rostro run (``input: chip``), with the validation
outputs kept for calibration.
"""

from __future__ import annotations

import csv
import dataclasses
import logging
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from rostro.config import from_dict, save_config
from rostro.data.cache import build_cache, cache_key
from rostro.data.multisource import Source, read_sources
from rostro.data.pack import read_pack, write_pack
from rostro.errors import RostroError
from rostro.evaluation.calibration import fit_calibration
from rostro.faces.alignment import check_crop_points
from rostro.faces.chips import INPUTS, chip_cache_options
from rostro.faces.dlib_resnet import BLOCKS, weights_digest
from rostro.faces.models import model_file
from rostro.faces.network import CHIP_SIZE
from rostro.files import atomic_path, user_cache_dir
from rostro.models.registry import create_model, model_spec
from rostro.progress import progress_bar
from rostro.runs import (
    RunInfo,
    git_commit,
    load_run,
    read_run_info,
    regression_values,
    save_checkpoint,
    write_manifest,
)
from rostro.training.config import check_schedule
from rostro.training.loop import optimizer_step

log = logging.getLogger(__name__)
AGE = {"age": {"offset": 30.0, "scale": 10.0}}


@dataclass
class MultiTaskConfig:
    """``rostro train-multitask``: sources, the reference split, and the schedule."""

    sources: list[dict] = field(default_factory=list)
    out: str = "runs/multitask"
    split_from: str | None = None  # a run whose identities keep their split (the model compared with)
    exclude: list[str] | None = None  # folders whose identities no split may hold (a later transfer's test)
    fractions: tuple[float, float, float] = (0.7, 0.15, 0.15)
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3  # the new head's peak learning rate
    trunk_lr_scale: float = 0.3  # the pretrained trunk's, as a fraction of it
    weight_decay: float = 5e-4
    hidden: int = 512
    dropout: float = 0.2
    # heads only, on the frozen face network's features (computed once): the descriptor and every
    # head then come from one pass of dlib's own network per face
    freeze_trunk: bool = False
    # the stem and this many of dlib's residual blocks frozen, their output computed once per face and
    # cached (float16): the later blocks and the head train at a fraction of the cost (fine-tuning only)
    freeze_blocks: int = 0
    # what the network reads: "chip" (the face network's 150-px chip) or "crop" (CelebA's aligned
    # layout, squared to input_size; dlib's network takes 150)
    input: str = "chip"
    crop_points: int = 68  # crop inputs: cut from dlib's 68 landmarks, or its 5 (no 68-point fit when predicting)
    model: str = "dlib_resnet"  # or a network trained from scratch on crops, e.g. attr_net
    input_size: int = CHIP_SIZE
    model_kwargs: dict | None = None  # more arguments of a network trained from scratch (attr_net's widths)
    # distillation: a trained run whose outputs fill every cell a source does not label and, weighted
    # by teacher_weight, soften those it does (its own input is cut from the same files)
    teacher: str | None = None
    teacher_weight: float = 0.5
    # a trained run of the same network (e.g. v1's attr_net): its weights start this one, each output it had
    # by label name; outputs it lacks (age) start fresh
    init_from: str | None = None
    age_weight: float = 1.0
    shift: float = 0.04  # augmentation: random shift (fraction of the chip), with flips, scale and rotation
    seed: int = 0
    limit: int | None = None  # rows per source and split, for quick checks
    threads: int | None = None
    cache_dir: str | None = None
    progress: bool = True
    resume: bool = False  # go on from the last finished epoch of an interrupted run in ``out``
    device: str = "auto"  # "auto" (a GPU when torch sees one), "cpu", "cuda", "cuda:1", ...
    # a training pack (``rostro.data.pack``): train from its table and inputs instead of the sources'
    # files, e.g. on a GPU machine that lacks them; the sources stay the record of where they came from
    pack: str | None = None
    pack_to: str | None = None  # write the training and validation rows' inputs as a pack here, and stop
    pack_quality: int = 90

    def __post_init__(self) -> None:
        if not self.parsed:  # parsing here makes an unknown key or format fail now, not mid-training
            raise ValueError(
                "MultiTaskConfig.sources: expected at least one {data, format, chips} entry, found none; "
                "give them in a --config YAML (e.g. configs/model_v2.yaml)"
            )
        check_schedule(self)
        if self.input not in INPUTS:
            raise ValueError(f"MultiTaskConfig.input: expected one of {INPUTS}, found {self.input!r}")
        check_crop_points(self.crop_points)
        if self.model != "dlib_resnet" and (self.input != "crop" or self.freeze_trunk or self.freeze_blocks):
            raise ValueError(f"MultiTaskConfig.model {self.model!r}: a network other than dlib_resnet trains from "
                             "scratch on crops: set input: crop, freeze_trunk: false, freeze_blocks: 0")  # fmt: skip
        if self.model == "dlib_resnet" and self.input_size != CHIP_SIZE:
            raise ValueError(f"MultiTaskConfig.input_size: dlib_resnet reads {CHIP_SIZE} px, found {self.input_size}")
        if self.pack and (self.teacher or self.freeze_trunk or self.freeze_blocks):
            raise ValueError("MultiTaskConfig.pack: a pack holds one input per face; a teacher, freeze_trunk and "
                             "freeze_blocks need the sources' files: train those where the files are")  # fmt: skip
        if self.init_from and self.model == "dlib_resnet":
            raise ValueError("MultiTaskConfig.init_from: dlib_resnet starts from dlib's own network; init_from is "
                             "for a network trained from scratch (attr_net)")  # fmt: skip
        if not 0 <= self.teacher_weight <= 1:
            raise ValueError(f"MultiTaskConfig.teacher_weight: expected 0..1, found {self.teacher_weight}")
        if not 0 <= self.freeze_blocks < len(BLOCKS) or (
            self.freeze_blocks and (self.freeze_trunk or self.freeze_blocks < 3)
        ):
            raise ValueError(f"MultiTaskConfig.freeze_blocks: expected 0 or 3..{len(BLOCKS) - 1} with freeze_trunk "
                             f"false, found {self.freeze_blocks}")  # fmt: skip

    @property
    def parsed(self) -> list[Source]:
        """``sources`` as checked ``Source`` records."""
        return [from_dict(Source, s) for s in self.sources]


def reference_split(run_dir: str | Path) -> pd.DataFrame:
    """The CelebA identities of a run and the split each was in (``identity``, ``split``): a run of
    ``train`` reads its dataset; a ``train-multitask`` run rebuilds its table from its config.yaml,
    so a new multitask model keeps every identity of the model it is compared with in its split."""
    info = read_run_info(run_dir)
    if info.source != "train-multitask":
        from rostro.training.data import run_dataset

        return run_dataset(info)[0].frame
    from rostro.config import load_config

    table, _ = multitask_table(load_config(MultiTaskConfig, Path(run_dir) / "config.yaml"))
    rows = table[table["identity"].notna()]
    frame = pd.DataFrame({"identity": rows["identity"].str.removeprefix("celeba:"), "split": rows["split"]})
    return frame.drop_duplicates("identity").reset_index(drop=True)


def multitask_table(cfg: MultiTaskConfig) -> tuple[pd.DataFrame, list[str]]:
    """The rows and labels ``cfg`` trains on, split as training splits them."""
    reference = reference_split(cfg.split_from) if cfg.split_from else None
    table, labels = read_sources(cfg.parsed, reference=reference, exclude=cfg.exclude or (), fractions=cfg.fractions,
                                 seed=cfg.seed)  # fmt: skip
    if cfg.limit:
        table = table.groupby(["source", "split"], group_keys=False).head(cfg.limit).reset_index(drop=True)
    return table, labels


def load_chips(
    table: pd.DataFrame,
    sources: list[Source],
    *,
    cache_dir: str | None,
    progress: bool,
    input: str = "chip",
    size: int = CHIP_SIZE,
    rows: np.ndarray | None = None,
    points: int = 68,
) -> tuple[np.ndarray, np.ndarray]:
    """Every row's input (N x size x size x 3 uint8, from the cache: chips, or CelebA-layout crops
    cut from dlib's ``points`` landmarks with ``input='crop'``) and which rows have one; only
    ``rows``' (in that order) when given."""
    source = table["source"].to_numpy()
    wanted = np.arange(len(table)) if rows is None else np.asarray(rows)
    chips = np.zeros((len(wanted), size, size, 3), np.uint8)
    ok = np.zeros(len(wanted), bool)
    for i, src in enumerate(sources):
        mine, at = np.flatnonzero(source == i), np.flatnonzero(source[wanted] == i)
        if not len(at):
            continue
        cache = build_cache(table["path"].iloc[mine].tolist(), size, cache_dir=cache_dir, progress=progress,
                            **chip_cache_options(src.chips, src.box, input, points))  # fmt: skip
        if cache.errors:
            log.warning("%s: %d image(s) without a chip left out", src.data, len(cache.errors))
        local = np.searchsorted(mine, wanted[at])  # the cache holds the source's rows in table order
        chips[at] = cache.images[local]
        ok[at] = cache.valid[local]
    return chips, ok


def _augment(x: torch.Tensor, shift: float, gen: torch.Generator) -> torch.Tensor:
    """Random flip, shift, scale (±5%) and rotation (±5°) of a batch, as one affine resampling."""
    n = len(x)
    angle = (torch.rand(n, generator=gen) - 0.5) * math.radians(10)
    scale = 1 + (torch.rand(n, generator=gen) - 0.5) * 0.1
    flip = torch.where(torch.rand(n, generator=gen) < 0.5, -1.0, 1.0)
    move = (torch.rand(n, 2, generator=gen) - 0.5) * 2 * shift * 2
    cos, sin = torch.cos(angle) / scale, torch.sin(angle) / scale
    theta = torch.stack(
        [torch.stack([cos * flip, -sin, move[:, 0]], 1), torch.stack([sin * flip, cos, move[:, 1]], 1)], 1
    )
    grid = F.affine_grid(theta.to(x.device), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="border", align_corners=False)


def _batch(chips: np.ndarray | torch.Tensor, idx: np.ndarray, mean: float = 0.0, std: float = 1 / 255) -> torch.Tensor:
    """Rows of uint8 NHWC images (an array, or a tensor already on the GPU) as the network's NCHW
    input: ``(x / 255 - mean) / std`` (dlib's network takes 0..255 and normalises inside)."""
    if isinstance(chips, torch.Tensor):
        x = chips[torch.from_numpy(idx).to(chips.device)].permute(0, 3, 1, 2).float()  # channels-last memory
    else:
        x = torch.from_numpy(np.ascontiguousarray(chips[idx].transpose(0, 3, 1, 2))).float()
    return x if (mean, std) == (0.0, 1 / 255) else (x / 255 - mean) / std


def multitask_loss(
    out: torch.Tensor, target: torch.Tensor, age: torch.Tensor, n_labels: int, age_weight: float
) -> torch.Tensor:
    """Binary cross-entropy over the known label cells plus ``age_weight`` x L1 (in decades) over the
    known ages; a batch without either term contributes zero for it."""
    known = ~torch.isnan(target)
    bce = F.binary_cross_entropy_with_logits(out[:, :n_labels][known], target[known]) if known.any() else out.sum() * 0
    has_age = ~torch.isnan(age)
    spec = AGE["age"]
    if not has_age.any():
        return bce
    l1 = (out[has_age, n_labels] - (age[has_age] - spec["offset"]) / spec["scale"]).abs().mean()
    return bce + age_weight * l1


@torch.inference_mode()
def network_outputs(
    model: torch.nn.Module,
    chips: np.ndarray | torch.Tensor,
    rows: np.ndarray,
    batch: int = 128,
    mean: float = 0.0,
    std: float = 1 / 255,
) -> np.ndarray:
    """Raw outputs (logits, regression units) for ``rows`` of ``chips``, on the model's device."""
    model.eval()
    dev = next(model.parameters()).device
    with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
        return np.concatenate([model(_batch(chips, rows[i : i + batch], mean, std).to(dev)).float().cpu().numpy()
                               for i in range(0, len(rows), batch)])  # fmt: skip


def training_device(name: str) -> torch.device:
    """``auto``: the GPU when torch sees one, else the CPU; any other name as torch reads it."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    dev = torch.device(name)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RostroError(f"device {name!r}: this torch sees no GPU; use device: auto or cpu")
    return dev


def pack_inputs(cfg: MultiTaskConfig) -> Path:
    """Write the training and validation rows of ``cfg`` with their inputs to ``cfg.pack_to`` (a
    training pack: train from it elsewhere with ``pack:``); returns the folder."""
    table, labels = multitask_table(cfg)
    chips, ok = load_chips(table, cfg.parsed, cache_dir=cfg.cache_dir, progress=cfg.progress, input=cfg.input,
                           size=cfg.input_size, points=cfg.crop_points)  # fmt: skip
    keep = ok & table["split"].isin(["train", "validation"]).to_numpy()
    meta = {"input": cfg.input, "input_size": cfg.input_size, "crop_points": cfg.crop_points, "labels": labels,
            "seed": cfg.seed, "split_from": cfg.split_from}  # fmt: skip
    return write_pack(cfg.pack_to, table[keep], chips[keep], meta, quality=cfg.pack_quality)


@torch.inference_mode()
def teacher_targets(
    cfg: MultiTaskConfig, table: pd.DataFrame, labels: list[str], ok: np.ndarray, out: Path
) -> tuple[np.ndarray, np.ndarray]:
    """The teacher run's calibrated probabilities for ``labels`` and its age for every row with an
    input (NaN elsewhere), through the predictor's ONNX export; kept in ``out/teacher_outputs.npz``
    so a resumed run does not compute them again."""
    from rostro.inference.predict import AttributePredictor

    kept = out / "teacher_outputs.npz"
    if kept.is_file():
        saved = np.load(kept)
        return saved["probs"], saved["age"]
    teacher = AttributePredictor(cfg.teacher, use_fusion=False)
    info = teacher.info
    missing = [n for n in labels if n not in info.labels]
    if missing or "age" not in teacher.values:
        raise RostroError(f"teacher {cfg.teacher}: expected the labels {labels} and age, found {info.labels} and "
                          f"{teacher.values}; missing {missing}")  # fmt: skip
    inputs, has = load_chips(table, cfg.parsed, cache_dir=cfg.cache_dir, progress=cfg.progress, input=info.input,
                             size=info.input_size, points=info.crop_points)  # fmt: skip
    rows = np.flatnonzero(ok & has)
    probs = np.full((len(table), len(labels)), np.nan, np.float32)
    age = np.full(len(table), np.nan, np.float32)
    p, v = predictor_outputs(teacher, inputs, rows, labels, progress=cfg.progress)
    probs[rows], age[rows] = p, v[:, teacher.values.index("age")]
    np.savez(kept, probs=probs, age=age)
    return probs, age


def predictor_outputs(
    predictor, inputs: np.ndarray, rows: np.ndarray, labels: list[str], *, progress: bool
) -> tuple[np.ndarray, np.ndarray]:
    """A predictor's calibrated probabilities for ``labels`` (in that order) and its numeric outputs
    on ``inputs[rows]``, 256 faces a call."""
    columns = [predictor.labels.index(n) for n in labels]
    probs = [np.zeros((0, len(labels)), np.float32)]
    values = [np.zeros((0, len(predictor.values)), np.float32)]
    with progress_bar("predict", enabled=progress) as bar:
        task = bar.add_task("predict", total=len(rows))
        for i in range(0, len(rows), 256):
            idx = rows[i : i + 256]
            p, v = predictor.predict_outputs(np.ascontiguousarray(inputs[idx]))
            probs.append(p[:, columns])
            values.append(v)
            bar.advance(task, len(idx))
    return np.concatenate(probs), np.concatenate(values)


def blend(known: np.ndarray, taught: np.ndarray, weight: float) -> np.ndarray:
    """Targets from the labels (NaN where unknown) and the teacher's (NaN where it has none): the
    teacher's weighted in where both exist, either where only one does."""
    out = np.where(np.isnan(known), taught, known)
    both = ~np.isnan(known) & ~np.isnan(taught)
    out[both] = (1 - weight) * known[both] + weight * taught[both]
    return out


def _prefix_cache(
    model: torch.nn.Module, chips: np.ndarray, ok: np.ndarray, blocks: int, progress: bool, file: Path
) -> tuple[torch.Tensor, torch.Tensor]:
    """The frozen prefix's activations (float16) and pooled stage features of every row with an input,
    kept in ``file`` (an ``.npz``; minutes of compute on 2 cores, so a restarted run reads them back)."""
    if file.is_file():
        saved = np.load(file)
        return torch.from_numpy(saved["acts"]), torch.from_numpy(saved["parts"])
    rows = np.flatnonzero(ok)
    model.eval()
    with torch.inference_mode():
        h0, p0 = model.trunk.prefix(_batch(chips, rows[:1]), blocks)
        acts = torch.zeros((len(chips), *h0.shape[1:]), dtype=torch.float16)
        parts = torch.zeros((len(chips), p0.shape[1]))
        with progress_bar("frozen blocks", enabled=progress) as bar:
            task = bar.add_task("prefix", total=len(rows))
            for i in range(0, len(rows), 128):
                idx = rows[i : i + 128]
                h, p = model.trunk.prefix(_batch(chips, idx), blocks)
                acts[idx], parts[idx] = h.half(), p
                bar.advance(task, len(idx))
    file.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(file) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, acts=acts.numpy(), parts=parts.numpy())
    return acts, parts


def validation_scores(out: np.ndarray, table: pd.DataFrame, labels: list[str]) -> dict:
    """Mean accuracy at 0.5 over the labels (each on the rows that know it), Male's, and age MAE."""
    target = table[labels].to_numpy()
    acc = {}
    for j, name in enumerate(labels):
        known = ~np.isnan(target[:, j])
        if known.any():
            acc[name] = float(((out[known, j] > 0) == (target[known, j] > 0.5)).mean())
    scores = {"mean_accuracy": float(np.mean(list(acc.values()))), "accuracy": acc}
    age = table["age"].to_numpy()
    has_age = ~np.isnan(age)
    if has_age.any():
        predicted = regression_values(AGE, out[has_age, len(labels) :])[:, 0]
        scores["age_mae"] = float(np.abs(predicted - age[has_age]).mean())
    return scores


def _standard_features(
    model: torch.nn.Module, chips: np.ndarray, ok: np.ndarray, train: np.ndarray, file: Path, progress: bool
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The frozen trunk's features of every chip, standardised with the training rows' mean and std. The raw
    features are kept in ``file`` (a quarter of an hour on 2 cores for 57,000 chips), so another head on the
    same faces starts in seconds."""
    if file.is_file():
        feats = torch.from_numpy(np.load(file))
    else:
        rows = np.flatnonzero(ok)
        model.eval()
        feats = torch.zeros(len(chips), model.feature_dim)
        with torch.inference_mode(), progress_bar("frozen network", enabled=progress) as bar:
            task = bar.add_task("features", total=len(rows))
            for i in range(0, len(rows), 128):
                feats[rows[i : i + 128]] = model.trunk(_batch(chips, rows[i : i + 128]))
                bar.advance(task, len(rows[i : i + 128]))
        file.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(file) as tmp, open(tmp, "wb") as fh:
            np.save(fh, feats.numpy())
    mu, sd = feats[train].mean(0), feats[train].std(0).clamp_min(1e-3)  # a constant feature stays finite
    return (feats - mu) / sd, mu, sd


def _head_only(model: torch.nn.Module, mu: torch.Tensor, sd: torch.Tensor) -> dict:
    """The head's weights with the features' standardisation folded into its first layer, so the run
    reads raw trunk features; the frozen trunk is dlib's own weights file, loaded as the run loads."""
    state = {k: v.clone() for k, v in model.state_dict().items() if k.startswith("head.")}
    first = next(i for i, layer in enumerate(model.head) if isinstance(layer, torch.nn.Linear))
    w, b = state[f"head.{first}.weight"], state[f"head.{first}.bias"]
    state[f"head.{first}.weight"] = w / sd
    state[f"head.{first}.bias"] = b - (w / sd) @ mu
    return state


def start_from(model: torch.nn.Module, run: str | Path, labels: list[str]) -> None:
    """Copy a trained run's weights into ``model`` (the same network, one more output: age): the trunk whole,
    the output layer's row of each label the run has (matched by name); the other rows keep their fresh start."""
    from rostro.inference.predict import resolve_run

    source, info = load_run(resolve_run(run))
    theirs, ours = source.state_dict(), model.state_dict()
    last = [k for k in ours if k.startswith("head.")][-2:]  # the output layer's weight and bias
    trunk = {k: v for k, v in theirs.items() if k not in last}
    wrong = [k for k, v in trunk.items() if k not in ours or ours[k].shape != v.shape]
    if wrong or set(ours) - set(theirs):
        raise RostroError(f"init_from {run}: a {info.model} with {info.model_kwargs}, not this network; mismatched "
                          f"weights {wrong[:3] or sorted(set(ours) - set(theirs))[:3]}")  # fmt: skip
    rows = [(i, info.labels.index(n)) for i, n in enumerate(labels) if n in info.labels]
    if not rows:
        raise RostroError(f"init_from {run}: none of its labels {info.labels[:5]}... is one of {labels[:5]}...")
    for key in last:
        ours[key][[i for i, _ in rows]] = theirs[key][[j for _, j in rows]]
    model.load_state_dict({**ours, **trunk})
    log.info("started from %s: the trunk and %d of %d outputs", run, len(rows), len(labels) + 1)


def train_multitask(cfg: MultiTaskConfig) -> Path:
    """Train, keep the epoch with the best validation mean accuracy, fit each label's calibration on
    that epoch's validation outputs, write the run; returns its folder."""
    torch.manual_seed(cfg.seed)
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    out = Path(cfg.out)
    state_file = out / "last.pt"
    if cfg.resume and not state_file.is_file():
        raise RostroError(f"--resume: {out} holds no interrupted run (no last.pt); drop --resume to start one")
    if (out / "run.json").is_file() and not cfg.resume:
        raise RostroError(f"{out} already holds a run; choose another --out, delete it, or --resume an interrupted one")
    out.mkdir(parents=True, exist_ok=True)
    save_config(cfg, out / "config.yaml")
    if cfg.pack:
        table, chips, meta = read_pack(cfg.pack)
        packed = (meta["input"], meta["input_size"], meta.get("crop_points", 68))
        if packed != (cfg.input, cfg.input_size, cfg.crop_points):
            raise RostroError(f"{cfg.pack}: a pack of {meta['input']} inputs at {meta['input_size']} px (crops from "
                              f"{packed[2]} landmarks), the config trains on {cfg.input} at {cfg.input_size} "
                              f"({cfg.crop_points}); write a pack from this config")  # fmt: skip
        labels, ok = meta["labels"], np.ones(len(table), bool)
    else:
        table, labels = multitask_table(cfg)
        chips, ok = load_chips(table, cfg.parsed, cache_dir=cfg.cache_dir, progress=cfg.progress, input=cfg.input,
                               size=cfg.input_size, points=cfg.crop_points)  # fmt: skip
    dev = training_device(cfg.device)
    split = table["split"].to_numpy()
    train, val = np.flatnonzero((split == "train") & ok), np.flatnonzero((split == "validation") & ok)
    log.info("%d training and %d validation faces, %d labels and age", len(train), len(val), len(labels))
    known = table[labels].to_numpy(np.float32, copy=True)
    known_age = table["age"].to_numpy(np.float32, copy=True)
    if cfg.teacher:
        probs, taught_age = teacher_targets(cfg, table, labels, ok, out)
        known, known_age = blend(known, probs, cfg.teacher_weight), blend(known_age, taught_age, cfg.teacher_weight)
    target, age = torch.from_numpy(known), torch.from_numpy(known_age)
    spec = model_spec(cfg.model)
    if cfg.model == "dlib_resnet":
        kwargs = {"num_outputs": len(labels) + 1, "hidden": cfg.hidden, "dropout": cfg.dropout}
        model = create_model("dlib_resnet", pretrained=True, **kwargs)
        kwargs["pretrained"] = cfg.freeze_trunk  # a fine-tuned trunk is in best.pt; a frozen one is dlib's file
    else:
        kwargs = {"num_outputs": len(labels) + 1, "input_size": cfg.input_size, "dropout": cfg.dropout,
                  **(cfg.model_kwargs or {})}  # fmt: skip
        model = create_model(cfg.model, **kwargs)
        if cfg.init_from:
            start_from(model, cfg.init_from, labels)
    norm = {"mean": spec.mean, "std": spec.std}
    gen = torch.Generator().manual_seed(cfg.seed)
    root = Path(cfg.cache_dir) if cfg.cache_dir else user_cache_dir()
    # what the cached network outputs depend on: the weights, and how each source's faces were cut
    digest = weights_digest(model_file("resnet")) + "".join(f"|{s.chips}{s.box}" for s in cfg.parsed)
    if cfg.freeze_trunk:
        key = cache_key(table["path"].tolist(), cfg.input_size, f"features-{cfg.input}-{digest}")
        feats, mu, sd = _standard_features(model, chips, ok, train, root / f"{key}.npy", cfg.progress)
        groups = [{"params": model.head.parameters(), "lr": cfg.lr}]
        mu, sd = mu.to(dev), sd.to(dev)

        def inputs(idx: np.ndarray) -> torch.Tensor:
            return feats[idx].to(dev)

        net: torch.nn.Module = model.head

        def outputs(rows: np.ndarray) -> np.ndarray:
            with torch.inference_mode():
                return model.head.eval()(feats[rows].to(dev)).cpu().numpy()

        def weights() -> dict:
            return _head_only(model, mu, sd)
    elif cfg.freeze_blocks:
        k = cfg.freeze_blocks
        key = cache_key(table["path"].tolist(), cfg.input_size, f"prefix{k}-{cfg.input}-{digest}")
        acts, prefix_parts = _prefix_cache(model, chips, ok, k, cfg.progress, root / f"{key}.npz")
        trainable = [p for b in model.trunk.trunk_blocks()[1 + k :] for p in b.parameters()]
        for b in model.trunk.trunk_blocks()[: 1 + k]:
            b.requires_grad_(False)
        groups = [{"params": trainable, "lr": cfg.lr * cfg.trunk_lr_scale},
                  {"params": model.head.parameters(), "lr": cfg.lr}]  # fmt: skip

        # the trunk's features span orders of magnitude (stage means against the descriptor): the head sees
        # them standardised with the pretrained trunk's statistics on training rows, folded into its first
        # layer when saved (as for a frozen trunk)
        with torch.no_grad():  # not inference mode: the statistics take part in training's graph
            sample = np.sort(np.random.default_rng(cfg.seed).choice(train, min(len(train), 4096), replace=False))
            model.eval()
            feats = torch.cat([model.trunk.suffix(acts[i].float(), prefix_parts[i], k)
                               for i in np.array_split(sample, max(1, len(sample) // 256))])  # fmt: skip
            mu, sd = feats.mean(0).to(dev), feats.std(0).clamp_min(1e-3).to(dev)

        class _Suffix(torch.nn.Module):
            """The trainable rest of the network on cached prefix rows (a batch is a row index tensor)."""

            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, idx: torch.Tensor) -> torch.Tensor:
                feats = model.trunk.suffix(acts[idx].to(dev).float(), prefix_parts[idx].to(dev), k)
                return model.head((feats - mu) / sd)

        net = _Suffix()

        def inputs(idx: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(idx)

        def outputs(rows: np.ndarray) -> np.ndarray:
            net.eval()
            with torch.inference_mode():
                return np.concatenate([net(torch.from_numpy(rows[i : i + 256])).cpu().numpy()
                                       for i in range(0, len(rows), 256)])  # fmt: skip

        def weights() -> dict:
            return {**model.state_dict(), **_head_only(model, mu, sd)}
    else:
        groups = [{"params": model.parameters(), "lr": cfg.lr}]  # a network trained from scratch: one rate
        if cfg.model == "dlib_resnet":
            groups = [{"params": model.trunk.parameters(), "lr": cfg.lr * cfg.trunk_lr_scale},
                      {"params": model.head.parameters(), "lr": cfg.lr}]  # fmt: skip

        data = torch.from_numpy(chips).to(dev) if dev.type == "cuda" else chips  # the whole set on the GPU

        def inputs(idx: np.ndarray) -> torch.Tensor:
            return _augment(_batch(data, idx, **norm).to(dev), cfg.shift, gen)

        net = model

        def outputs(rows: np.ndarray) -> np.ndarray:
            return network_outputs(model, data, rows, **norm)

        def weights() -> dict:
            return model.state_dict()

    info = RunInfo(model=cfg.model, model_kwargs=kwargs, labels=labels, input_size=cfg.input_size, mean=spec.mean,
                   std=spec.std, thresholds=[0.5] * len(labels), threshold_metric="none",
                   data={"multitask": str(out / "config.yaml")}, source="train-multitask", monitor="val_mean_accuracy",
                   git_commit=git_commit(), input=cfg.input, crop_points=cfg.crop_points, regression=AGE)  # fmt: skip
    info.save(out)  # from the start: an interrupted run can be evaluated from its best epoch so far
    model.to(dev, memory_format=torch.channels_last) if dev.type == "cuda" else model.to(dev)
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    steps = len(train) // cfg.batch_size
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[g["lr"] for g in groups], total_steps=cfg.epochs * steps)
    rng = np.random.default_rng(cfg.seed)
    history, best, first = [], -1.0, 1
    if cfg.resume:
        state = torch.load(state_file, map_location="cpu", weights_only=False)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
        rng.bit_generator.state, first = state["rng"], state["epoch"] + 1
        gen.set_state(state["gen"])
        torch.set_rng_state(state["torch"])  # dropout draws from the global generator
        history, best, best_row, best_scores = state["history"], state["best"], state["best_row"], state["best_scores"]
        best_out = np.load(out / "validation_outputs.npz")["outputs"]
        log.info("resuming %s after epoch %d", out, state["epoch"])
    with progress_bar("epoch {task.fields[epoch]}", enabled=cfg.progress) as bar:
        for epoch in range(first, cfg.epochs + 1):
            net.train()
            t0, total = time.perf_counter(), 0.0
            order = rng.permutation(train)
            task = bar.add_task("train", total=steps, epoch=epoch)
            for s in range(steps):
                idx = np.sort(order[s * cfg.batch_size : (s + 1) * cfg.batch_size])
                with torch.autocast(dev.type, dtype=torch.bfloat16, enabled=dev.type == "cuda"):
                    raw = net(inputs(idx))
                loss = multitask_loss(raw.float(), target[idx].to(dev), age[idx].to(dev), len(labels), cfg.age_weight)
                optimizer_step(loss, opt, sched)
                total += loss.item()
                bar.advance(task)
            bar.remove_task(task)
            val_out = outputs(val)
            scores = validation_scores(val_out, table.iloc[val], labels)
            row = {
                "epoch": epoch,
                "loss": total / steps,
                "val_mean_accuracy": scores["mean_accuracy"],
                "val_male": scores["accuracy"].get("Male", float("nan")),
                "val_age_mae": scores.get("age_mae", float("nan")),
                "seconds": time.perf_counter() - t0,
            }
            history.append(row)
            log.info("epoch %d: %s", epoch, {k: round(v, 4) for k, v in row.items()})
            if scores["mean_accuracy"] > best:
                best = scores["mean_accuracy"]
                save_checkpoint({k: v.cpu() for k, v in weights().items()}, out / "best.pt")
                np.savez_compressed(out / "validation_outputs.npz", outputs=val_out, rows=val)
                write_manifest(out)
                best_row, best_scores, best_out = row, scores, val_out
            with open(out / "history.csv", "w", newline="") as fh:
                writer = csv.DictWriter(fh, fieldnames=list(history[0]))
                writer.writeheader()
                writer.writerows(history)
            save_checkpoint({"model": {k: v.cpu() for k, v in model.state_dict().items()}, "opt": opt.state_dict(),
                             "sched": sched.state_dict(),
                             "rng": rng.bit_generator.state, "gen": gen.get_state(), "torch": torch.get_rng_state(),
                             "epoch": epoch, "history": history, "best": best, "best_row": best_row,
                             "best_scores": best_scores}, state_file)  # fmt: skip
    labelled = table.iloc[val][labels].to_numpy(np.float64)
    calibration, chosen = fit_calibration(best_out[:, : len(labels)], labelled, labels, seed=cfg.seed)
    calibration.save(out)
    chosen.to_csv(out / "calibration.csv", index=False)
    info = dataclasses.replace(info, best_epoch=best_row["epoch"], best_value=best, validation=best_scores)
    info.save(out)
    state_file.unlink()
    write_manifest(out)
    return out
