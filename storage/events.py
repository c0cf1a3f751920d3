"""The append-only event log: every transition, decision and delivery, with who and why."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import sqlite_utils

from plumbing.jsonutil import dumps
from storage.db import Database, utcnow
from storage.models import EventRow


def append(
    db: sqlite_utils.Database,
    kind: str,
    *,
    request_id: int | None = None,
    order_id: int | None = None,
    actor: str | None = None,
    from_state: str | None = None,
    to_state: str | None = None,
    reason: str | None = None,
    data: dict[str, Any] | None = None,
) -> int:
    """Record an event inside the caller's transaction."""
    table = db.table("events")
    table.insert(
        {
            "at": utcnow(),
            "kind": kind,
            "request_id": request_id,
            "order_id": order_id,
            "actor": actor,
            "from_state": from_state,
            "to_state": to_state,
            "reason": reason,
            "data": dumps(data or {}),
        }
    )
    return int(table.last_rowid or 0)


def after(database: Database, last_id: int, limit: int = 100) -> list[EventRow]:
    rows = database.query("SELECT * FROM events WHERE id > ? ORDER BY id LIMIT ?", [last_id, limit])
    return [EventRow.model_validate(row) for row in rows]


def get(database: Database, event_id: int) -> EventRow | None:
    row = database.one("SELECT * FROM events WHERE id = ?", [event_id])
    return EventRow.model_validate(row) if row else None


def for_request(database: Database, request_id: int) -> list[EventRow]:
    rows = database.query("SELECT * FROM events WHERE request_id = ? ORDER BY id", [request_id])
    return [EventRow.model_validate(row) for row in rows]


def last_id_for_request(database: Database, request_id: int) -> int:
    """The id of the request's latest event (0 when it has none)."""
    return int(
        database.scalar("SELECT MAX(id) FROM events WHERE request_id = ?", [request_id]) or 0
    )


def for_order(database: Database, order_id: int) -> list[EventRow]:
    rows = database.query("SELECT * FROM events WHERE order_id = ? ORDER BY id", [order_id])
    return [EventRow.model_validate(row) for row in rows]


def request_ids_between(database: Database, kind: str, after_id: int, up_to_id: int) -> list[int]:
    """The requests of the events of `kind` after event `after_id`, up to `up_to_id`."""
    rows = database.db.execute(
        "SELECT request_id FROM events WHERE id > ? AND id <= ? AND kind = ? "
        "AND request_id IS NOT NULL",
        [after_id, up_to_id, kind],
    ).fetchall()
    return sorted({int(request_id) for (request_id,) in rows})


def last_id(database: Database) -> int:
    return int(database.scalar("SELECT COALESCE(MAX(id), 0) FROM events"))


def count_after(database: Database, last_id: int, kinds: Iterable[str], cap: int = 1_000) -> int:
    """Events after `last_id` of one of `kinds` (what a consumer has not handed over yet),
    counted up to `cap`: a cursor left far behind (a consumer that stopped for good) must not
    make every /metrics scrape walk millions of events; `cap` already says "far behind"."""
    wanted = sorted(kinds)
    marks = ", ".join("?" for _ in wanted) or "NULL"
    return int(
        database.scalar(
            "SELECT COUNT(*) FROM ("
            f"SELECT 1 FROM events WHERE id > ? AND kind IN ({marks}) LIMIT ?)",
            [last_id, *wanted, cap],
        )
        or 0
    )
