"""Which operator a phone number is on, to warn before a top-up goes to the wrong plan.

Xoxoday checks again at placement (performOperatorValidation). This lookup only lets the
form say so while the person is still looking at it, so it runs in the background and the
form uses whatever answer has arrived: Slack's 3-second answer never waits on Xoxoday.

Each lookup is a call on the company's Xoxoday account, started by a member pressing Enter, so
one member can neither flood the account nor delay anyone else (one member's 120 presses put
another's check 120 s behind, with 121 calls):
- an answer is kept per number for a day (an operator, or Xoxoday saying it knows none);
- a member has at most one lookup in flight; what they type meanwhile replaces what waited
  (only the number in the field matters: the numbers typed over are answered None, unasked);
- a member starts at most PER_MINUTE lookups a minute; the next waits for the minute;
- the pool's threads are shared fairly: each member holds at most one of them.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field

from services.xoxoday import errors as xe
from services.xoxoday.client import XoxodayClient
from services.xoxoday.models import MobileOperator, Product, e164

log = logging.getLogger(__name__)

KEEP_S = 86_400.0  # an answer is kept this long
PER_MINUTE = 10  # lookups one member may start in a minute
MAX_KEPT = 20_000  # numbers remembered at most (the oldest go first)
THREADS = 4

Answer = MobileOperator | None


@dataclass
class _Member:
    """One member's lookups: the one in flight, the one waiting, and when the last started."""

    in_flight: bool = False
    waiting: tuple[str, Future[Answer]] | None = None
    started: deque[float] = field(default_factory=deque)
    timer: threading.Timer | None = None


class OperatorCheck:
    def __init__(
        self,
        client: XoxodayClient,
        *,
        clock: Callable[[], float] = time.monotonic,
        per_minute: int = PER_MINUTE,
        keep_s: float = KEEP_S,
        threads: int = THREADS,
    ) -> None:
        self.client = client
        self.per_minute = per_minute
        self.keep_s = keep_s
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="operator")
        self._lock = threading.Lock()
        self._known: OrderedDict[str, tuple[float, Answer]] = OrderedDict()
        self._members: dict[str, _Member] = {}

    # --- what the form and the intake ask --------------------------------------------------------

    def lookup_later(self, phone: str, member: str = "") -> Future[Answer] | None:
        """A lookup for `member` (the signed user id of whoever pressed Enter): an answer kept
        from earlier at once, else one started when the member's turn and minute allow. None
        when the number is not valid E.164. The future is answered None when the member typed
        another number before this one was asked."""
        try:
            number = e164(phone)
        except ValueError:
            return None
        hit = self._kept(number)
        if hit is not None:
            return _answered(hit[1])
        future: Future[Answer] = Future()
        with self._lock:
            state = self._members.setdefault(member, _Member())
            replaced, state.waiting = state.waiting, (number, future)
            start = self._next(member, state)
        if replaced is not None:
            replaced[1].set_result(None)  # typed over before it was asked
        self._start(start)
        return future

    def known(self, phone: str) -> MobileOperator | None:
        try:
            number = e164(phone)
        except ValueError:
            return None
        hit = self._kept(number)
        return hit[1] if hit is not None else None

    def mismatch(self, phone: str, plan: Product, operator_name: str) -> str | None:
        """A sentence when a finished lookup puts the number on another operator."""
        found = self.known(phone)
        if found is None or found.parent_product_id in (None, plan.parent_product_id):
            return None
        return (
            f"{phone} is on {found.operator}, not {operator_name}: pick a {found.operator} plan "
            "or untick the operator check"
        )

    def run_due(self) -> None:
        """Start every waiting lookup whose member's minute now allows it (the timers call
        this; a test with its own clock does too)."""
        with self._lock:
            starts = [self._next(m, s) for m, s in self._members.items()]
        for start in starts:
            self._start(start)

    # --- the queue -----------------------------------------------------------------------------

    def _next(self, member: str, state: _Member) -> tuple[str, str, Future[Answer]] | None:
        """What to start for `member` now (the lock is held), or None: one in flight, nothing
        waiting, or their minute used up (a timer then wakes the queue)."""
        if state.in_flight or state.waiting is None:
            return None
        now = self._clock()
        while state.started and now - state.started[0] >= 60.0:
            state.started.popleft()
        if len(state.started) >= self.per_minute:
            if state.timer is None:
                delay = max(0.05, state.started[0] + 60.0 - now)
                state.timer = threading.Timer(delay, self._wake, [member])
                state.timer.daemon = True
                state.timer.start()
            return None
        number, future = state.waiting
        state.waiting = None
        state.in_flight = True
        state.started.append(now)
        return member, number, future

    def _start(self, start: tuple[str, str, Future[Answer]] | None) -> None:
        if start is not None:
            self._pool.submit(self._run, *start)

    def _wake(self, member: str) -> None:
        with self._lock:
            state = self._members.get(member)
            if state is None:
                return
            state.timer = None
        self.run_due()

    def _run(self, member: str, number: str, future: Future[Answer]) -> None:
        try:
            answer = self._lookup(number)
        except BaseException as exc:  # never leave the form's callback waiting
            future.set_exception(exc)
        else:
            future.set_result(answer)
        finally:
            with self._lock:
                state = self._members[member]
                state.in_flight = False
                start = self._next(member, state)
            self._start(start)

    # --- Xoxoday, and what it said ------------------------------------------------------------

    def _kept(self, number: str) -> tuple[float, Answer] | None:
        with self._lock:
            hit = self._known.get(number)
            if hit is not None and self._clock() - hit[0] >= self.keep_s:
                del self._known[number]
                return None
            return hit

    def _lookup(self, number: str) -> Answer:
        hit = self._kept(number)  # answered while this one waited
        if hit is not None:
            return hit[1]
        try:
            found: Answer = self.client.lookup_mobile_number(number)
        except xe.ApiError as exc:  # Xoxoday's answer: it knows no operator for the number
            log.info("operator lookup: %s", exc)
            found = None
        except xe.XoxodayError as exc:
            log.info("operator lookup failed: %s", exc)
            return None  # not kept: a later entry of the number tries again
        with self._lock:
            self._known[number] = (self._clock(), found)
            self._known.move_to_end(number)
            while len(self._known) > MAX_KEPT:
                self._known.popitem(last=False)
        return found


def _answered(answer: Answer) -> Future[Answer]:
    future: Future[Answer] = Future()
    future.set_result(answer)
    return future
