"""torch.distributed for ``torchrun``: process group set-up, rank helpers, sharding.

Under ``torchrun`` (which sets ``WORLD_SIZE``, ``RANK`` and ``LOCAL_RANK``) every command
joins one process group: gloo on CPU, nccl when each rank has a GPU. A plain ``rostro``
call is a world of one, and every helper here is then a no-op.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import torch
import torch.distributed as dist

from rostro.errors import RostroError

T = TypeVar("T")


@dataclass(frozen=True)
class World:
    """This process's place among the ranks of one job."""

    rank: int = 0
    size: int = 1
    local_rank: int = 0
    device: str = "cpu"

    @property
    def main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.size > 1


def launched() -> bool:
    """True inside a ``torchrun`` job of more than one process."""
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


def init_world(timeout_s: float = 1800.0) -> World:
    """Join the job's process group once (idempotent); a world of one outside torchrun.

    ``timeout_s`` bounds how long a rank waits on a peer that died, so a killed rank turns
    into an error on the others instead of a hang.
    """
    size = int(os.environ.get("WORLD_SIZE", "1"))
    if size == 1:
        return World(device="cuda" if torch.cuda.is_available() else "cpu")
    rank, local = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    gpu = torch.cuda.is_available() and torch.cuda.device_count() > local
    if not dist.is_initialized():
        if gpu:
            torch.cuda.set_device(local)
        dist.init_process_group("nccl" if gpu else "gloo", timeout=dt.timedelta(seconds=timeout_s))
    return World(rank, size, local, f"cuda:{local}" if gpu else "cpu")


def barrier(world: World) -> None:
    if world.distributed:
        dist.barrier()


def shard(n: int, world: World) -> np.ndarray:
    """The positions ``rank, rank + size, ...`` of ``range(n)``: a deterministic, balanced shard."""
    return np.arange(world.rank, n, world.size)


def gather_rows(local: np.ndarray, n: int, world: World) -> np.ndarray:
    """Reassemble an ``n``-row array whose rows were computed in :func:`shard` order on each rank."""
    if not world.distributed:
        return local
    parts: list = [None] * world.size
    dist.all_gather_object(parts, local)
    out = np.empty((n, *local.shape[1:]), dtype=local.dtype)
    for r, part in enumerate(parts):
        out[r :: world.size] = part
    return out


def part_paths(out: Path, world: World) -> list[Path]:
    """Each rank's part file for ``out``, kept in ``.OUT.parts/`` so a re-run after a kill resumes."""
    folder = out.parent / f".{out.name}.parts"
    return [folder / f"part-{r}-of-{world.size}{out.suffix}" for r in range(world.size)]


def run_sharded(
    n: int, out: Path, world: World, work: Callable[[np.ndarray, Path], object], merge: Callable[[list[Path]], T]
) -> T | None:
    """Rank r runs ``work`` on its :func:`shard` of ``range(n)`` into its own part file; once every
    rank is done, rank 0 returns ``merge`` of all the parts (None elsewhere). Parts live in
    ``.OUT.parts/`` (:func:`part_paths`), so a re-run after a kill resumes each rank's part."""
    parts = part_paths(out, world)
    work(shard(n, world), parts[world.rank])
    barrier(world)
    return merge(parts) if world.main else None


def peer_lost(exc: BaseException) -> RostroError:
    """The error a rank raises when a collective fails because another rank died."""
    return RostroError(f"rank {os.environ.get('RANK', '?')}: lost contact with another rank of this torchrun job "
                       f"(it was killed or crashed: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}). "
                       "Run the same command with --resume to continue from the last checkpoint.")  # fmt: skip


def finish() -> None:
    """Leave the process group, if this process joined one."""
    if dist.is_initialized():
        dist.destroy_process_group()
