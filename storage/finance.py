"""What the month's finance export reads: every order of the month's requests with the
request's columns beside it, the last decision event of a request, and the refunds per order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from plumbing.jsonutil import loads
from storage.db import Database

CHUNK = 500  # ids per IN (…): well under SQLite's limit on bound values


def month_orders(database: Database, first: str, end: str) -> list[dict[str, Any]]:
    """Orders of requests created in [first, end), by request then order, each row the order's
    columns (`details` decoded) and its request's as r_requester_id, r_requester_name,
    r_state, r_auto, r_decided_by, r_decided_at."""
    rows = database.query(
        "SELECT o.*, r.requester_id AS r_requester_id, r.requester_name AS r_requester_name, "
        "r.state AS r_state, r.auto_approved AS r_auto, r.decided_by AS r_decided_by, "
        "r.decided_at AS r_decided_at "
        "FROM orders o JOIN requests r ON r.id = o.request_id "
        "WHERE r.created_at >= ? AND r.created_at < ? ORDER BY o.request_id, o.id",
        [first, end],
    )
    for row in rows:
        row["details"] = loads(row["details"]) if row.get("details") else {}
    return rows


def request_columns(database: Database, request_id: int) -> dict[str, Any]:
    """A request's row as it is stored (every column, by name); {} when there is none."""
    return database.one("SELECT * FROM requests WHERE id = ?", [request_id]) or {}


def last_event_data(database: Database, request_id: int, kinds: Sequence[str]) -> Any:
    """The data of the request's latest event of one of `kinds` ({} when none)."""
    marks = ", ".join("?" for _ in kinds)
    event = database.one(
        f"SELECT data FROM events WHERE request_id = ? AND kind IN ({marks}) "
        "ORDER BY id DESC LIMIT 1",
        [request_id, *kinds],
    )
    return loads(event["data"]) if event and event.get("data") else {}


def refunds_by_order(database: Database, order_ids: Sequence[int]) -> dict[int, Decimal]:
    """What came back per order: the refund rows of the budget ledger, as positive amounts."""
    refunds: dict[int, Decimal] = defaultdict(Decimal)
    for start in range(0, len(order_ids), CHUNK):
        chunk = list(order_ids[start : start + CHUNK])
        marks = ", ".join("?" for _ in chunk)
        for order_id, amount in database.db.execute(
            f"SELECT order_id, amount FROM budget_ledger WHERE kind = 'refund' "
            f"AND order_id IN ({marks})",
            chunk,
        ).fetchall():
            refunds[order_id] -= Decimal(amount)
    return refunds
