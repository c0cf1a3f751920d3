"""What tracking a placed order's delivery keeps on it: the polls made and when the next is
due, odd status answers in a row, and the units Xoxoday cancelled. Every write is guarded by
the order still being `placed`, so one settled meanwhile is left alone."""

from __future__ import annotations

import sqlite_utils

from storage.db import fetch_one


def count_poll(db: sqlite_utils.Database, order_id: int, next_poll_at: float) -> None:
    """One more poll found nothing new: the next is due at `next_poll_at`."""
    db.execute(
        "UPDATE orders SET polls = polls + 1, next_poll_at = ? WHERE id = ? AND state = 'placed'",
        [next_poll_at, order_id],
    )


def count_odd_status(db: sqlite_utils.Database, order_id: int) -> int:
    """One more answer with a status nobody documented; how many in all (0: not placed)."""
    row = fetch_one(
        db,
        "UPDATE orders SET odd_status_polls = odd_status_polls + 1 "
        "WHERE id = ? AND state = 'placed' RETURNING odd_status_polls",
        [order_id],
    )
    return int(row["odd_status_polls"]) if row else 0


def stop_polling(db: sqlite_utils.Database, order_id: int) -> bool:
    """No more polls for this order (a webhook may still settle it); False when it was not
    being polled."""
    stopped = fetch_one(
        db,
        "UPDATE orders SET next_poll_at = NULL WHERE id = ? AND state = 'placed' "
        "AND next_poll_at IS NOT NULL RETURNING id",
        [order_id],
    )
    return stopped is not None


def cancelled_units(db: sqlite_utils.Database, order_id: int) -> int | None:
    """Units of a placed order already known cancelled; None when it is not placed."""
    row = fetch_one(db, "SELECT state, cancelled_quantity FROM orders WHERE id = ?", [order_id])
    if row is None or row["state"] != "placed":
        return None
    return int(row["cancelled_quantity"] or 0)


def set_cancelled_units(db: sqlite_utils.Database, order_id: int, cancelled: int) -> None:
    db.execute("UPDATE orders SET cancelled_quantity = ? WHERE id = ?", [cancelled, order_id])
