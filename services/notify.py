"""Notifications as domain events.

Every state change is an event row (storage.events). A dispatcher hands the new ones, in
order, to a Notifier; its cursor is stored, so a restart neither loses nor repeats them.
The Slack front end is one Notifier; the default one writes log lines.

One event can mean several messages (a thread reply, a DM to the recipient, one to the
requester). A notifier records each with a Steps log, so when one of them fails for now and
the event is tried again, only that one is repeated; and a person or channel that can never
be reached is given up once, not retried for a day and a half.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from typing import Protocol, TypeVar

from storage import events, kv, outbox
from storage import notification_steps as steps_store
from storage.db import Database
from storage.models import EventKind, EventRow

log = logging.getLogger(__name__)

# The events people hear about; the rest (claims, retries) are bookkeeping.
NOTIFIED_KINDS = frozenset(
    {
        EventKind.REQUEST_CREATED,
        EventKind.REQUEST_APPROVED,
        EventKind.REQUEST_REJECTED,
        EventKind.REQUEST_CANCELLED,
        EventKind.REQUEST_NEEDS_APPROVAL,
        EventKind.REQUEST_EXPIRED,
        EventKind.REQUEST_REMINDED,
        EventKind.REQUEST_ESCALATED,
        EventKind.DELEGATION_SET,
        EventKind.DELEGATION_ENDED,
        EventKind.WORKFLOW_CONSENT_EXPIRED,
        EventKind.WORKFLOW_CONSENT_ANSWERED,
        EventKind.ORDER_PLACED,
        EventKind.ORDER_DELIVERED,
        EventKind.ORDER_CANCELED,
        EventKind.ORDER_PARTIALLY_CANCELED,
        EventKind.ORDER_FAILED,
        EventKind.ORDER_CODE_UNDELIVERED,
        EventKind.SYSTEM_ALERT,
        EventKind.CHOICE_OFFERED,
        EventKind.CHOICE_REMINDED,
        EventKind.CHOICE_MADE,
        EventKind.CHOICE_EXPIRED,
    }
)
MAX_TRIES = 40  # 30 s doubling, capped at an hour: about a day and a half
RETRY_FIRST_S = 30.0
RETRY_MAX_S = 3600.0


T = TypeVar("T")


class Notifier(Protocol):
    def notify(self, event: EventRow) -> None: ...


class Steps:
    """A notifier's record of what it did, in the database under its consumer name.

    Keys are the notifier's own: `e42:dm:UANA` (event 42's DM to UANA), `R7:unreachable:UANA`
    (UANA given up for request 7). A step whose action raises is not recorded, so the next
    try of the event runs it again; one that went through is never run again.
    """

    def __init__(self, database: Database, consumer: str) -> None:
        self.database = database
        self.consumer = consumer

    def done(self, key: str) -> bool:
        return steps_store.outcome(self.database, self.consumer, key) is not None

    def once(self, key: str, action: Callable[[], T]) -> T | None:
        """Run `action` unless step `key` already went through; record it once it has."""
        if self.done(key):
            return None
        result = action()
        steps_store.record(self.database, self.consumer, key, "done")
        return result

    def settle(self, key: str, outcome: str, detail: str = "") -> bool:
        """Close step `key` without it going through (gave_up, refused); True the first
        time, so whatever is said about it is said once."""
        return steps_store.record(self.database, self.consumer, key, outcome, detail)


class LoggingNotifier:
    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or logging.getLogger("rewards.events")

    def notify(self, event: EventRow) -> None:
        subject = f"R-{event.request_id}" if event.request_id else "system"
        if event.order_id:
            subject += f" order {event.order_id}"
        why = f": {event.reason}" if event.reason else ""
        self.log.info("%s %s by %s%s", event.kind, subject, event.actor or "?", why)


def backlog(database: Database) -> dict[str, int]:
    """Per consumer (slack, log): the events people should hear about that it has not handed
    over yet, plus those waiting for another try; for slack also the outbox work not yet sent.
    Read from the database (for /metrics)."""
    counts: dict[str, int] = {}
    for key, value in kv.with_prefix(database, "cursor."):
        consumer = key.removeprefix("cursor.")
        waiting = events.count_after(database, int(value or 0), NOTIFIED_KINDS)
        retrying = json.loads(kv.get(database, f"retry.{consumer}") or "{}")
        counts[consumer] = int(waiting or 0) + len(retrying)
    if "slack" in counts:
        counts["slack"] += outbox.pending(database)
    return counts


class EventPump:
    """Hands events to a notifier that sends nothing itself (the log), on a thread of its own:
    without Slack, `rewards-bot worker` still logs what people would be told."""

    def __init__(self, dispatcher: NotificationDispatcher, every_s: float = 0.5) -> None:
        self.dispatcher = dispatcher
        self.every_s = every_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> EventPump:
        if self._thread is None:
            self._stop.clear()
            self._thread = threading.Thread(target=self._run, name="event-pump", daemon=True)
            self._thread.start()
        return self

    def _run(self) -> None:
        while not self._stop.wait(self.every_s):
            try:
                self.dispatcher.dispatch()
            except Exception:
                log.exception("handing events to the log failed")

    def run_until_idle(self, timeout: float = 30.0) -> bool:
        self.dispatcher.dispatch()
        return True

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():  # it must not outlive the database, closed next
                log.warning("handing events to the log still runs after %.0f s", timeout)
                self._thread.join()
            self._thread = None
        self.dispatcher.dispatch()


class NotificationDispatcher:
    """Hands new events to a notifier, once each, surviving restarts and Slack outages.

    The cursor (the last event handed over) and the events waiting for another try are kept
    in the database under the consumer's name, so a notifier that only logs never uses up
    what the Slack one has still to show. A failed event is tried again with a growing
    delay, up to about a day and a half, while later events go on.
    """

    def __init__(
        self,
        database: Database,
        notifier: Notifier,
        consumer: str = "log",
        *,
        clock: Callable[[], float] = time.time,
        retry_first_s: float = RETRY_FIRST_S,
    ) -> None:
        self.database = database
        self._clock = clock
        self.retry_first_s = retry_first_s
        self.use(notifier, consumer)

    def use(self, notifier: Notifier, consumer: str) -> None:
        self.notifier = notifier
        self._key = f"cursor.{consumer}"
        self._retry_key = f"retry.{consumer}"

    def cursor(self) -> int:
        value = kv.get(self.database, self._key)
        if value is None:
            # First run on an existing database: start from now, not from the beginning.
            value = str(events.last_id(self.database))
            kv.put(self.database, self._key, value)
        return int(value)

    def _retries(self) -> dict[str, list[float]]:
        return json.loads(kv.get(self.database, self._retry_key) or "{}")

    def caught_up(self) -> bool:
        """Every event handed over, and none waiting for another try."""
        return self.cursor() >= events.last_id(self.database) and not self._retries()

    def dispatch(self, limit: int = 200) -> int:
        """Hand new events (and those due another try) to the notifier; returns how many."""
        handled = 0
        retries = self._retries()
        now = self._clock()
        for event_id, (tries, due) in sorted(retries.items(), key=lambda kv_: float(kv_[1][1])):
            if due > now:
                continue
            event = events.get(self.database, int(event_id))
            if event is None or self._deliver(event):
                retries.pop(event_id)
            else:
                self._later(retries, event, int(tries) + 1)
            handled += 1
        for event in events.after(self.database, self.cursor(), limit):
            if event.kind in NOTIFIED_KINDS and not self._deliver(event):
                self._later(retries, event, 1)
                # Kept before the cursor passes it: caught_up() never sees it neither ahead
                # nor waiting (the delivery room's idle() reads both while this runs).
                kv.put(self.database, self._retry_key, json.dumps(retries))
            kv.put(self.database, self._key, str(event.id))
            handled += 1
        if handled:
            kv.put(self.database, self._retry_key, json.dumps(retries))
        return handled

    def _later(self, retries: dict[str, list[float]], event: EventRow, tries: int) -> None:
        if tries > MAX_TRIES:
            retries.pop(str(event.id), None)
            log.error("giving up notifying %s #%s after %d tries", event.kind, event.id, tries - 1)
            return
        delay = min(self.retry_first_s * 2 ** (tries - 1), RETRY_MAX_S)
        retries[str(event.id)] = [tries, self._clock() + delay]
        log.warning("notifying %s #%s failed; trying again in %.0f s", event.kind, event.id, delay)

    def _deliver(self, event: EventRow) -> bool:
        try:
            self.notifier.notify(event)
        except Exception:
            log.exception("notifying %s #%s failed", event.kind, event.id)
            return False
        return True
