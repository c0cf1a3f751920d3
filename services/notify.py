"""Notifications as domain events.

Every state change is an event row (storage.events). A dispatcher hands the new ones, in
order, to a Notifier; its cursor is stored, so a restart neither loses nor repeats them.
The Slack front end is one Notifier; the default one writes log lines.
"""

from __future__ import annotations

import logging
from typing import Protocol

from storage import events, kv
from storage.db import Database
from storage.models import EventRow

log = logging.getLogger(__name__)

# The events people hear about; the rest (claims, retries) are bookkeeping.
NOTIFIED_KINDS = frozenset(
    {
        "request.created",
        "request.approved",
        "request.rejected",
        "request.cancelled",
        "request.needs_approval",
        "order.placed",
        "order.delivered",
        "order.canceled",
        "order.failed",
        "system.alert",
    }
)
MAX_TRIES = 3


class Notifier(Protocol):
    def notify(self, event: EventRow) -> None: ...


class LoggingNotifier:
    def __init__(self, logger: logging.Logger | None = None) -> None:
        self.log = logger or logging.getLogger("rewards.events")

    def notify(self, event: EventRow) -> None:
        subject = f"R-{event.request_id}" if event.request_id else "system"
        if event.order_id:
            subject += f" order {event.order_id}"
        why = f": {event.reason}" if event.reason else ""
        self.log.info("%s %s by %s%s", event.kind, subject, event.actor or "?", why)


class NotificationDispatcher:
    def __init__(self, database: Database, notifier: Notifier, consumer: str = "notifier") -> None:
        self.database = database
        self.notifier = notifier
        self._key = f"cursor.{consumer}"
        self._tries: dict[int, int] = {}

    def cursor(self) -> int:
        value = kv.get(self.database, self._key)
        if value is None:
            # First run on an existing database: start from now, not from the beginning.
            value = str(events.last_id(self.database))
            kv.put(self.database, self._key, value)
        return int(value)

    def dispatch(self, limit: int = 200, *, final: bool = False) -> int:
        """Hand new events to the notifier; returns how many were handled.

        Notifiers that batch (the Slack one coalesces order changes) get a `flush` call after
        each round; `final` asks them to post everything now, e.g. before the worker stops.
        """
        handled = 0
        for event in events.after(self.database, self.cursor(), limit):
            if event.kind in NOTIFIED_KINDS and not self._deliver(event):
                break  # try again next round, keeping the order of events
            kv.put(self.database, self._key, str(event.id))
            handled += 1
        flush = getattr(self.notifier, "flush", None)
        if flush is not None:
            try:
                flush(force=final)
            except Exception:
                log.exception("flushing notifications failed")
        return handled

    def _deliver(self, event: EventRow) -> bool:
        try:
            self.notifier.notify(event)
        except Exception:
            tries = self._tries[event.id] = self._tries.get(event.id, 0) + 1
            if tries < MAX_TRIES:
                log.warning("notifying %s #%s failed (try %d)", event.kind, event.id, tries)
                return False
            log.exception("giving up notifying %s #%s after %d tries", event.kind, event.id, tries)
        self._tries.pop(event.id, None)
        return True
