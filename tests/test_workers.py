"""Worker pools must not inherit a lock another thread holds at the moment they start."""

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

from rostro.workers import process_pool

LOCK = threading.Lock()


def _double_under_lock(x: int) -> int:
    with LOCK:
        return 2 * x


def test_workers_start_clean_while_another_thread_holds_a_lock():
    held, release = threading.Event(), threading.Event()

    def hold():
        with LOCK:
            held.set()
            release.wait(120)

    holder = threading.Thread(target=hold, daemon=True)
    holder.start()
    held.wait(10)
    try:
        with process_pool(2) as pool:  # a forked child would copy LOCK locked and wait forever
            assert list(pool.map(_double_under_lock, [1, 2, 3], timeout=60)) == [2, 4, 6]
    finally:
        release.set()
        holder.join(10)


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    status = Path(f"/proc/{pid}/status")
    return status.is_file() and "\nState:\tZ" in status.read_text()  # exited, not yet reaped


SCRIPT = """
import os, sys, time
from rostro.workers import process_pool
if __name__ == "__main__":
    pool = process_pool(1)
    print(pool.submit(os.getpid).result(60), flush=True)
    for _ in range(3):
        pool.submit(time.sleep, 60)  # queued work a killed parent used to leave running
    time.sleep(120)
"""


def test_workers_end_when_the_process_that_made_them_is_killed(tmp_path):
    script = tmp_path / "parent.py"
    script.write_text(SCRIPT)
    parent = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE, text=True)
    try:
        worker = int(parent.stdout.readline())
        time.sleep(1.5)
        assert not _gone(worker)
        parent.kill()
        parent.wait(10)
        deadline = time.monotonic() + 10
        while not _gone(worker) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _gone(worker)
    finally:
        parent.kill()


def test_light_pools_fork_only_a_single_threaded_process(monkeypatch):
    from rostro import workers

    monkeypatch.setattr(workers, "_threads", lambda: 1)
    with workers.light_pool(2) as pool:
        assert pool._mp_context.get_start_method() == "fork"
    monkeypatch.setattr(workers, "_threads", lambda: 3)  # e.g. onnxruntime's pool is alive
    with workers.light_pool(2) as pool:
        assert pool._mp_context.get_start_method() == "forkserver"
        assert list(pool.map(_double_under_lock, [1, 2])) == [2, 4]


def test_the_image_cache_decodes_the_same_from_the_fork_server(celeba_dir, tmp_path, monkeypatch):
    import numpy as np

    from rostro import workers
    from rostro.data.cache import build_cache

    paths = sorted((celeba_dir / "img_align_celeba").glob("*.jpg"))[:200]
    one = build_cache(paths, 16, cache_dir=tmp_path / "a", workers=1, progress=False)
    monkeypatch.setattr(workers, "_threads", lambda: 3)
    served = build_cache(paths, 16, cache_dir=tmp_path / "b", workers=2, progress=False)
    assert np.array_equal(np.asarray(one.images), np.asarray(served.images))
