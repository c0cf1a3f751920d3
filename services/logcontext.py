"""References to the request and order a log line is about, carried by the thread's context.

The worker sets them around the work on one order, so every line logged meanwhile (the
client's "placeOrder failed after 30000 ms" included) can name the order in a JSON log
(`LOG_FORMAT=json`, bot/logs.py) without each call site passing them on. A single line can
also pass them itself: `log.info("...", extra={"request": "R-12"})`.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextvars import ContextVar

# The reference names a JSON log line may carry: request "R-12", order 42, po "RB-…".
REF_NAMES = ("request", "order", "po")

_refs: ContextVar[dict[str, str | int]] = ContextVar("log_refs", default={})  # noqa: B039


@contextlib.contextmanager
def log_refs(**refs: str | int | None) -> Iterator[None]:
    """Within the block, log lines of this thread (or task) carry `refs`."""
    token = _refs.set({**_refs.get(), **{k: v for k, v in refs.items() if v is not None}})
    try:
        yield
    finally:
        _refs.reset(token)


def current_refs() -> dict[str, str | int]:
    return _refs.get()
