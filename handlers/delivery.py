"""The delivery room: Slack delivery on threads of its own, apart from placement.

One loop hands new events to the notifier (services/notify.py's dispatcher: what people should
see becomes outbox work), then gives what is due to a few sender threads. Every call they make
goes through the pacer (paced_client.py), which never sleeps: a lane that is full or held by
Retry-After puts that work back until the lane frees, and the loop leaves every row waiting
for that lane out of its picks meanwhile, so one throttled channel or method stalls nothing
else. A 429, a slow Slack or Slack down for an hour touches only this room: the worker's loop
(claims, placements, lookups, the approval schedule) never waits on Slack.

Work that failed for now comes back with a growing delay; after MAX_TRIES (about a day and a
half) it is given up with an error in the log, and the sender says what giving it up leaves
undone (a code that never reached its recipient: the requester and the operators are told,
SlackSender.given_up). Permanent refusals never get that far: they
are classified where they happen (slack_errors.py). `rewards-bot run`, `rewards-bot worker`
and the demo start a room; while another process holds the worker's lease, this one's room
stands by (`active` says whether to work); and as the lease can move while a send is in
flight, each row is claimed in the database before it is sent (services/outbox.py), so two
processes never send the same thing.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor

from handlers.paced_client import NotYet
from handlers.sender import ComeBack, SlackSender
from handlers.targets import Pending
from services.notify import NotificationDispatcher
from services.outbox import Outbox, OutboxRow
from services.pacing import Pacer

log = logging.getLogger(__name__)

SENDERS = 4
IDLE_S = 0.2  # how often an idle room looks for new events
RETRY_FIRST_S = 5.0
RETRY_MAX_S = 3600.0
MAX_TRIES = 40
COME_BACK_S = 1.0
TIDY_EVERY_S = 60.0


class DeliveryRoom:
    def __init__(
        self,
        dispatcher: NotificationDispatcher,
        outbox: Outbox,
        sender: SlackSender,
        pacer: Pacer,
        *,
        active: Callable[[], bool] = lambda: True,
        senders: int = SENDERS,
        retry_first_s: float = RETRY_FIRST_S,
        max_tries: int = MAX_TRIES,
        name: str = "slack-delivery",
    ) -> None:
        self.dispatcher = dispatcher
        self.outbox = outbox
        self.sender = sender
        self.pacer = pacer
        self.active = active
        self.retry_first_s = retry_first_s
        self.max_tries = max_tries
        self.name = name
        self._senders = senders
        self._pool: ThreadPoolExecutor | None = None
        self._busy: set[str] = set()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._tidied = 0.0
        self.rounds = 0  # rounds run (while active): tests wait for one after a change

    # --- life cycle -------------------------------------------------------------------------

    def start(self) -> DeliveryRoom:
        if self._thread is None:
            self._stop.clear()
            self._pool = ThreadPoolExecutor(self._senders, thread_name_prefix=f"{self.name}-send")
            self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
            self._thread.start()
        return self

    def wake(self) -> None:
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop after sending what is due now (a short grace, for a clean shutdown). Returns
        only once the loop has ended: the database is closed next, and a round still running
        would open it again (a round can wait up to SQLite's busy timeout, longer than the
        grace on a loaded machine)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                log.warning("the Slack delivery round is still running after %.0f s", timeout)
                self._thread.join()
            self._thread = None
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def idle(self) -> bool:
        """Nothing owed now: every event handed over, nothing due or being sent.

        Read in the order work moves (event, outbox row, send): the loop runs meanwhile, and
        a row made after the outbox was read but from an event not yet handed over when the
        cursor was read would otherwise be missed by both looks."""
        if not self.dispatcher.caught_up() or self.outbox.pending():
            return False
        with self._lock:
            if self._busy:
                return False
        # A send can record an event (an operators' alert) before it leaves the busy set.
        return self.dispatcher.caught_up()

    # --- the loop ---------------------------------------------------------------------------

    def _run(self) -> None:
        failures = 0
        while not self._stop.is_set():
            try:
                worked = self.round() if self.active() else 0
                pause = 0.0 if worked else self._sleep_time()
                failures = 0
            except Exception:  # a locked database, a bug: log, wait, go on
                failures += 1
                log.exception("the Slack delivery round failed (%d in a row)", failures)
                pause = min(2.0**failures, 60.0)
            if pause:
                self._wake.wait(pause)
                self._wake.clear()

    def round(self) -> int:
        """Hand over new events, start what is due; returns how much was done."""
        self.rounds += 1
        done = self.dispatcher.dispatch()
        blocked = self.pacer.blocked()
        with self._lock:
            busy = set(self._busy)
        started = 0
        for row in self.outbox.due(sorted(blocked)):
            if row.key in busy:
                continue
            if row.lane and row.lane in blocked:
                continue
            claimed = self.outbox.claim(row)  # another process's room may be sending it
            if claimed is None:
                continue
            with self._lock:
                self._busy.add(row.key)
            assert self._pool is not None
            self._pool.submit(self._send, claimed)
            started += 1
            if started >= self._senders * 4:
                break
        self._tidy()
        return done + started

    def run_until_idle(self, timeout: float = 30.0) -> bool:
        """Rounds on the calling thread until nothing is owed (tests, `worker --until-idle`)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.idle():
                return True
            if self._thread is None:
                self._pool = self._pool or ThreadPoolExecutor(self._senders)
                if not self.round():
                    time.sleep(min(0.2, max(0.01, self._sleep_time())))
            else:
                time.sleep(0.05)
        return self.idle()

    def _sleep_time(self) -> float:
        upcoming = [IDLE_S]
        due = self.outbox.next_due()
        if due is not None:
            upcoming.append(due - time.time())
        return max(0.02, min(upcoming))

    def _tidy(self) -> None:
        now = time.monotonic()
        if now - self._tidied >= TIDY_EVERY_S:
            self._tidied = now
            self.outbox.tidy()

    # --- one send ---------------------------------------------------------------------------

    def _send(self, row: OutboxRow) -> None:
        try:
            consumed = self.sender.send(row)
        except NotYet as wait:
            self.outbox.wait(row, wait.at, wait.lane)
        except ComeBack as exc:
            self.outbox.retry(row, COME_BACK_S, str(exc))
        except Exception as exc:  # Pending (some messages failed for now), Slack down, a bug
            self._failed(row, exc)
        else:
            self.outbox.finish(row, consumed)
        finally:
            try:
                self.outbox.unclaim(row)
            except Exception:  # a locked database: the claim lapses (CLAIM_S), and is ours
                log.exception("could not give back the claim on %s", row.key)
            finally:  # else the key stayed busy here until a restart (found by a review)
                with self._lock:
                    self._busy.discard(row.key)
                self._wake.set()

    def _failed(self, row: OutboxRow, exc: Exception) -> None:
        tries = row.tries + 1
        if tries > self.max_tries:
            log.error("giving up %s after %d tries: %s", row.key, row.tries, exc)
            try:
                self.sender.given_up(row)  # before the drop: what it leaves undone is told
            except Exception:  # a locked database: the row stays, and is given up later
                log.exception("could not record giving up %s; later", row.key)
                self.outbox.retry(row, RETRY_MAX_S, f"{type(exc).__name__}: {exc}"[:500])
                return
            self.outbox.drop(row)
            return
        delay = min(self.retry_first_s * 2 ** (tries - 1), RETRY_MAX_S)
        cause = exc.__cause__ if isinstance(exc, Pending) and exc.__cause__ else exc
        if isinstance(exc, Pending):
            log.warning("%s failed for now (%s); trying again in %.0f s", row.key, cause, delay)
        else:
            log.exception("sending %s failed; trying again in %.0f s", row.key, delay)
        self.outbox.retry(row, delay, f"{type(cause).__name__}: {cause}"[:500])
