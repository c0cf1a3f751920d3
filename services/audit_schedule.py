"""When the daily audit runs: scheduled from the database, run by the worker holding the lease.

No timer lives in memory. Each day (UTC) is due RUN_AFTER past the following midnight, when
Xoxoday's day has ended whichever time zone it dates orders in and late commits have landed.
The worker's round calls `tick`, which claims the earliest due day by compare-and-set
(storage/audit.py) and audits it on a thread of its own, so a slow Xoxoday holds the audit,
never placement. A day missed while the bot was down is audited when it comes back, up to
BACKFILL_DAYS back (a new database starts with yesterday). A failed audit is tried again
after a delay that grows, and after ALERT_AFTER failures the approvers hear of it once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta

from services.audit import RUN_AFTER, Auditor, audited_day
from services.xoxoday import errors as xe
from storage import audit as store
from storage import events
from storage.db import Database
from storage.models import EventKind

log = logging.getLogger(__name__)

BACKFILL_DAYS = 7
RETRY_FIRST_S = 900.0
RETRY_MAX_S = 6 * 3600.0
ALERT_AFTER = 3
RECHECK_S = 600.0


class DailyAudit:
    def __init__(
        self,
        database: Database,
        auditor: Auditor,
        *,
        name: str = "audit",
        run_after: timedelta = RUN_AFTER,
        backfill_days: int = BACKFILL_DAYS,
        retry_first_s: float = RETRY_FIRST_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.auditor = auditor
        self.name = name
        self.run_after = run_after
        self.backfill_days = backfill_days
        self.retry_first_s = retry_first_s
        self._clock = clock
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._next_check = 0.0  # epoch seconds: tick reads nothing before then

    def due_day(self, now: float) -> date | None:
        """The earliest day due and not claimed: back to BACKFILL_DAYS, never before the
        first day ever audited (a new database starts with yesterday)."""
        last = audited_day(now, self.run_after)
        first = last - timedelta(days=self.backfill_days - 1)
        earliest = store.first_day(self.database)  # None: a new database, no history
        first = last if earliest is None else max(first, date.fromisoformat(earliest))
        taken = set(store.pending_days(self.database, first.isoformat(), last.isoformat(), now))
        day = first
        while day <= last:
            if day.isoformat() not in taken:
                return day
            day += timedelta(days=1)
        return None

    def tick(self) -> bool:
        """Start the audit of the earliest due day on its own thread; True when one started.
        Between due times it reads nothing (the worker calls it every round)."""
        with self._lock:
            now = self._clock()
            if now < self._next_check or (self._thread is not None and self._thread.is_alive()):
                return False
            day = self.due_day(now)
            if day is None:
                self._next_check = self._upcoming(now)
                return False
            with self.database.tx() as db:
                if not store.claim(db, day.isoformat(), self.name, now):
                    return False
            self._thread = threading.Thread(
                target=self._run, args=(day,), name=f"{self.name}-{day}", daemon=True
            )
            self._thread.start()
            return True

    def next_due(self) -> float:
        """When `tick` looks again (the worker sleeps no longer than that)."""
        return self._next_check

    def _upcoming(self, now: float) -> float:
        """The next day's due time, or a failed audit's retry if sooner; checked at least
        every RECHECK_S, since another process may fail or finish one meanwhile."""
        today = datetime.fromtimestamp(now - self.run_after.total_seconds(), UTC).date()
        tomorrow = datetime.combine(today + timedelta(days=1), datetime.min.time(), UTC)
        times = [(tomorrow + self.run_after).timestamp(), now + RECHECK_S]
        retry = store.next_retry(self.database)
        if retry is not None:
            times.append(max(retry, now))
        return min(times)

    def wait(self, timeout: float | None = None) -> None:
        """Wait for an audit in progress (tests, shutdown)."""
        thread = self._thread
        if thread is not None:
            thread.join(timeout)

    def _run(self, day: date) -> None:
        try:
            self.auditor.run(day, actor=self.name, complete=True)  # only due days are claimed
        except Exception as exc:  # Xoxoday unreadable, or a bug: try again later
            self._failed(day, exc)

    def _failed(self, day: date, exc: Exception) -> None:
        known = isinstance(exc, xe.XoxodayError)
        if not known:
            log.exception("the audit of %s failed", day)
        why = str(exc) if known else f"unexpected error: {type(exc).__name__}"
        with self.database.tx() as db:
            row = store.get(self.database, day.isoformat())
            tries = int(row["attempts"]) if row else 1
            delay = min(self.retry_first_s * 2 ** (tries - 1), RETRY_MAX_S)
            store.fail(db, day.isoformat(), self.name, why, self._clock() + delay)
            if tries == ALERT_AFTER:
                events.append(
                    db,
                    EventKind.SYSTEM_ALERT,
                    actor=self.name,
                    reason=(
                        f"the audit of {day} against Xoxoday's books failed {tries} times "
                        f"(last: {why}); it is tried again, and `rewards-bot audit --day {day}` "
                        "runs it by hand"
                    ),
                )
        log.warning("the audit of %s failed (attempt %d): %s", day, tries, why)
