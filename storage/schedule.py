"""Due times of waiting requests, claimed by compare-and-set.

Each claim is one UPDATE whose WHERE clause names what the claimer saw (the request still
waiting, the count of reminders it read, escalation not yet done), run inside the caller's
write transaction (BEGIN IMMEDIATE) with the event it causes: two schedulers, in one process
or two, can both see a reminder due, yet only one UPDATE matches, so only one event is written.
"""

from __future__ import annotations

import sqlite_utils

from storage.db import Database, fetch_one, utcnow
from storage.models import RequestRow

WAITING = "pending_approval"


def unscheduled(database: Database, limit: int = 500) -> list[RequestRow]:
    """Waiting requests the scheduler has not given due times yet, oldest first."""
    rows = database.query(
        "SELECT * FROM requests WHERE state = ? AND expires_at IS NULL ORDER BY id LIMIT ?",
        [WAITING, limit],
    )
    return [RequestRow.model_validate(row) for row in rows]


def schedule(
    db: sqlite_utils.Database,
    request_id: int,
    *,
    remind_at: float | None,
    escalate_at: float | None,
    expires_at: float,
) -> bool:
    """Give a waiting request its due times, once (False: already done, or decided)."""
    cursor = db.execute(
        "UPDATE requests SET remind_at = ?, escalate_at = ?, expires_at = ? "
        "WHERE id = ? AND state = ? AND expires_at IS NULL",
        [remind_at, escalate_at, expires_at, request_id, WAITING],
    )
    return cursor.rowcount == 1


def due(database: Database, column: str, now: float, limit: int = 100) -> list[RequestRow]:
    """Waiting requests whose `column` time has come, earliest first."""
    assert column in ("remind_at", "escalate_at", "expires_at")
    rows = database.query(
        f"SELECT * FROM requests WHERE state = ? AND {column} <= ? ORDER BY {column}, id LIMIT ?",
        [WAITING, now, limit],
    )
    return [RequestRow.model_validate(row) for row in rows]


def claim_reminder(
    db: sqlite_utils.Database, request_id: int, seen: int, now: float, next_at: float | None
) -> int | None:
    """Count one more reminder if the request still waits with `seen` sent and one due; the
    new count, or None when another scheduler (or a decision) came first."""
    row = fetch_one(
        db,
        "UPDATE requests SET reminders_sent = reminders_sent + 1, remind_at = ?, updated_at = ? "
        "WHERE id = ? AND state = ? AND reminders_sent = ? AND remind_at <= ? "
        "RETURNING reminders_sent",
        [next_at, utcnow(), request_id, WAITING, seen, now],
    )
    return int(row["reminders_sent"]) if row else None


def claim_escalation(db: sqlite_utils.Database, request_id: int, now: float) -> bool:
    """Mark a waiting request escalated, once."""
    cursor = db.execute(
        "UPDATE requests SET escalated_at = ?, escalate_at = NULL, updated_at = ? "
        "WHERE id = ? AND state = ? AND escalated_at IS NULL AND escalate_at <= ?",
        [utcnow(), utcnow(), request_id, WAITING, now],
    )
    return cursor.rowcount == 1


def next_due(database: Database) -> float | None:
    """The earliest due time of any waiting request (None: nothing scheduled)."""
    return database.scalar(
        "SELECT MIN(t) FROM (SELECT MIN(remind_at) AS t FROM requests WHERE state = ?1 "
        "UNION ALL SELECT MIN(escalate_at) FROM requests WHERE state = ?1 "
        "UNION ALL SELECT MIN(expires_at) FROM requests WHERE state = ?1)",
        [WAITING],
    )
