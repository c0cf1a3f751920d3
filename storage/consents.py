"""Workflow consents: a `send_reward` step's question to the person who ran it, and the answer.

Plain rows and compare-and-set transitions; what they mean is services/consent.py's call.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlite_utils

from storage.db import Database, fetch_one, utcnow

ASKED = "asked"
SENDING = "sending"


@dataclass(frozen=True)
class ConsentRow:
    execution_id: str
    workflow_execution_id: str | None
    runner: str
    inputs: dict[str, Any]
    state: str
    asked_at: float
    expires_at: float
    channel: str | None
    ts: str | None
    request_id: int | None
    reason: str | None
    updated_at: str

    @classmethod
    def of(cls, row: dict[str, Any]) -> ConsentRow:
        return cls(**{**row, "inputs": json.loads(row["inputs"] or "{}")})


def get(database: Database, execution_id: str) -> ConsentRow | None:
    row = database.one("SELECT * FROM workflow_consents WHERE execution_id = ?", [execution_id])
    return ConsentRow.of(row) if row else None


def insert(
    db: sqlite_utils.Database,
    *,
    execution_id: str,
    workflow_execution_id: str | None,
    runner: str,
    inputs: dict[str, Any],
    asked_at: float,
    expires_at: float,
) -> bool:
    """Record the question once per execution (False: it was recorded before)."""
    cursor = db.execute(
        "INSERT OR IGNORE INTO workflow_consents (execution_id, workflow_execution_id, runner, "
        "inputs, state, asked_at, expires_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        [
            execution_id,
            workflow_execution_id,
            runner,
            json.dumps(inputs, sort_keys=True),
            ASKED,
            asked_at,
            expires_at,
            utcnow(),
        ],
    )
    return cursor.rowcount == 1


def set_message(db: sqlite_utils.Database, execution_id: str, channel: str, ts: str) -> None:
    """Where the DM that asks is (to change it once answered)."""
    db.execute(
        "UPDATE workflow_consents SET channel = ?, ts = ?, updated_at = ? WHERE execution_id = ?",
        [channel, ts, utcnow(), execution_id],
    )


def move(
    db: sqlite_utils.Database,
    execution_id: str,
    from_states: tuple[str, ...],
    to_state: str,
    *,
    request_id: int | None = None,
    reason: str | None = None,
) -> ConsentRow | None:
    """Compare-and-set: the row in its new state, or None when it was in none of
    `from_states`."""
    marks = ", ".join("?" for _ in from_states)
    row = fetch_one(
        db,
        "UPDATE workflow_consents SET state = ?, request_id = COALESCE(?, request_id), "
        "reason = COALESCE(?, reason), updated_at = ? "
        f"WHERE execution_id = ? AND state IN ({marks}) RETURNING *",
        [to_state, request_id, reason, utcnow(), execution_id, *from_states],
    )
    return ConsentRow.of(row) if row else None


def due(database: Database, state: str, before: float, limit: int = 100) -> list[ConsentRow]:
    """Questions in `state` whose time ran out before `before`, oldest first."""
    rows = database.query(
        "SELECT * FROM workflow_consents WHERE state = ? AND expires_at <= ? "
        "ORDER BY expires_at LIMIT ?",
        [state, before, limit],
    )
    return [ConsentRow.of(row) for row in rows]
