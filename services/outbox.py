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

A room claims a row before it sends it (`claim`, in the kv table, with its process), and
gives it back once the send is recorded (`unclaim`). Only the process holding the worker's
lease sends, but the lease can move while a send is in flight (a rolling restart stops the
old worker, which frees the lease, while its room still waits for Slack's answer); a message
is marked sent only once Slack answered, so the new room would send it again. It leaves a row
claimed by a live process alone instead: a code DM goes once. A claim of a process that is
gone is free at once on the same machine (the worker lease's rule, services/lease.py), and
after CLAIM_S from another.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

from services.lease import free_for
from storage import digests as digest_store
from storage import kv
from storage import outbox as store
from storage.db import Database
from storage.digests import DigestRef
from storage.outbox import OutboxRow

__all__ = ["GAPS", "GATHER", "DigestRef", "Outbox", "OutboxRow"]

GAPS = {"home": 3.0, "status": 2.0, "thread": 2.0, "asks": 0.0, "dm": 2.0, "offers": 0.0}
GATHER = {"thread": 1.0, "digest": 5.0, "dm": 1.0}
KEEP_SENT_S = 600.0
CLAIM_PREFIX = "outbox.claim:"
# Longer than any one send takes (each Slack call up to 15 s, retried a few times, a
# Retry-After slept): only a claim of a process on another machine that died is waited out.
CLAIM_S = 600.0


class Outbox:
    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self._clock = clock
        self.claimer = f"room-{uuid.uuid4().hex[:12]}"  # two stacks in one process differ
        self._host = socket.gethostname()
        self._claims: dict[str, str] = {}  # row key -> the claim this room stored
        self._claims_lock = threading.Lock()

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
        """What is due, but for rows another live room is sending."""
        rows = store.due(self.database, self._clock(), skip_lanes, limit)
        if not rows:
            return rows
        elsewhere = {key for key, _raw in self._claims_held(elsewhere=True)}
        return [row for row in rows if row.key not in elsewhere]

    def claim(self, row: OutboxRow) -> OutboxRow | None:
        """Take `row` for this room before sending it: the row as it is now, or None when
        another live room has it, or it was sent (or put off) since `due` listed it."""
        key = CLAIM_PREFIX + row.key
        raw = kv.get(self.database, key)
        now = self._clock()
        if raw is not None and not free_for(json.loads(raw), self.claimer, self._host, now):
            return None
        claim = json.dumps(
            {
                "holder": self.claimer,
                "host": self._host,
                "pid": os.getpid(),
                "expires_at": now + CLAIM_S,
            }
        )
        if not kv.compare_and_set(self.database, key, raw, claim):
            return None
        with self._claims_lock:
            self._claims[row.key] = claim
        fresh = store.pending_row(self.database, row.key, now)
        if fresh is None:
            self.unclaim(row)
        return fresh

    def unclaim(self, row: OutboxRow) -> None:
        """The send of `row` is recorded (sent, put off or given up): another room may."""
        with self._claims_lock:
            claim = self._claims.pop(row.key, None)
        if claim is not None:
            kv.delete_if(self.database, CLAIM_PREFIX + row.key, claim)

    def _claims_held(self, *, elsewhere: bool) -> list[tuple[str, str]]:
        """(row key, claim) of the claims another live room holds (`elsewhere`), or of
        those nobody holds any more (a process gone, a claim expired)."""
        now = self._clock()
        found = []
        for key, raw in kv.with_prefix(self.database, CLAIM_PREFIX):
            info = json.loads(raw)
            mine = info.get("holder") == self.claimer
            held = not free_for(info, self.claimer, self._host, now)
            if held if elsewhere else not held and not mine:
                found.append((key.removeprefix(CLAIM_PREFIX), raw))
        return found

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
        for key, raw in self._claims_held(elsewhere=False):  # left by a process gone
            kv.delete_if(self.database, CLAIM_PREFIX + key, raw)

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
