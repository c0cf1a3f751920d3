"""Orders: one per recipient, each with its own poNumber, moved only by compare-and-set."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import Any

import sqlite_utils

from plumbing.jsonutil import dumps
from storage import events
from storage.db import Database, fetch_one, set_state, utcnow
from storage.models import EventKind, OrderRow


def insert(db: sqlite_utils.Database, row: dict[str, Any]) -> int:
    """A new order inside the caller's transaction; `row` carries at least the not-null columns."""
    now = utcnow()
    table = db.table("orders")
    if isinstance(row.get("details"), dict):
        row = {**row, "details": dumps(row["details"]) if row["details"] else None}
    table.insert({"state": "pending_approval", "created_at": now, "updated_at": now, **row})
    return int(table.last_rowid or 0)


def get(database: Database, order_id: int) -> OrderRow | None:
    row = database.one("SELECT * FROM orders WHERE id = ?", [order_id])
    return OrderRow.model_validate(row) if row else None


def by_po(database: Database, po_number: str) -> OrderRow | None:
    row = database.one("SELECT * FROM orders WHERE po_number = ?", [po_number])
    return OrderRow.model_validate(row) if row else None


def by_xoxoday_id(database: Database, xoxoday_order_id: int) -> OrderRow | None:
    row = database.one("SELECT * FROM orders WHERE xoxoday_order_id = ?", [xoxoday_order_id])
    return OrderRow.model_validate(row) if row else None


def for_request(database: Database, request_id: int) -> list[OrderRow]:
    rows = database.query("SELECT * FROM orders WHERE request_id = ? ORDER BY id", [request_id])
    return [OrderRow.model_validate(row) for row in rows]


def for_requests(database: Database, request_ids: Iterable[int]) -> dict[int, list[OrderRow]]:
    """The orders of several requests (the Home's lists), by request, each request's in id
    order: one read along the request_id index instead of one per request (nothing sorted)."""
    wanted = list(dict.fromkeys(request_ids))
    found: dict[int, list[OrderRow]] = {request_id: [] for request_id in wanted}
    for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = database.query(
            f"SELECT * FROM orders WHERE request_id IN ({marks}) ORDER BY request_id, id", chunk
        )
        for row in rows:
            found[int(row["request_id"])].append(OrderRow.model_validate(row))
    return found


def recipients_of_waiting(database: Database) -> dict[int, list[str | None]]:
    """The recipients' member ids of every request waiting for approval, by request, in one
    read (None for a recipient known by email only)."""
    rows = database.query(
        "SELECT o.request_id, o.recipient_id FROM orders o JOIN requests r ON r.id = o.request_id "
        "WHERE r.state = 'pending_approval' ORDER BY o.id"
    )
    found: dict[int, list[str | None]] = {}
    for row in rows:
        found.setdefault(int(row["request_id"]), []).append(row["recipient_id"])
    return found


def transition(
    db: sqlite_utils.Database,
    order_id: int,
    from_states: str | Iterable[str],
    to_state: str,
    *,
    actor: str,
    kind: str,
    reason: str | None = None,
    fields: dict[str, Any] | None = None,
    data: dict[str, Any] | None = None,
) -> OrderRow | None:
    """Compare-and-set one order's state and log it; None if it was in none of `from_states`."""
    allowed = [from_states] if isinstance(from_states, str) else list(from_states)
    before = fetch_one(db, "SELECT state, request_id FROM orders WHERE id = ?", [order_id])
    if before is None or before["state"] not in allowed:
        return None
    row = set_state(db, "orders", order_id, allowed, to_state, fields)
    if row is None:
        return None
    events.append(
        db,
        kind,
        request_id=before["request_id"],
        order_id=order_id,
        actor=actor,
        from_state=before["state"],
        to_state=to_state,
        reason=reason,
        data=data,
    )
    return OrderRow.model_validate(row)


def withdraw_waiting(
    db: sqlite_utils.Database, request_id: int, *, actor: str, reason: str | None
) -> int:
    """Withdraw every order of a closed request still waiting for approval, with its event,
    inside the decision's transaction: two statements whatever the request's size (the index
    on request_id finds its orders). How many were withdrawn.

    Call it once the request itself has left `pending_approval` (its compare-and-set won):
    its withdrawn orders are then exactly these. Their reserves are given back after the
    answer (storage/ledger.py `queue_releases`)."""
    now = utcnow()
    withdrawn = db.execute(
        "UPDATE orders SET state = 'withdrawn', updated_at = ? "
        "WHERE request_id = ? AND state = 'pending_approval'",
        [now, request_id],
    ).rowcount
    db.execute(
        "INSERT INTO events (at, kind, request_id, order_id, actor, from_state, to_state, "
        "reason, data) SELECT ?, ?, request_id, id, ?, 'pending_approval', 'withdrawn', ?, '{}' "
        "FROM orders WHERE request_id = ? AND state = 'withdrawn' ORDER BY id",
        [now, EventKind.ORDER_WITHDRAWN.value, actor, reason, request_id],
    )
    return withdrawn


def claim_next(database: Database, worker: str, now: float) -> OrderRow | None:
    """Take the next due queued order for placement (queued -> placing), or None.

    `sent_at` is set here, before anything can be sent, and again right before the request
    leaves (`mark_sent`): whatever happens after the claim, the in-flight window of the
    attempt never starts later than the attempt itself.
    """
    with database.tx() as db:
        candidate = fetch_one(
            db,
            "SELECT id FROM orders WHERE state = 'queued' AND next_attempt_at <= ? "
            "ORDER BY next_attempt_at, id LIMIT 1",
            [now],
        )
        if candidate is None:
            return None
        attempts = db.execute(
            "SELECT attempts FROM orders WHERE id = ?", [candidate["id"]]
        ).fetchone()[0]
        return transition(
            db,
            candidate["id"],
            "queued",
            "placing",
            actor=worker,
            kind=EventKind.ORDER_CLAIMED,
            fields={
                "claimed_by": worker,
                "attempts": attempts + 1,
                "sent_at": now,
                "not_found_at": None,
            },
        )


def mark_sent(database: Database, order_id: int, now: float) -> None:
    """The placeOrder request of a `placing` order is about to leave: its window starts now."""
    with database.tx() as db:
        db.execute(
            "UPDATE orders SET sent_at = ? WHERE id = ? AND state = 'placing'", [now, order_id]
        )


def in_states(database: Database, states: Iterable[str], limit: int = 1000) -> list[OrderRow]:
    wanted = list(states)
    marks = ", ".join("?" for _ in wanted)
    rows = database.query(
        f"SELECT * FROM orders WHERE state IN ({marks}) ORDER BY id LIMIT ?", [*wanted, limit]
    )
    return [OrderRow.model_validate(row) for row in rows]


def due(database: Database, state: str, column: str, now: float, limit: int = 50) -> list[OrderRow]:
    """Orders in `state` whose `column` time (next_attempt_at / next_poll_at) has come."""
    assert column in ("next_attempt_at", "next_poll_at")
    rows = database.query(
        f"SELECT * FROM orders WHERE state = ? AND {column} <= ? ORDER BY {column}, id LIMIT ?",
        [state, now, limit],
    )
    return [OrderRow.model_validate(row) for row in rows]


def next_due_time(database: Database, state: str, column: str) -> float | None:
    assert column in ("next_attempt_at", "next_poll_at")
    return database.scalar(f"SELECT MIN({column}) FROM orders WHERE state = ?", [state])


def committed_cost(database: Database, states: Iterable[str]) -> Decimal:
    """The summed cost estimate of the orders in `states`, added up as Decimal (not REAL)."""
    wanted = list(states)
    marks = ", ".join("?" for _ in wanted)
    rows = database.db.execute(
        f"SELECT cost_estimate FROM orders WHERE state IN ({marks})", wanted
    ).fetchall()
    return sum((Decimal(cost) for (cost,) in rows if cost), Decimal(0))


def count_by_state(database: Database) -> dict[str, int]:
    """Orders per state, from the counts the triggers keep (it does not scan the table)."""
    rows = database.query("SELECT state, n FROM order_state_counts WHERE n > 0")
    return {row["state"]: row["n"] for row in rows}


def recent(
    database: Database, limit: int = 50, state: str | None = None, before_id: int | None = None
) -> list[OrderRow]:
    clauses, params = [], []
    if state:
        clauses.append("state = ?")
        params.append(state)
    if before_id:
        clauses.append("id < ?")
        params.append(before_id)
    where = f"WHERE {' AND '.join(clauses)}" if clauses else ""
    rows = database.query(
        f"SELECT * FROM orders {where} ORDER BY id DESC LIMIT ?", [*params, limit]
    )
    return [OrderRow.model_validate(row) for row in rows]


def iter_all(database: Database, batch: int = 500) -> Iterable[OrderRow]:
    last = 0
    while True:
        rows = database.query(
            "SELECT * FROM orders WHERE id > ? ORDER BY id LIMIT ?", [last, batch]
        )
        if not rows:
            return
        for row in rows:
            yield OrderRow.model_validate(row)
        last = rows[-1]["id"]


def placed_between(database: Database, first: str, end: str) -> list[OrderRow]:
    """Orders Xoxoday took (an orderId recorded) whose placement was recorded from `first`
    up to `end` (ISO dates or times, UTC; `end` excluded): the audit's "ours" of a day."""
    rows = database.query(
        "SELECT * FROM orders WHERE xoxoday_order_id IS NOT NULL AND placed_at >= ? "
        "AND placed_at < ? ORDER BY id",
        [first, end],
    )
    return [OrderRow.model_validate(row) for row in rows]


def by_po_numbers(database: Database, po_numbers: Iterable[str]) -> dict[str, OrderRow]:
    """The orders with these poNumbers, by poNumber (those not in the record are absent)."""
    wanted = sorted(set(po_numbers))
    found: dict[str, OrderRow] = {}
    for start in range(0, len(wanted), 500):  # SQLite's limit on bound parameters
        chunk = wanted[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = database.query(f"SELECT * FROM orders WHERE po_number IN ({marks})", chunk)
        found.update({row["po_number"]: OrderRow.model_validate(row) for row in rows})
    return found


def claim_email_resend(
    db: sqlite_utils.Database, order_id: int, now: float, every_s: float
) -> tuple[bool, float | None]:
    """Take the delivered order's once-per-`every_s` resend of its code by email, inside the
    caller's write transaction: (taken, when it was last taken before: None for never, to put
    back if Xoxoday cannot send it, or to say when the next one is allowed)."""
    row = fetch_one(
        db, "SELECT email_resent_at FROM orders WHERE id = ? AND state = 'delivered'", [order_id]
    )
    if row is None:
        return False, None
    before = row["email_resent_at"]
    if before is not None and before > now - every_s:
        return False, before
    cursor = db.execute(
        "UPDATE orders SET email_resent_at = ? WHERE id = ? AND email_resent_at IS ?",
        [now, order_id, before],
    )
    return cursor.rowcount == 1, before


def release_email_resend(
    db: sqlite_utils.Database, order_id: int, taken_at: float, before: float | None
) -> None:
    """Xoxoday did not send it: the resend taken at `taken_at` is given back."""
    db.execute(
        "UPDATE orders SET email_resent_at = ? WHERE id = ? AND email_resent_at = ?",
        [before, order_id, taken_at],
    )
