"""An advisory lock on a file: held across processes, dropped by the OS when its holder dies.

For short critical sections that wait on the network (a token refresh), where holding SQLite's
write lock instead would stall every writer of the database, Slack's 3-second acks included.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
from collections.abc import Iterator
from pathlib import Path

POLL_S = 0.02


@contextlib.contextmanager
def exclusive(path: str | Path, *, wait_s: float) -> Iterator[None]:
    """Hold `path` exclusively (flock); TimeoutError after `wait_s` seconds of waiting.

    flock(2) locks belong to an open file description, so two holders in one process exclude
    each other as two processes do; closing the descriptor (or dying) releases the lock.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise TimeoutError(f"{path} is held by another process") from None
                time.sleep(POLL_S)
        yield
    finally:
        os.close(fd)


@contextlib.contextmanager
def within_process(lock: threading.Lock, *, wait_s: float) -> Iterator[None]:
    """The same contract for a store with no file (in memory): one holder per process."""
    if not lock.acquire(timeout=wait_s):
        raise TimeoutError("held by another thread")
    try:
        yield
    finally:
        lock.release()
