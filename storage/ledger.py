"""The budget ledger: what each requester has committed this month, in the wallet currency.

Rows are signed and never updated: a reservation at request time, a release when a request is
rejected, cancelled or fails (or a recipient's choice expires), the change when a recipient
chooses something that costs less than the amount they were given, an adjustment to the
amount actually charged, a refund when Xoxoday cancels a delivery. The month is the month of
the request.
"""

from __future__ import annotations

from decimal import Decimal

import sqlite_utils

from storage.db import Database, utcnow
from storage.models import OrderRow, RequestRow


def add(
    db: sqlite_utils.Database,
    *,
    requester_id: str,
    month: str,
    amount: Decimal,
    kind: str,
    currency: str | None,
    request_id: int | None = None,
    order_id: int | None = None,
) -> None:
    if amount == 0:
        return
    db.table("budget_ledger").insert(
        {
            "at": utcnow(),
            "requester_id": requester_id,
            "month": month,
            "request_id": request_id,
            "order_id": order_id,
            "amount": str(amount),
            "currency": currency,
            "kind": kind,
        }
    )


def spent(database: Database, requester_id: str, month: str) -> Decimal:
    """The requester's committed total for the month (summed as Decimal, not REAL).

    A withdrawn order's rows count as nothing: its reserve is given back after the decision's
    answer (`queue_releases`), and until then it must not count as spent for any reader; once
    released its rows add up to nothing anyway."""
    rows = database.db.execute(
        "SELECT l.amount FROM budget_ledger l LEFT JOIN orders o ON o.id = l.order_id "
        "WHERE l.requester_id = ? AND l.month = ? AND o.state IS NOT 'withdrawn'",
        [requester_id, month],
    ).fetchall()
    return sum((Decimal(amount) for (amount,) in rows), Decimal(0))


def committed_for_order(
    database: Database, order_id: int, kinds: tuple[str, ...] | None = None
) -> Decimal:
    """What an order holds of its requester's budget; with `kinds`, only those rows
    (("reserve", "change", "adjust") is what it cost before anything came back)."""
    sql, params = "SELECT amount FROM budget_ledger WHERE order_id = ?", [order_id]
    if kinds:
        sql += f" AND kind IN ({', '.join('?' for _ in kinds)})"
        params += list(kinds)
    rows = database.db.execute(sql, params).fetchall()
    return sum((Decimal(amount) for (amount,) in rows), Decimal(0))


def month_of(iso_timestamp: str) -> str:
    return iso_timestamp[:7]


def give_back(
    db: sqlite_utils.Database, database: Database, order: OrderRow, request: RequestRow, kind: str
) -> None:
    """Return everything an order committed to its requester's month (release or refund)."""
    add(
        db,
        requester_id=request.requester_id,
        month=month_of(request.created_at),
        amount=-committed_for_order(database, order.id),
        kind=kind,
        currency=request.currency,
        request_id=request.id,
        order_id=order.id,
    )


def queue_releases(db: sqlite_utils.Database, request_id: int) -> None:
    """The withdrawn orders of a request just closed, to have their reserve given back after
    the answer (services/releases.py), queued in the transaction that withdrew them: one
    statement whatever the request's size."""
    db.execute(
        "INSERT OR IGNORE INTO budget_releases (order_id, queued_at) "
        "SELECT id, ? FROM orders WHERE request_id = ? AND state = 'withdrawn'",
        [utcnow(), request_id],
    )


def releases_due(database: Database, limit: int) -> list[int]:
    """Orders whose reserve is still to be given back, oldest first."""
    rows = database.db.execute(
        "SELECT order_id FROM budget_releases ORDER BY order_id LIMIT ?", [limit]
    ).fetchall()
    return [int(order_id) for (order_id,) in rows]


def take_release(db: sqlite_utils.Database, order_id: int) -> bool:
    """Take an order's queued release inside the transaction that gives its reserve back:
    False when another round took it first."""
    return db.execute("DELETE FROM budget_releases WHERE order_id = ?", [order_id]).rowcount == 1


def releases_pending(database: Database) -> int:
    return int(database.scalar("SELECT COUNT(*) FROM budget_releases") or 0)


def held(database: Database, requester_id: str, month: str) -> Decimal:
    """What `requester_id`'s requests still waiting for approval hold of `month`'s budget."""
    rows = database.db.execute(
        "SELECT l.amount FROM budget_ledger l JOIN requests r ON r.id = l.request_id "
        "WHERE l.requester_id = ? AND l.month = ? AND r.state = 'pending_approval'",
        [requester_id, month],
    ).fetchall()
    return sum((Decimal(amount) for (amount,) in rows), Decimal(0))


def last_id(database: Database) -> int:
    return int(database.scalar("SELECT COALESCE(MAX(id), 0) FROM budget_ledger"))


def approved_amounts_added(
    database: Database, month: str, after_id: int, up_to_id: int
) -> list[tuple[str, Decimal]]:
    """(reward type, amount) of `month`'s ledger lines of approved requests written after
    line `after_id`, up to `up_to_id` (read by id: only what was added)."""
    rows = database.db.execute(
        "SELECT o.reward_type, l.amount FROM budget_ledger l "
        "JOIN orders o ON o.id = l.order_id JOIN requests r ON r.id = l.request_id "
        "WHERE l.id > ? AND l.id <= ? AND l.month = ? AND r.state = 'approved'",
        [after_id, up_to_id, month],
    ).fetchall()
    return [(reward_type, Decimal(amount)) for reward_type, amount in rows]


def amounts_of_requests(
    database: Database, month: str, request_ids: list[int], up_to_id: int
) -> list[tuple[str, Decimal]]:
    """(reward type, amount) of these requests' ledger lines of `month` up to `up_to_id`."""
    found: list[tuple[str, Decimal]] = []
    for start in range(0, len(request_ids), 500):  # SQLite's limit on bound values
        part = request_ids[start : start + 500]
        marks = ", ".join("?" for _ in part)
        rows = database.db.execute(
            "SELECT o.reward_type, l.amount FROM budget_ledger l "
            "JOIN orders o ON o.id = l.order_id "
            f"WHERE l.month = ? AND l.request_id IN ({marks}) AND l.id <= ?",
            [month, *part, up_to_id],
        ).fetchall()
        found += [(reward_type, Decimal(amount)) for reward_type, amount in rows]
    return found


def approved_amounts_by_type(database: Database, month: str) -> list[tuple[str, Decimal]]:
    """(reward type, amount) of every ledger line of `month`'s approved requests (reserves,
    refunds and adjustments alike, so their sum is net)."""
    rows = database.db.execute(
        "SELECT o.reward_type, l.amount FROM budget_ledger l "
        "JOIN orders o ON o.id = l.order_id JOIN requests r ON r.id = l.request_id "
        "WHERE l.month = ? AND r.state = 'approved'",
        [month],
    ).fetchall()
    return [(reward_type, Decimal(amount)) for reward_type, amount in rows]
