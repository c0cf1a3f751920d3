"""Slack work in the database: one row per thing people should see, keyed so that it coalesces.

A key names what is stale, not each change: `status:R7` (the status message of R7), `home:U1`
(U1's Home tab), `thread:R7` (lines waiting for R7's thread, in `data`). Marking a key that is
already pending changes nothing but its version (and appends to `data`), so a burst of changes
is one send, rendered from the latest state when it goes. A sent row is kept, not pending, so
the next mark of the same key waits out the gap after `sent_at` (a Home at most once per few
seconds). `version` tells a send that finished whether something was marked meanwhile.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from storage.db import Database, fetch_one, utcnow


@dataclass(frozen=True)
class OutboxRow:
    key: str
    kind: str
    request_id: int | None
    target: str | None
    data: list[Any] = field(default_factory=list)
    version: int = 1
    not_before: float = 0.0
    lane: str | None = None
    tries: int = 0
    last_error: str | None = None

    @classmethod
    def of(cls, row: dict[str, Any]) -> OutboxRow:
        return cls(
            key=row["key"],
            kind=row["kind"],
            request_id=row["request_id"],
            target=row["target"],
            data=json.loads(row["data"] or "[]"),
            version=int(row["version"]),
            not_before=float(row["not_before"]),
            lane=row["lane"],
            tries=int(row["tries"]),
            last_error=row["last_error"],
        )


def mark(
    database: Database,
    key: str,
    kind: str,
    *,
    now: float,
    delay: float = 0.0,
    gap: float = 0.0,
    request_id: int | None = None,
    target: str | None = None,
    item: Any = None,
) -> None:
    """`key` needs sending: not before `now + delay`, nor before `gap` after its last send; a
    pending row keeps its time. `item` (JSON-able) is appended to the row's data."""
    entry = None if item is None else json.dumps(item, sort_keys=True)
    database.execute(
        "INSERT INTO slack_outbox (key, kind, request_id, target, data, pending, version, "
        "not_before, tries, created_at) "
        "VALUES (?1, ?2, ?3, ?4, CASE WHEN ?5 IS NULL THEN '[]' ELSE json_array(json(?5)) END, "
        "1, 1, ?6, 0, ?7) "
        "ON CONFLICT(key) DO UPDATE SET "
        "data = CASE WHEN ?5 IS NULL THEN data ELSE json_insert(data, '$[#]', json(?5)) END, "
        "version = version + 1, "
        "not_before = CASE WHEN pending = 1 THEN not_before "
        "ELSE MAX(?6, COALESCE(sent_at, 0) + ?8) END, "
        "pending = 1",
        [key, kind, request_id, target, entry, now + delay, utcnow(), gap],
    )


def due(database: Database, now: float, skip_lanes: list[str], limit: int) -> list[OutboxRow]:
    """Pending rows whose time has come, oldest first, leaving out those waiting for a lane
    that is still held back."""
    marks = ", ".join("?" for _ in skip_lanes)
    skip = f"AND (lane IS NULL OR lane NOT IN ({marks})) " if skip_lanes else ""
    rows = database.query(
        f"SELECT * FROM slack_outbox WHERE pending = 1 AND not_before <= ? {skip}"
        "ORDER BY not_before, rowid LIMIT ?",
        [now, *skip_lanes, limit],
    )
    return [OutboxRow.of(row) for row in rows]


def pending_row(database: Database, key: str, now: float) -> OutboxRow | None:
    """The row `key` as it is now, if it is still pending and due (a list from `due` may be
    a moment old: another process may have sent it since)."""
    row = database.one(
        "SELECT * FROM slack_outbox WHERE key = ? AND pending = 1 AND not_before <= ?", [key, now]
    )
    return None if row is None else OutboxRow.of(row)


def finish(
    database: Database, key: str, version: int, consumed: int, now: float, gap: float
) -> bool:
    """The send of `key` (at `version`) went through, its first `consumed` data entries with
    it. False when the row was marked again meanwhile: it stays pending, `gap` from now."""
    with database.tx() as db:
        row = fetch_one(db, "SELECT version, data FROM slack_outbox WHERE key = ?", [key])
        if row is None:
            return True
        data = json.loads(row["data"] or "[]")[consumed:]
        again = int(row["version"]) != version or bool(data)
        db.execute(
            "UPDATE slack_outbox SET pending = ?, data = ?, sent_at = ?, tries = 0, lane = NULL, "
            "last_error = NULL, not_before = ? WHERE key = ?",
            [int(again), json.dumps(data), now, now + gap if again else now, key],
        )
        return not again


def later(
    database: Database,
    key: str,
    not_before: float,
    *,
    lane: str | None = None,
    error: str | None = None,
) -> None:
    """Not now: held back by a lane (`lane`), or failed for now (`error`: one more try)."""
    database.execute(
        "UPDATE slack_outbox SET not_before = ?, lane = ?, "
        "tries = tries + (CASE WHEN ?3 IS NULL THEN 0 ELSE 1 END), "
        "last_error = COALESCE(?3, last_error) WHERE key = ?4",
        [not_before, lane, error, key],
    )


def drop(database: Database, key: str) -> None:
    """Given up: nothing will be sent for it (logged by the caller)."""
    database.execute(
        "UPDATE slack_outbox SET pending = 0, data = '[]', lane = NULL WHERE key = ?", [key]
    )


def next_due(database: Database) -> float | None:
    return database.scalar("SELECT MIN(not_before) FROM slack_outbox WHERE pending = 1")


def pending(database: Database) -> int:
    return int(database.scalar("SELECT COUNT(*) FROM slack_outbox WHERE pending = 1") or 0)


def forget_sent(database: Database, before: float) -> None:
    """Sent rows whose gap is long over."""
    database.execute("DELETE FROM slack_outbox WHERE pending = 0 AND sent_at < ?", [before])
