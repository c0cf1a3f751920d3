"""What people should see in chat, as work in the database: the notifier marks what is stale,
the delivery room sends it (handlers/delivery.py). Nothing here knows Slack.

Kinds, and how long a key waits after its last send before it goes again (`GAPS`) or after its
first mark before it goes at all (`GATHER`, so a burst arrives as one send):
- `status:R7`  the status message of R7 shows an old state;
- `asks:R7`    R7's approval asks (and the digests listing it) show an old state;
- `thread:R7`  lines wait for R7's thread (data: the lines);
- `home:U1`    U1's Home tab shows an old state;
- `offers:R7`  the "Choose my reward" DMs of R7 show an offer that ended;
- `event:e42`  the one-off messages of event 42 (a DM, an ask, an alert), each a step;
- `digest:remind:U1` / `digest:escalate:U1`  the requests waiting for U1 this round (data);
- `dm:U1`      a requester's updates (approved, failed, complete…) waiting to go as one DM.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from storage import digests as digest_store
from storage import outbox as store
from storage.db import Database
from storage.digests import DigestRef
from storage.outbox import OutboxRow

__all__ = ["GAPS", "GATHER", "DigestRef", "Outbox", "OutboxRow"]

GAPS = {"home": 3.0, "status": 2.0, "thread": 2.0, "asks": 0.0, "dm": 2.0, "offers": 0.0}
GATHER = {"thread": 1.0, "digest": 5.0, "dm": 1.0}
KEEP_SENT_S = 600.0


class Outbox:
    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self._clock = clock

    def mark(
        self,
        key: str,
        *,
        request_id: int | None = None,
        target: str | None = None,
        item: Any = None,
        delay: float | None = None,
    ) -> None:
        kind = key.split(":", 1)[0]
        store.mark(
            self.database,
            key,
            kind,
            now=self._clock(),
            delay=GATHER.get(kind, 0.0) if delay is None else delay,
            gap=GAPS.get(kind, 0.0),
            request_id=request_id,
            target=target,
            item=item,
        )

    def due(self, skip_lanes: list[str], limit: int = 200) -> list[OutboxRow]:
        return store.due(self.database, self._clock(), skip_lanes, limit)

    def finish(self, row: OutboxRow, consumed: int = 0) -> bool:
        return store.finish(
            self.database, row.key, row.version, consumed, self._clock(), GAPS.get(row.kind, 0.0)
        )

    def wait(self, row: OutboxRow, until: float, lane: str) -> None:
        store.later(self.database, row.key, until, lane=lane)

    def retry(self, row: OutboxRow, delay: float, error: str) -> None:
        store.later(self.database, row.key, self._clock() + delay, error=error)

    def drop(self, row: OutboxRow) -> None:
        store.drop(self.database, row.key)

    def next_due(self) -> float | None:
        return store.next_due(self.database)

    def pending(self) -> int:
        return store.pending(self.database)

    def tidy(self) -> None:
        store.forget_sent(self.database, self._clock() - KEEP_SENT_S)

    # --- digests ---------------------------------------------------------------------------

    def save_digest(
        self, channel: str, ts: str, target: str, why: str, entries: list[dict[str, Any]]
    ) -> int:
        return digest_store.save(self.database, channel, ts, target, why, entries)

    def digests_listing(self, request_id: int) -> list[DigestRef]:
        return digest_store.listing(self.database, request_id)

    def digests_sent(self, target: str, why: str, request_id: int) -> int:
        """How many `why` digests (reminders, escalations) `target` was sent listing the request."""
        return digest_store.count_sent(self.database, target, why, request_id)
