"""What people were given: a recipient's earlier rewards (the duplicate warning) and the
rewards they received (their Home tab), each with its request."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from storage import requests as request_store
from storage.db import Database
from storage.models import OrderRow, RequestRow


def earlier_rewards(
    database: Database,
    recipient_ids: Sequence[str],
    emails: Sequence[str],
    *,
    since: str,
    not_in_states: Iterable[str],
    before_request: int | None = None,
) -> list[tuple[OrderRow, RequestRow]]:
    """Orders to these members (by id) or addresses (lower-cased), of requests recorded since
    `since` (and before request `before_request`), newest first, leaving out those in
    `not_in_states`."""
    gone = list(not_in_states)
    marks_ids = ", ".join("?" for _ in recipient_ids) or "NULL"
    marks_mails = ", ".join("?" for _ in emails) or "NULL"
    marks_gone = ", ".join("?" for _ in gone) or "NULL"
    rows = database.query(
        "SELECT o.id AS order_id, r.id AS request_id FROM orders o "
        "JOIN requests r ON r.id = o.request_id "
        f"WHERE (o.recipient_id IN ({marks_ids}) OR lower(o.email) IN ({marks_mails})) "
        # An order is recorded with its request or after it: `o.created_at >= since` leaves
        # out nothing the request's time keeps, and lets the (recipient_id, created_at)
        # index start at `since` instead of reading a recipient's every reward.
        f"AND r.created_at >= ? AND o.created_at >= ? AND o.state NOT IN ({marks_gone}) "
        "AND r.id < ? ORDER BY o.id DESC",
        [*recipient_ids, *emails, since, since, *gone, before_request or 2**62],
    )
    found = []
    for row in rows:
        order = database.one("SELECT * FROM orders WHERE id = ?", [row["order_id"]])
        request = request_store.get(database, row["request_id"])
        if order is not None and request is not None:
            found.append((OrderRow.model_validate(order), request))
    return found


def received(
    database: Database, recipient_id: str, states: Sequence[str], limit: int
) -> list[tuple[OrderRow, RequestRow]]:
    """The latest orders to `recipient_id` in `states`, newest first, with their requests
    (read backwards along the (recipient_id, created_at) index: nothing is sorted; the
    requests in one read)."""
    marks = ", ".join("?" for _ in states)
    rows = database.query(
        f"SELECT * FROM orders WHERE recipient_id = ? AND state IN ({marks}) "
        "ORDER BY created_at DESC, id DESC LIMIT ?",
        [recipient_id, *states, limit],
    )
    orders = [OrderRow.model_validate(row) for row in rows]
    requests = request_store.by_ids(database, [order.request_id for order in orders])
    return [(order, requests[order.request_id]) for order in orders if order.request_id in requests]
