"""Worker processes that are safe to start from a busy process.

A plain ``fork`` copies a parent that may be running other threads (rich's progress refresh,
LiteRT's and PyTorch's thread pools); a lock one of them held is copied locked and the child
can hang forever. The benchmark hit exactly that once, in ``embed``'s workers, which run dlib,
LiteRT and PyTorch. Those workers therefore start from a clean ``forkserver`` process. The
image cache's decoders run PIL only and are forked, which starts them about three times as fast,
but only while this process has a single thread (``light_pool``).
"""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import ExitStack
from typing import TypeVar

Job = TypeVar("Job")
Result = TypeVar("Result")


def _start_worker(parent: int) -> None:
    """Worker initializer: one PyTorch thread (the pool already uses every core), and an end to
    this worker when the process that made the pool is gone.

    Killing ``rostro embed`` otherwise left its workers running the chunks already queued (each
    several minutes with dlib's jitter) and then idling forever with their models loaded.
    """
    import torch

    torch.set_num_threads(1)

    def watch() -> None:
        while True:
            time.sleep(1.0)
            try:
                os.kill(parent, 0)
            except ProcessLookupError:
                os._exit(1)

    threading.Thread(target=watch, daemon=True, name="rostro-parent-watch").start()


def _threads() -> int:
    """Threads of this process, native ones included (onnxruntime's and PyTorch's pools)."""
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:  # not Linux: assume there may be others
        return 2


def light_pool(workers: int) -> ProcessPoolExecutor:
    """A pool for workers that run PIL and NumPy only: forked (fast to start) while this process
    has one thread, else ``process_pool``. A child forked beside a busy thread can inherit a lock
    that thread held and wait forever: the image cache's decoders did, stuck in ``ast.parse``,
    in a test process that had run onnxruntime sessions.
    """
    if _threads() == 1 and "fork" in multiprocessing.get_all_start_methods():
        return ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("fork"))
    return process_pool(workers)


def thread_budget() -> int:
    """Threads this process may use for one model call: PyTorch's setting, which a pool worker
    lowers to 1, so that networks in two workers never compete for a core."""
    import torch

    return torch.get_num_threads()


def default_workers() -> int:
    """Worker processes when the caller names none: one per core, up to 4."""
    return min(os.cpu_count() or 1, 4)


def process_pool(workers: int) -> ProcessPoolExecutor:
    """A pool whose workers come from a single-threaded fork server (spawn where there is none).

    The server imports rostro's worker modules once, so each worker starts in milliseconds. As
    with any such pool, a script that calls this at import time needs ``if __name__ == "__main__":``.
    Workers run PyTorch on one thread each, and end within about a second of this process's
    death, however it died.
    """
    if "forkserver" in multiprocessing.get_all_start_methods():
        ctx = multiprocessing.get_context("forkserver")
        ctx.set_forkserver_preload(["rostro.inference.embed"])
    else:
        ctx = multiprocessing.get_context("spawn")
    return ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_start_worker, initargs=(os.getpid(),))


def pool_map(
    stack: ExitStack,
    fn: Callable[[Job], Result],
    jobs: Sequence[Job],
    workers: int,
    *,
    local: Callable[[Job], Result] | None = None,
    light: bool = False,
) -> Iterator[Result]:
    """``fn`` over ``jobs``, results in order: in a pool of ``workers`` processes (closed with
    ``stack``) when there are several jobs to share, else here, with ``local`` where this process
    already holds what ``fn`` would load. ``light`` jobs (PIL and NumPy only) get ``light_pool``.

    The pool's workers start at once: call this before starting a thread (a progress bar) that a
    forked worker could copy mid-lock.
    """
    if workers > 1 and len(jobs) > 1:
        return stack.enter_context(light_pool(workers) if light else process_pool(workers)).map(fn, jobs)
    return map(local or fn, jobs)
