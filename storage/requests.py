"""Reward requests: one requester, one or more orders, one approval decision."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import sqlite_utils

from storage import events
from storage.db import Database, set_state, utcnow
from storage.models import EventKind, RequestRow


def insert(
    db: sqlite_utils.Database,
    *,
    requester_id: str,
    requester_name: str | None,
    source: str,
    total_cost: Decimal,
    currency: str | None,
    channel_id: str | None = None,
    message: str = "",
    idempotency_key: str | None = None,
    created_at: str | None = None,
    source_link: str | None = None,
    confirmed_by: str | None = None,
) -> int:
    now = created_at or utcnow()
    table = db.table("requests")
    table.insert(
        {
            "requester_id": requester_id,
            "requester_name": requester_name,
            "source": source,
            "channel_id": channel_id,
            "message": message,
            "state": "pending_approval",
            "total_cost": str(total_cost),
            "currency": currency,
            "idempotency_key": idempotency_key,
            "source_link": source_link,
            "created_at": now,
            "updated_at": now,
            # only when there is one: a file an older migration made has no such column
            **({"confirmed_by": confirmed_by} if confirmed_by else {}),
        }
    )
    return int(table.last_rowid or 0)


def get(database: Database, request_id: int) -> RequestRow | None:
    row = database.one("SELECT * FROM requests WHERE id = ?", [request_id])
    return RequestRow.model_validate(row) if row else None


def by_ids(database: Database, request_ids: Iterable[int]) -> dict[int, RequestRow]:
    """Several requests by id in one read (those not in the record are absent)."""
    wanted = list(dict.fromkeys(request_ids))
    found: dict[int, RequestRow] = {}
    for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = database.query(f"SELECT * FROM requests WHERE id IN ({marks})", chunk)
        found.update({int(row["id"]): RequestRow.model_validate(row) for row in rows})
    return found


def by_idempotency_key(database: Database, key: str) -> RequestRow | None:
    row = database.one("SELECT * FROM requests WHERE idempotency_key = ?", [key])
    return RequestRow.model_validate(row) if row else None


def transition(
    db: sqlite_utils.Database,
    request_id: int,
    from_state: str,
    to_state: str,
    *,
    actor: str,
    kind: str,
    reason: str | None = None,
    fields: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> RequestRow | None:
    """Compare-and-set the request's state; None when it was no longer `from_state`."""
    row = set_state(db, "requests", request_id, [from_state], to_state, fields)
    if row is None:
        return None
    events.append(
        db,
        kind,
        request_id=request_id,
        actor=actor,
        from_state=from_state,
        to_state=to_state,
        reason=reason,
        data=data,
    )
    return RequestRow.model_validate(row)


def for_requester(database: Database, requester_id: str, limit: int = 10) -> list[RequestRow]:
    """The requester's latest requests, newest first: read backwards along the
    (requester_id, created_at) index, so a heavy requester's history is not sorted whole."""
    rows = database.query(
        "SELECT * FROM requests WHERE requester_id = ? ORDER BY created_at DESC, id DESC LIMIT ?",
        [requester_id, limit],
    )
    return [RequestRow.model_validate(row) for row in rows]


def waiting(database: Database, limit: int = -1) -> list[RequestRow]:
    """Requests waiting for approval, oldest first (every one unless `limit`: each requester
    has at most REWARDS_MAX_WAITING, so they are as many as the people who ask)."""
    rows = database.query(
        "SELECT * FROM requests WHERE state = 'pending_approval' ORDER BY id LIMIT ?", [limit]
    )
    return [RequestRow.model_validate(row) for row in rows]


def waiting_count(database: Database, requester_id: str) -> int:
    """How many requests of `requester_id` wait for approval (the index on requester serves)."""
    return int(
        database.scalar(
            "SELECT COUNT(*) FROM requests WHERE requester_id = ? AND state = 'pending_approval'",
            [requester_id],
        )
    )


def count_by_state(database: Database) -> dict[str, int]:
    """Requests per state, from the counts the triggers keep (it does not read every request)."""
    rows = database.query("SELECT state, n FROM request_state_counts WHERE n > 0")
    return {row["state"]: row["n"] for row in rows}


def stranded_auto_approvals(database: Database) -> list[int]:
    """Waiting requests recorded as auto-approvable that were neither approved nor sent to the
    approvers (request.created says auto_approvable; no request.needs_approval followed)."""
    rows = database.query(
        "SELECT r.id FROM requests r WHERE r.state = 'pending_approval' "
        "AND EXISTS (SELECT 1 FROM events e WHERE e.request_id = r.id "
        "  AND e.kind = ? AND json_extract(e.data, '$.auto_approvable')) "
        "AND NOT EXISTS (SELECT 1 FROM events e WHERE e.request_id = r.id "
        "  AND e.kind = ?) ORDER BY r.id",
        [EventKind.REQUEST_CREATED, EventKind.REQUEST_NEEDS_APPROVAL],
    )
    return [row["id"] for row in rows]
