"""What the worker remembers while an `unknown` order is being looked up at Xoxoday: the streak
of failed lookups (so it looks less often, and alerts once) and the first trusted "not found"
(which a second lookup must confirm; services/inflight.py). Every write is guarded by the order
still being unknown, so an order settled meanwhile is left alone."""

from __future__ import annotations

from dataclasses import dataclass

import sqlite_utils

from storage.db import fetch_one


@dataclass(frozen=True)
class LookupStreak:
    failures: int  # failed lookups in a row
    since: float | None  # epoch seconds of the first of them
    alerted_at: float | None  # when the operators were told of this streak


def streak(db: sqlite_utils.Database, order_id: int) -> LookupStreak | None:
    """The failed-lookup streak of an unknown order; None once it is no longer unknown."""
    row = fetch_one(
        db,
        "SELECT lookup_failures, lookup_failed_since, lookup_alerted_at FROM orders "
        "WHERE id = ? AND state = 'unknown'",
        [order_id],
    )
    if row is None:
        return None
    return LookupStreak(
        row["lookup_failures"] or 0, row["lookup_failed_since"], row["lookup_alerted_at"]
    )


def record_failed_lookup(
    db: sqlite_utils.Database,
    order_id: int,
    *,
    next_attempt_at: float,
    error: str,
    failures: int,
    since: float,
    alerted_at: float | None,
) -> None:
    """One more failed lookup: when to look again, and the streak (alerted once)."""
    db.execute(
        "UPDATE orders SET next_attempt_at = ?, last_error = ?, lookup_failures = ?, "
        "lookup_failed_since = ?, lookup_alerted_at = COALESCE(lookup_alerted_at, ?) "
        "WHERE id = ? AND state = 'unknown'",
        [next_attempt_at, error, failures, since, alerted_at, order_id],
    )


def record_not_found(
    db: sqlite_utils.Database,
    order_id: int,
    *,
    next_lookup_at: float | None,
    not_found_at: float | None,
    heard_at: float,
    why: str,
) -> bool:
    """Xoxoday answered "no such order": when to look again and the first trusted "not found";
    a streak of failed lookups is over. False when the order is no longer unknown."""
    changed = db.execute(
        "UPDATE orders SET next_attempt_at = ?, not_found_at = ?, "
        "sent_at = COALESCE(sent_at, ?), last_error = ?, "
        "lookup_failures = 0, lookup_failed_since = NULL, lookup_alerted_at = NULL "
        "WHERE id = ? AND state = 'unknown'",
        [next_lookup_at, not_found_at, heard_at, why, order_id],
    ).rowcount
    return bool(changed)
