"""Per-operation sliding-window limits (reference §7) and call statistics."""

from __future__ import annotations

import math
from collections import Counter, deque

WINDOW_S = 60.0
PER_MINUTE: dict[str, int] = {
    "getOrderDetails": 200,
    "getOrderHistory": 200,
    "placeOrder": 100,
    "getVouchers": 50,
    "getFilters": 50,
    "getBalance": 10,
}
DEFAULT_PER_MINUTE = 200


def limit_for(op: str, scale: float) -> int | None:
    """The scaled per-minute limit; None when limits are off (scale 0)."""
    if scale <= 0:
        return None
    # Never below one call a minute, or the operation could not be used at all.
    return max(1, int(PER_MINUTE.get(op, DEFAULT_PER_MINUTE) * scale))


class RateLimiter:
    """At most limit × scale accepted calls per operation in any rolling 60 s.

    Not thread-safe on its own; the app calls it under its state lock.
    """

    def __init__(self) -> None:
        self._windows: dict[str, deque[float]] = {}
        self.calls: Counter[str] = Counter()
        self.limited: Counter[str] = Counter()

    def check(self, op: str, now: float, scale: float, window_s: float = WINDOW_S) -> int | None:
        """Count a call; None when it may proceed, else the penalty in whole seconds.
        `window_s`: the minute, shortened by tests that run minute-bound work in seconds."""
        self.calls[op] += 1
        limit = limit_for(op, scale)
        if limit is None:
            return None
        window = self._windows.setdefault(op, deque())
        while window and window[0] <= now - window_s:
            window.popleft()
        if len(window) >= limit:
            self.limited[op] += 1
            return max(1, math.ceil(window[0] + window_s - now))
        window.append(now)
        return None

    def note_limited(self, op: str) -> None:
        """A rate-limit answer forced by a fault still shows in the statistics."""
        self.limited[op] += 1
