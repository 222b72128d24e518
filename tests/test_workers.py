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
