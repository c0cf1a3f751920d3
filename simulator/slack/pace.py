"""How fast Slack answers and how often it lets an app call: per-method latency and rate limits.

Latency is off unless set (`set_latency("users.info", 0.4)`, or "*" for every call): a real
Slack answers from a server in 100-400 ms, which is what breaks the 3-second ack of a handler
that calls Slack once per recipient.

Rate limits follow https://docs.slack.dev/apis/web-api/rate-limits: per method, per workspace,
per app, in tiers of requests per minute (Tier 1: 1, Tier 2: 20, Tier 3: 50, Tier 4: 100;
the documented floors, so the fake is at least as strict as Slack); chat.postMessage is
special: about one message per second per channel, with short bursts allowed, counted per
conversation (a DM posted to a user id and one posted to that DM's D… channel share one). Over
the limit Slack answers HTTP 429 with `Retry-After` (seconds). On by default, like every rule of the
stand-in (rules.py: a test may switch "rate_limits" off, saying why).
"""

from __future__ import annotations

import math
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Any

from simulator.slack.workspace import dm_channel

WINDOW_S = 60.0
TIERS = {1: 1, 2: 20, 3: 50, 4: 100}
# Each method's tier, from its reference page (docs.slack.dev/reference/methods/<method>).
METHOD_TIERS = {
    "apps.connections.open": 1,
    "users.list": 2,
    "chat.update": 3,
    "conversations.open": 3,
    "conversations.info": 3,
    "users.lookupByEmail": 3,
    "functions.completeSuccess": 3,
    "functions.completeError": 3,
    "auth.test": 4,  # "Special" on its page; generous, so treated as Tier 4
    "chat.postEphemeral": 4,
    "chat.getPermalink": 4,  # "Special": hundreds a minute; treated as Tier 4
    "users.info": 4,
    "views.open": 4,
    "views.update": 4,
    "views.push": 4,
    "views.publish": 4,
}
POST_PER_S = 1.0  # chat.postMessage, per channel
POST_BURST = 5  # "short bursts >1 allowed"; the fake's choice of how short


class Pace:
    def __init__(
        self,
        clock: Callable[[], float] = time.monotonic,
        enabled: Callable[[], bool] = lambda: True,
    ) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._latency: dict[str, float] = {}
        self._held: dict[str, threading.Event] = {}
        self._waiting: dict[str, int] = {}  # calls held back right now, by method
        self._enabled = enabled
        self._calls: dict[str, deque[float]] = {}
        self._buckets: dict[str, tuple[float, float]] = {}  # channel -> (tokens, at)

    # ---- latency ---------------------------------------------------------------------------

    def set_latency(self, method: str, seconds: float) -> None:
        """Answer `method` ("*": every method, and response_url posts) after `seconds`."""
        with self._lock:
            if seconds <= 0:
                self._latency.pop(method, None)
            else:
                self._latency[method] = float(seconds)

    def latency(self, method: str) -> float:
        with self._lock:
            return self._latency.get(method, self._latency.get("*", 0.0))

    # ---- holding answers back until the test says ------------------------------------------

    def hold(self, method: str) -> None:
        """Calls of `method` get no answer until release(method): a Slack slower than any
        deadline of the app's, whatever the machine's speed (tests must not race a latency)."""
        with self._lock:
            self._held.setdefault(method, threading.Event()).clear()

    def release(self, method: str) -> None:
        with self._lock:
            gate = self._held.pop(method, None)
        if gate is not None:
            gate.set()

    def wait_if_held(self, method: str, timeout: float = 60.0) -> None:
        with self._lock:
            gate = self._held.get(method)
            if gate is None:
                return
            self._waiting[method] = self._waiting.get(method, 0) + 1
        try:
            gate.wait(timeout)
        finally:
            with self._lock:
                self._waiting[method] -= 1

    def waiting(self, method: str) -> int:
        """How many calls of `method` are held back right now: how many the app has made at
        once (a test's proof that they run concurrently, whatever the machine's speed)."""
        with self._lock:
            return self._waiting.get(method, 0)

    # ---- rate limits -----------------------------------------------------------------------

    def reset(self) -> None:
        with self._lock:
            self._latency.clear()
            self._calls.clear()
            self._buckets.clear()
            held, self._held = self._held, {}
        for gate in held.values():
            gate.set()

    @property
    def enabled(self) -> bool:
        return self._enabled()

    def admit(self, method: str, params: dict[str, Any]) -> int | None:
        """None when the call may go ahead, else the Retry-After seconds of a 429."""
        if not self.enabled:
            return None
        now = self._clock()
        with self._lock:
            if method == "chat.postMessage":
                return self._post(str(params.get("channel") or ""), now)
            limit = TIERS.get(METHOD_TIERS.get(method, 4), TIERS[4])
            calls = self._calls.setdefault(method, deque())
            while calls and now - calls[0] >= WINDOW_S:
                calls.popleft()
            if len(calls) >= limit:
                return max(1, math.ceil(calls[0] + WINDOW_S - now))
            calls.append(now)
            return None

    def _post(self, channel: str, now: float) -> int | None:
        if channel[:1] in ("U", "W"):  # a DM by user id lands in the app's DM with them:
            channel = dm_channel(channel)  # one conversation, one allowance
        tokens, at = self._buckets.get(channel, (float(POST_BURST), now))
        tokens = min(float(POST_BURST), tokens + (now - at) * POST_PER_S)
        if tokens < 1:
            self._buckets[channel] = (tokens, now)
            return max(1, math.ceil((1 - tokens) / POST_PER_S))
        self._buckets[channel] = (tokens - 1, now)
        return None
