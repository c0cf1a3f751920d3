"""A recipient's choice: one row per "Their choice" order, beside the order itself.

The order (storage/orders.py) carries the state (`choosing` from approval until the choice,
then the usual `queued → placing → placed…`, or `withdrawn` when it expires) and, once chosen,
the product. This row keeps what the order alone cannot: the amount the requester gave, the
offer's schedule (reminders and expiry, claimed by compare-and-set like the approval
schedule's, storage/schedule.py), the country chosen and the submission that chose it (a
repeated submission is the same choice, never a second order). Times are epoch seconds.

Each recipient's last country is remembered (`member_countries`), so their next choice starts
there.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import sqlite_utils
from pydantic import field_validator

from storage.db import Database, fetch_one, utcnow
from storage.models import OrderRow, _money, _Row

NOT_CHOSEN = 0  # the product id of a choice order until its recipient chooses
CHOOSING = "choosing"


class ChoiceRow(_Row):
    order_id: int
    request_id: int
    recipient_id: str
    amount: Decimal  # what the requester gave, in the wallet's currency
    currency: str | None = None
    offered_at: float | None = None  # approved: the recipient may choose from then
    remind_at: float | None = None
    reminders_sent: int = 0
    expires_at: float | None = None
    chosen_at: float | None = None
    country: str | None = None  # where they chose (a Xoxoday country code)
    chosen_by: str | None = None  # the submission that chose (a repeat is the same choice)
    expired_at: float | None = None

    _money = field_validator("amount", mode="before")(_money)

    @field_validator("reminders_sent", mode="before")
    @classmethod
    def _zero(cls, value: Any) -> Any:
        return 0 if value is None else value


def insert(
    db: sqlite_utils.Database,
    *,
    order_id: int,
    request_id: int,
    recipient_id: str,
    amount: Decimal,
    currency: str | None,
) -> None:
    db.table("choices").insert(
        {
            "order_id": order_id,
            "request_id": request_id,
            "recipient_id": recipient_id,
            "amount": str(amount),
            "currency": currency,
            "reminders_sent": 0,
        }
    )


def get(database: Database, order_id: int) -> ChoiceRow | None:
    row = database.one("SELECT * FROM choices WHERE order_id = ?", [order_id])
    return ChoiceRow.model_validate(row) if row else None


def for_request(database: Database, request_id: int) -> list[ChoiceRow]:
    rows = database.query(
        "SELECT * FROM choices WHERE request_id = ? ORDER BY order_id", [request_id]
    )
    return [ChoiceRow.model_validate(row) for row in rows]


def offer(db: sqlite_utils.Database, order_id: int, now: float) -> None:
    """The request was approved: the recipient may choose from now (the schedule's start)."""
    db.execute(
        "UPDATE choices SET offered_at = ? WHERE order_id = ? AND offered_at IS NULL",
        [now, order_id],
    )


def waiting_for(database: Database, recipient_id: str, limit: int = 20) -> list[ChoiceRow]:
    """The recipient's choices still to make, oldest first (their Home tab)."""
    rows = database.query(
        "SELECT c.* FROM choices c JOIN orders o ON o.id = c.order_id "
        "WHERE c.recipient_id = ? AND o.state = ? ORDER BY c.offered_at, c.order_id LIMIT ?",
        [recipient_id, CHOOSING, limit],
    )
    return [ChoiceRow.model_validate(row) for row in rows]


# --- the offer's schedule ---------------------------------------------------------------------


def unscheduled(database: Database, limit: int = 500) -> list[ChoiceRow]:
    """Offers still waiting for a choice that have no due times yet."""
    rows = database.query(
        "SELECT c.* FROM choices c JOIN orders o ON o.id = c.order_id "
        "WHERE o.state = ? AND c.offered_at IS NOT NULL AND c.expires_at IS NULL "
        "ORDER BY c.order_id LIMIT ?",
        [CHOOSING, limit],
    )
    return [ChoiceRow.model_validate(row) for row in rows]


def schedule(
    db: sqlite_utils.Database, order_id: int, *, remind_at: float | None, expires_at: float
) -> bool:
    """Give an offer its due times, once."""
    cursor = db.execute(
        "UPDATE choices SET remind_at = ?, expires_at = ? "
        "WHERE order_id = ? AND expires_at IS NULL",
        [remind_at, expires_at, order_id],
    )
    return cursor.rowcount == 1


def due(database: Database, column: str, now: float, limit: int = 100) -> list[ChoiceRow]:
    """Offers still waiting for a choice whose `column` time has come, earliest first."""
    assert column in ("remind_at", "expires_at")
    rows = database.query(
        f"SELECT c.* FROM choices c JOIN orders o ON o.id = c.order_id "
        f"WHERE o.state = ? AND c.{column} <= ? ORDER BY c.{column}, c.order_id LIMIT ?",
        [CHOOSING, now, limit],
    )
    return [ChoiceRow.model_validate(row) for row in rows]


def claim_reminder(
    db: sqlite_utils.Database,
    order_id: int,
    seen: int,
    count: int,
    now: float,
    next_at: float | None,
) -> bool:
    """Count the reminders up to `count` if the offer still waits with `seen` sent and one
    due (False: another scheduler, or the choice, came first)."""
    row = fetch_one(
        db,
        "UPDATE choices SET reminders_sent = ?, remind_at = ? "
        "WHERE order_id = ? AND reminders_sent = ? AND remind_at <= ? "
        "AND (SELECT state FROM orders WHERE id = ?) = ? RETURNING order_id",
        [count, next_at, order_id, seen, now, order_id, CHOOSING],
    )
    return row is not None


def next_due(database: Database) -> float | None:
    """The earliest due time of any offer still waiting for a choice."""
    waiting = "FROM choices c JOIN orders o ON o.id = c.order_id WHERE o.state = ?1"
    return database.scalar(
        f"SELECT MIN(t) FROM (SELECT MIN(c.remind_at) AS t {waiting} "
        f"UNION ALL SELECT MIN(c.expires_at) {waiting} "
        # An offer the scheduler has not given its times yet is due at once.
        f"UNION ALL SELECT MIN(c.offered_at) {waiting} AND c.expires_at IS NULL)",
        [CHOOSING],
    )


# --- choosing and expiring --------------------------------------------------------------------


def choose(
    db: sqlite_utils.Database,
    order_id: int,
    *,
    now: float,
    country: str | None,
    chosen_by: str,
) -> None:
    """Record where and by which submission the choice was made (with the order's own
    transition, in the caller's transaction)."""
    db.execute(
        "UPDATE choices SET chosen_at = ?, country = ?, chosen_by = ?, remind_at = NULL "
        "WHERE order_id = ?",
        [now, country, chosen_by, order_id],
    )


def mark_expired(db: sqlite_utils.Database, order_id: int, now: float) -> None:
    db.execute(
        "UPDATE choices SET expired_at = ?, remind_at = NULL WHERE order_id = ?",
        [now, order_id],
    )


def orders_choosing(database: Database, order_ids: list[int]) -> list[OrderRow]:
    """Of these orders, the ones still waiting for their recipient's choice."""
    if not order_ids:
        return []
    marks = ", ".join("?" for _ in order_ids)
    rows = database.query(
        f"SELECT * FROM orders WHERE state = ? AND id IN ({marks}) ORDER BY id",
        [CHOOSING, *order_ids],
    )
    return [OrderRow.model_validate(row) for row in rows]


# --- where a member lives ---------------------------------------------------------------------


def remember_country(db: sqlite_utils.Database, user_id: str, country: str) -> None:
    db.execute(
        "INSERT INTO member_countries (user_id, country, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(user_id) DO UPDATE SET country = excluded.country, "
        "updated_at = excluded.updated_at",
        [user_id, country, utcnow()],
    )


def country_of(database: Database, user_id: str) -> str | None:
    return database.scalar("SELECT country FROM member_countries WHERE user_id = ?", [user_id])


def given_and_change(
    database: Database, order_ids: list[int]
) -> dict[int, tuple[Decimal, Decimal]]:
    """For the choice orders among `order_ids`: (the amount given, the change that went back
    to the budget when it was chosen), as the choices table and the ledger book them."""
    found: dict[int, tuple[Decimal, Decimal]] = {}
    for start in range(0, len(order_ids), 500):
        chunk = order_ids[start : start + 500]
        marks = ", ".join("?" for _ in chunk)
        rows = database.query(
            "SELECT c.order_id, c.amount, (SELECT group_concat(l.amount, ' ') FROM budget_ledger l "
            "  WHERE l.order_id = c.order_id AND l.kind = 'change') AS change "
            f"FROM choices c WHERE c.order_id IN ({marks})",
            chunk,
        )
        for row in rows:
            change = -sum((Decimal(a) for a in (row["change"] or "").split()), Decimal(0))
            found[row["order_id"]] = (Decimal(row["amount"]), change)
    return found
