"""What the month's finance export reads: every order of the month's requests with the
request's columns beside it, the last decision event of a request, and the refunds per order."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator, Sequence
from decimal import Decimal
from typing import Any

from plumbing.jsonutil import loads
from storage.db import Database

CHUNK = 500  # ids per IN (…): well under SQLite's limit on bound values


def month_order_chunks(
    database: Database, first: str, end: str, chunk: int = CHUNK
) -> Iterator[list[dict[str, Any]]]:
    """Orders of requests created in [first, end), by request then order, a chunk of
    requests at a time (memory stays flat however large the month), each row the order's
    columns (`details` decoded) and its request's as r_requester_id, r_requester_name,
    r_state, r_auto, r_decided_by, r_decided_at.

    The month's request ids come from the (created_at) index alone; each chunk's orders from
    the (request_id) index, in the order the ids are asked."""
    ids = sorted(
        request_id
        for (request_id,) in database.db.execute(
            "SELECT id FROM requests WHERE created_at >= ? AND created_at < ?", [first, end]
        ).fetchall()
    )
    for start in range(0, len(ids), chunk):
        part = ids[start : start + chunk]
        marks = ", ".join("?" for _ in part)
        rows = database.query(
            "SELECT o.*, r.requester_id AS r_requester_id, "
            "r.requester_name AS r_requester_name, r.state AS r_state, "
            "r.auto_approved AS r_auto, r.decided_by AS r_decided_by, "
            "r.decided_at AS r_decided_at "
            f"FROM orders o JOIN requests r ON r.id = o.request_id WHERE o.request_id IN ({marks}) "
            "ORDER BY o.request_id, o.id",
            part,
        )
        for row in rows:
            row["details"] = loads(row["details"]) if row.get("details") else {}
        yield rows


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
