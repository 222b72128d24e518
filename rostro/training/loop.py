"""One readable training loop: batched augmentation, callbacks, atomic checkpoints, resume.

Everything random draws from one seeded ``torch.Generator`` (shuffling, augmentation) and
torch's global generator (dropout); both are saved each epoch, so a resumed run retraces
the uninterrupted one exactly.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel as DDP

from rostro.data.transforms import Augment, to_float_tensor
from rostro.distributed import World, gather_rows, shard
from rostro.evaluation.metrics import attribute_table, summarise_table
from rostro.files import atomic_write_text
from rostro.models.cnn import TrunkHeadNet
from rostro.models.inference import predict_proba
from rostro.progress import progress_bar
from rostro.runs import load_checkpoint, save_checkpoint, write_manifest
from rostro.training.config import TrainConfig

log = logging.getLogger(__name__)


@dataclass
class TrainData:
    """Cached images (N x S x S x 3 uint8, may be a memmap), 0/1 labels and split indices."""

    images: np.ndarray
    labels: np.ndarray
    train_idx: np.ndarray
    val_idx: np.ndarray
    mean: float = 0.5
    std: float = 0.5


@dataclass
class FitResult:
    history: list[dict[str, float]]
    best_epoch: int
    best_value: float
    stopped_early: bool
    seconds: float
    images_per_second: float
    resumed_from: int | None = None
    extra: dict = field(default_factory=dict)


def _monitor_mode(name: str) -> str:
    return "min" if name.endswith("loss") else "max"


def set_trainable(model: TrunkHeadNet, cfg: TrainConfig, epoch: int) -> None:
    """Freeze the trunk for transfer learning; unfreeze its last blocks from ``unfreeze_after``."""
    if not cfg.freeze_trunk:
        return
    blocks = model.trunk_blocks()
    thawed = cfg.unfreeze_after is not None and epoch >= cfg.unfreeze_after
    open_from = len(blocks) - cfg.unfreeze_blocks if thawed else len(blocks)
    for i, block in enumerate(blocks):
        for p in block.parameters():
            p.requires_grad_(i >= open_from)


def _train_mode(model: TrunkHeadNet) -> None:
    """Train mode, but frozen blocks keep their batch-norm statistics."""
    model.train()
    for block in model.trunk_blocks():
        if not any(p.requires_grad for p in block.parameters()):
            block.eval()


def _optimizer(model: TrunkHeadNet, cfg: TrainConfig, steps: int):
    trunk_lr = cfg.lr * (cfg.trunk_lr_scale if cfg.init_from else 1.0)
    groups = [
        {"params": list(model.trunk.parameters()), "lr": trunk_lr},
        {"params": list(model.head.parameters()), "lr": cfg.lr},
    ]
    opt = torch.optim.AdamW(groups, weight_decay=cfg.weight_decay)
    if cfg.schedule == "onecycle" and steps >= 3:
        # OneCycleLR divides by each phase's length, so both phases need more than one step
        pct = max(0.25, 1.5 / steps)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=[trunk_lr, cfg.lr], total_steps=steps, pct_start=pct)
    elif cfg.schedule == "cosine":
        sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    else:
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _: 1.0)
    return opt, sched


def _pos_weight(labels: np.ndarray, cfg: TrainConfig) -> torch.Tensor | None:
    if cfg.imbalance != "pos_weight":
        return None
    pos = labels.mean(axis=0).clip(1e-3, 1 - 1e-3)
    return torch.tensor(((1 - pos) / pos).clip(0.05, 20.0), dtype=torch.float32)


def _epoch_order(data: TrainData, cfg: TrainConfig, gen: torch.Generator) -> torch.Tensor:
    n = len(data.train_idx)
    if cfg.imbalance != "balanced":
        return torch.randperm(n, generator=gen)
    y = data.labels[data.train_idx, 0]
    rate = y.mean()
    weights = np.where(y == 1, 0.5 / max(rate, 1e-6), 0.5 / max(1 - rate, 1e-6))
    return torch.multinomial(torch.tensor(weights), n, replacement=True, generator=gen)


def evaluate_split(
    model: nn.Module, data: TrainData, idx: np.ndarray, pos_weight, names, world: World | None = None
) -> dict[str, float]:
    """Loss and summary metrics on ``idx``; under DDP each rank scores a shard and all agree on the result."""
    world = world or World()
    mine = idx[shard(len(idx), world)]
    probs = gather_rows(predict_proba(model, data.images, mean=data.mean, std=data.std, indices=mine), len(idx), world)
    y = data.labels[idx].astype(np.float32)
    p = torch.tensor(probs).clamp(1e-6, 1 - 1e-6)
    loss = nn.functional.binary_cross_entropy(p, torch.tensor(y), reduction="none")
    if pos_weight is not None:
        loss = loss * torch.where(torch.tensor(y) == 1, pos_weight, torch.ones_like(pos_weight))
    table = attribute_table(data.labels[idx], probs, names)
    return {"loss": float(loss.mean()), **summarise_table(table)}


def fit(
    model: TrunkHeadNet,
    data: TrainData,
    cfg: TrainConfig,
    run_dir: str | Path,
    names: list[str],
    *,
    on_epoch_end: Callable[[list[dict]], None] | None = None,
    world: World | None = None,
) -> FitResult:
    """Train ``model`` on ``data.train_idx``, validate on ``data.val_idx`` each epoch.

    Writes ``last.pt`` (full state, for resume) every epoch and ``best.pt`` (weights) when
    the monitored validation figure improves; stops after ``patience`` epochs without one.

    Under ``torchrun`` (``world`` of several ranks) the model is wrapped in
    DistributedDataParallel and each global batch of ``cfg.batch_size`` is split across the
    ranks, with the augmentation one process would have drawn, so N processes follow one
    process's run (up to batch-norm statistics, which are per rank). Only rank 0 writes.
    """
    world = world or World()
    run_dir = Path(run_dir)
    if len(data.train_idx) == 0 or len(data.val_idx) == 0:
        raise ValueError(
            f"training needs train and validation images; got {len(data.train_idx)} and {len(data.val_idx)}"
        )
    run_dir.mkdir(parents=True, exist_ok=True)
    torch.manual_seed(cfg.seed)
    gen = torch.Generator().manual_seed(cfg.seed)
    batches = math.ceil(len(data.train_idx) / cfg.batch_size)
    if cfg.steps_per_epoch is not None:  # huge sets: an 'epoch' is this many steps of a fresh shuffle
        batches = min(batches, cfg.steps_per_epoch)
    cuda = world.device.startswith("cuda")
    if cfg.sync_batchnorm and world.distributed:
        if not cuda:
            raise ValueError("sync_batchnorm needs GPUs: torch's SyncBatchNorm has no CPU kernel")
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    model = model.to(world.device, memory_format=torch.channels_last)
    opt, sched = _optimizer(model, cfg, cfg.epochs * batches)
    pos_weight = _pos_weight(data.labels[data.train_idx], cfg)
    augment = Augment(cfg.rotation, cfg.zoom, cfg.flip) if cfg.augment else None
    mode = _monitor_mode(cfg.monitor)
    best, best_epoch, bad, history, start, resumed = (
        (math.inf if mode == "min" else -math.inf),
        -1,
        0,
        [],
        0,
        None,
    )
    last_path = run_dir / "last.pt"
    if cfg.resume and last_path.is_file():
        state = load_checkpoint(last_path)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        sched.load_state_dict(state["scheduler"])
        gen.set_state(state["generator"])
        torch.set_rng_state(state["torch_rng"])
        best, best_epoch, bad, history = (
            state["best"],
            state["best_epoch"],
            state["bad_epochs"],
            state["history"],
        )
        start = resumed = state["epoch"] + 1
        if state.get("stopped"):
            start = cfg.epochs
        log.info("resuming %s from epoch %d", run_dir, start)
    loss_fn = nn.BCEWithLogitsLoss(pos_weight=pos_weight)
    images_seen, train_seconds = 0, 0.0
    stopped = bool(history) and start >= cfg.epochs and bad >= cfg.patience
    t_all = time.perf_counter()
    wrapped, trainable = model, None
    stats = "{task.fields[ips]:>5.0f} img/s  loss {task.fields[loss]:.4f}"
    with progress_bar("epoch {task.fields[epoch]}", enabled=cfg.progress and world.main, transient=False,
                      stats=stats) as bar:  # fmt: skip
        for epoch in range(start, cfg.epochs):
            set_trainable(model, cfg, epoch)
            _train_mode(model)
            now = tuple(p.requires_grad for p in model.parameters())
            if now != trainable:  # DDP hooks only the parameters trainable when wrapped
                wrapped = DDP(model, device_ids=[world.local_rank] if cuda else None) if world.distributed else model
                wrapped, trainable = torch.compile(wrapped) if cfg.compile else wrapped, now
            task = bar.add_task("train", total=batches, epoch=f"{epoch + 1}/{cfg.epochs}", ips=0.0, loss=0.0)
            order = _epoch_order(data, cfg, gen).numpy()
            t0, running, count, local = time.perf_counter(), 0.0, 0, 0
            for b in range(batches):
                batch = np.sort(data.train_idx[order[b * cfg.batch_size : (b + 1) * cfg.batch_size]])
                part = slice(world.rank, None, world.size)
                rows = batch[part]
                x = to_float_tensor(np.ascontiguousarray(data.images[rows]), data.mean, data.std)
                if augment is not None:
                    x = augment(x, gen, of=(len(batch), part))
                y = torch.from_numpy(data.labels[rows].astype(np.float32))
                if cuda:  # page-locked memory lets the copy overlap the previous step
                    x, y = x.pin_memory(), y.pin_memory()
                x = x.to(world.device, non_blocking=True).contiguous(memory_format=torch.channels_last)
                with torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
                    logits = wrapped(x)
                loss = loss_fn(logits.float(), y.to(world.device))
                optimizer_step(loss, opt, sched)
                running += float(loss.detach()) * len(rows)
                count, local = count + len(batch), local + len(rows)
                elapsed = time.perf_counter() - t0
                bar.update(task, advance=1, ips=count / max(elapsed, 1e-9), loss=running / max(local, 1))
            train_seconds += time.perf_counter() - t0
            images_seen += count
            running = _sum(running, world)
            val = evaluate_split(model, data, data.val_idx, pos_weight, names, world)
            row = {"epoch": epoch + 1, "train_loss": running / count, "lr": opt.param_groups[-1]["lr"]}
            row.update({f"val_{k}": v for k, v in val.items()})
            row["images_per_second"] = count / max(time.perf_counter() - t0, 1e-9)
            history.append(row)
            value = row[cfg.monitor]
            if math.isnan(value) and not any(math.isnan(h[cfg.monitor]) for h in history[:-1]):  # say it once
                log.warning("%s is undefined on this validation split (one class only?); keeping the first epoch's "
                            "weights as best unless it becomes defined", cfg.monitor)  # fmt: skip
            improved = best_epoch < 0 or (value < best if mode == "min" else value > best)
            if improved:
                best, best_epoch, bad = value, epoch + 1, 0
                if world.main:
                    save_checkpoint(model.state_dict(), run_dir / "best.pt")
                    write_manifest(run_dir)  # signed with it: a run stopped from here on still loads
            else:
                bad += 1
            stopped = bad >= cfg.patience and epoch + 1 < cfg.epochs
            if not world.main:
                if stopped:
                    break
                continue
            save_checkpoint(
                {
                    "model": model.state_dict(),
                    "optimizer": opt.state_dict(),
                    "scheduler": sched.state_dict(),
                    "generator": gen.get_state(),
                    "torch_rng": torch.get_rng_state(),
                    "epoch": epoch,
                    "best": best,
                    "best_epoch": best_epoch,
                    "bad_epochs": bad,
                    "history": history,
                    "stopped": stopped,
                },
                last_path,
            )
            _write_history(history, run_dir / "history.csv")
            if on_epoch_end is not None:
                on_epoch_end(history)
            if stopped:
                log.info("early stop after epoch %d: no %s improvement for %d epochs", epoch + 1, cfg.monitor, bad)
                break
    return FitResult(
        history=history,
        best_epoch=best_epoch,
        best_value=float(best),
        stopped_early=stopped,
        seconds=time.perf_counter() - t_all,
        images_per_second=images_seen / train_seconds if train_seconds else float("nan"),
        resumed_from=resumed,
    )


def optimizer_step(loss: torch.Tensor, opt: torch.optim.Optimizer, sched: torch.optim.lr_scheduler.LRScheduler) -> None:
    """One step of training: fresh gradients from ``loss``, then the optimiser, then the schedule."""
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()
    sched.step()


def _sum(value: float, world: World) -> float:
    if not world.distributed:
        return value
    t = torch.tensor([value], dtype=torch.float64)
    dist.all_reduce(t)
    return float(t)


def _write_history(history: list[dict], path: Path) -> None:
    cols = list(history[0])
    lines = [",".join(cols)] + [",".join(f"{r.get(c, '')}" for c in cols) for r in history]
    atomic_write_text(path, "\n".join(lines) + "\n")
