"""Worker pools must not inherit a lock another thread holds at the moment they start."""

import threading

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
