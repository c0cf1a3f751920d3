"""Client-side rate limits, so the bot stays under Xoxoday's per-minute limits.

A sliding-window log per operation: at most N calls in any window. The window is a little
longer than Xoxoday's minute so that network jitter cannot push an extra call into theirs.
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable

from services.xoxoday.errors import RateLimited

# Calls per minute, from Xoxoday's rate-limiting page.
DOCUMENTED_LIMITS: dict[str, int] = {
    "getOrderDetails": 200,
    "getOrderHistory": 200,
    "placeOrder": 100,
    "getVouchers": 50,
    "getFilters": 50,
    "getBalance": 10,
}
DEFAULT_LIMIT = 50  # undocumented operations (lookupMobileNumber, paymentHistory)


class RateLimiter:
    def __init__(
        self,
        limits: dict[str, int] | None = None,
        *,
        scale: float = 1.0,
        window_s: float = 61.0,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        on_wait: Callable[[str, float], None] | None = None,
    ) -> None:
        self._limits = dict(DOCUMENTED_LIMITS if limits is None else limits)
        self._scale = scale
        self._window = window_s
        self._clock = clock
        self._sleep = sleep
        # Told once per call that had to wait, with how long it waited (metrics).
        self._on_wait = on_wait
        self._lock = threading.Lock()
        self._calls: dict[str, deque[float]] = {}
        self._paused_until: dict[str, float] = {}

    def limit(self, op: str) -> int | None:
        if self._scale <= 0:
            return None
        return max(1, math.floor(self._limits.get(op, DEFAULT_LIMIT) * self._scale))

    def _wait_for(self, op: str, now: float, *, record: bool = True) -> float:
        """Seconds until a call of `op` is allowed; records the call when it is 0 (unless
        `record` is False: a look only)."""
        paused = self._paused_until.get(op, 0.0) - now
        if paused > 0:
            return paused
        limit = self.limit(op)
        if limit is None:
            return 0.0
        calls = self._calls.setdefault(op, deque())
        while calls and now - calls[0] >= self._window:
            calls.popleft()
        if len(calls) < limit:
            if record:
                calls.append(now)
            return 0.0
        return calls[0] + self._window - now

    def acquire(self, op: str, max_wait: float | None = None) -> None:
        """Block until `op` may be called; RateLimited if that would take over max_wait."""
        began: float | None = None
        while True:
            with self._lock:
                now = self._clock()
                wait = self._wait_for(op, now)
            if wait <= 0:
                if began is not None and self._on_wait is not None:
                    self._on_wait(op, now - began)
                return
            if max_wait is not None and wait > max_wait:
                raise RateLimited(f"{op} is over its rate limit", retry_after=wait, op=op)
            if began is None:
                began = now
            self._sleep(min(wait, 1.0))

    def wait_free(self, op: str, stop: threading.Event) -> bool:
        """Wait until a call of `op` would go at once, or until `stop` is set (False then).
        Records nothing (the call still goes through acquire): a long job, a catalog
        refresh, waits for its turn here, where its stop can end the wait, not in acquire."""
        while not stop.is_set():
            with self._lock:
                wait = self._wait_for(op, self._clock(), record=False)
            if wait <= 0:
                return True
            stop.wait(min(wait, 1.0))
        return False

    def penalize(self, op: str, seconds: float) -> None:
        """Xoxoday said wait (penaltySeconds): hold every caller of `op` until then."""
        with self._lock:
            until = self._clock() + seconds
            self._paused_until[op] = max(self._paused_until.get(op, 0.0), until)
