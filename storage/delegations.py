"""Delegations: an approver's stand-in until a day (inclusive), one per approver.

Plain rows; who may delegate and what a delegate may do is services/delegation.py's call.
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from storage.db import Database, fetch_one, utcnow


@dataclass(frozen=True)
class DelegationRow:
    approver_id: str
    delegate_id: str
    until: str  # YYYY-MM-DD, the last day the delegate stands in
    created_at: str


def put(db: sqlite_utils.Database, approver_id: str, delegate_id: str, until: str) -> DelegationRow:
    """Set (or replace) the approver's delegate, inside the caller's transaction."""
    row = fetch_one(
        db,
        "INSERT INTO delegations (approver_id, delegate_id, until, created_at) "
        "VALUES (?, ?, ?, ?) ON CONFLICT(approver_id) DO UPDATE SET "
        "delegate_id = excluded.delegate_id, until = excluded.until, "
        "created_at = excluded.created_at RETURNING *",
        [approver_id, delegate_id, until, utcnow()],
    )
    assert row is not None
    return DelegationRow(**row)


def remove(db: sqlite_utils.Database, approver_id: str) -> DelegationRow | None:
    """End the approver's delegation; the row it was, or None when there was none."""
    row = fetch_one(db, "DELETE FROM delegations WHERE approver_id = ? RETURNING *", [approver_id])
    return DelegationRow(**row) if row else None


def of(database: Database, approver_id: str, today: str) -> DelegationRow | None:
    """The approver's delegation if it still runs on `today` (YYYY-MM-DD)."""
    row = database.one(
        "SELECT * FROM delegations WHERE approver_id = ? AND until >= ?", [approver_id, today]
    )
    return DelegationRow(**row) if row else None


def for_delegate(database: Database, delegate_id: str, today: str) -> list[DelegationRow]:
    """The running delegations naming `delegate_id`, by approver."""
    rows = database.query(
        "SELECT * FROM delegations WHERE delegate_id = ? AND until >= ? ORDER BY approver_id",
        [delegate_id, today],
    )
    return [DelegationRow(**row) for row in rows]


def running(database: Database, today: str) -> list[DelegationRow]:
    rows = database.query(
        "SELECT * FROM delegations WHERE until >= ? ORDER BY approver_id", [today]
    )
    return [DelegationRow(**row) for row in rows]


def current(database: Database, approver_id: str) -> DelegationRow | None:
    """The approver's delegation row, whether or not its last day has passed."""
    row = database.one("SELECT * FROM delegations WHERE approver_id = ?", [approver_id])
    return DelegationRow(**row) if row else None


def every(database: Database) -> list[DelegationRow]:
    """Every delegation row, running or dated out, by approver."""
    rows = database.query("SELECT * FROM delegations ORDER BY approver_id")
    return [DelegationRow(**row) for row in rows]


def remove_exactly(db: sqlite_utils.Database, row: DelegationRow) -> bool:
    """End the delegation `row` if it is still the one recorded (compare-and-set: one set
    again in the meantime, or ended by someone else, stays as it is)."""
    cursor = db.execute(
        "DELETE FROM delegations WHERE approver_id = ? AND delegate_id = ? AND until = ? "
        "AND created_at = ?",
        [row.approver_id, row.delegate_id, row.until, row.created_at],
    )
    return cursor.rowcount == 1
