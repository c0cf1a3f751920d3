"""The daily audit's record: one row per audited day, and each finding once.

A day's row is `running` (claimed), `done`, `failed` (tried again from next_attempt_at) or
`waiting` (audited, but orders of it were still in flight: audited again from
next_attempt_at).

A day is claimed by compare-and-set (an INSERT, or an UPDATE naming the state the claimer
saw), inside the caller's write transaction, so two schedulers never audit the same day at
once. A finding has a key (`orphan:<Xoxoday orderId>`, `charge_mismatch:<poNumber>:<their
amount>`…) unique across days: however often a day is audited again, a finding is recorded,
and alerted, once.
"""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from storage.db import Database, fetch_one, utcnow

# A `running` audit older than this was left by a process that stopped: it may be claimed.
STALE_RUN_S = 3600.0


def claim(db: sqlite_utils.Database, day: str, actor: str, now: float) -> bool:
    """Start auditing `day`: no row yet, a failed or waiting one due again, or a stale run
    (a waiting day's attempts start again: it did not fail)."""
    cursor = db.execute(
        "INSERT INTO audits (day, state, actor, attempts, started_at)"
        " VALUES (?, 'running', ?, 1, ?) ON CONFLICT(day) DO UPDATE SET state = 'running',"
        " actor = excluded.actor, attempts = CASE audits.state WHEN 'waiting' THEN 1"
        " ELSE audits.attempts + 1 END, started_at = excluded.started_at, error = NULL"
        " WHERE (audits.state IN ('failed', 'waiting') AND audits.next_attempt_at <= ?)"
        " OR (audits.state = 'running' AND audits.started_at <= ?)",
        [day, actor, now, now, now - STALE_RUN_S],
    )
    return cursor.rowcount == 1


def finish(db: sqlite_utils.Database, day: str, actor: str, now: float, summary: dict) -> None:
    """The day is audited (a run from the command line may finish a day nobody claimed)."""
    db.execute(
        "INSERT INTO audits (day, state, actor, attempts, started_at, finished_at, summary)"
        " VALUES (?, 'done', ?, 1, ?, ?, ?) ON CONFLICT(day) DO UPDATE SET state = 'done',"
        " actor = excluded.actor, finished_at = excluded.finished_at, summary = excluded.summary,"
        " error = NULL, next_attempt_at = NULL",
        [day, actor, now, now, json.dumps(summary)],
    )


def wait(
    db: sqlite_utils.Database,
    day: str,
    actor: str,
    now: float,
    why: str,
    next_attempt_at: float,
    summary: dict,
) -> None:
    """`day` was audited but cannot be done yet (`why`): audited again from `next_attempt_at`
    (a run from the command line may leave a day nobody claimed so)."""
    db.execute(
        "INSERT INTO audits (day, state, actor, attempts, started_at, finished_at, error,"
        " next_attempt_at, summary) VALUES (?, 'waiting', ?, 1, ?, ?, ?, ?, ?)"
        " ON CONFLICT(day) DO UPDATE SET state = 'waiting', actor = excluded.actor,"
        " finished_at = excluded.finished_at, error = excluded.error,"
        " next_attempt_at = excluded.next_attempt_at, summary = excluded.summary",
        [day, actor, now, now, why, next_attempt_at, json.dumps(summary)],
    )


def fail(
    db: sqlite_utils.Database, day: str, actor: str, error: str, next_attempt_at: float
) -> int:
    """The audit of `day` failed; it is tried again from `next_attempt_at`. Returns how many
    attempts it has had."""
    row = fetch_one(
        db,
        "UPDATE audits SET state = 'failed', error = ?, next_attempt_at = ?, actor = ?"
        " WHERE day = ? RETURNING attempts",
        [error, next_attempt_at, actor, day],
    )
    return int(row["attempts"]) if row else 0


def get(database: Database, day: str) -> dict[str, Any] | None:
    return database.one("SELECT * FROM audits WHERE day = ?", [day])


def first_day(database: Database) -> str | None:
    """The earliest day with an audit row, in any state (None: never audited)."""
    return database.scalar("SELECT MIN(day) FROM audits")


def latest_done(database: Database) -> dict[str, Any] | None:
    """The most recently audited day that finished: day, finished_at, summary."""
    return database.one(
        "SELECT day, finished_at, summary FROM audits WHERE state = 'done' "
        "ORDER BY day DESC LIMIT 1"
    )


def pending_days(database: Database, first: str, last: str, now: float) -> list[str]:
    """Days from `first` to `last` already claimed and not due again (done, running recently,
    failed or waiting and not due yet): the scheduler skips them."""
    rows = database.query(
        "SELECT day FROM audits WHERE day BETWEEN ? AND ? AND (state = 'done'"
        " OR (state = 'running' AND started_at > ?)"
        " OR (state IN ('failed', 'waiting') AND next_attempt_at > ?))",
        [first, last, now - STALE_RUN_S, now],
    )
    return [row["day"] for row in rows]


def failing_days(database: Database) -> int:
    """Days whose audit failed and waits to be tried again."""
    return int(database.scalar("SELECT COUNT(*) FROM audits WHERE state = 'failed'"))


def next_retry(database: Database) -> float | None:
    """When the earliest failed or waiting audit is due again (None: none is)."""
    return database.scalar(
        "SELECT MIN(next_attempt_at) FROM audits WHERE state IN ('failed', 'waiting')"
    )


def record_finding(
    db: sqlite_utils.Database,
    *,
    day: str,
    kind: str,
    key: str,
    message: str,
    po_number: str | None = None,
    xoxoday_order_id: int | None = None,
    order_id: int | None = None,
) -> bool:
    """Record a finding once; False when its key was recorded before (by any audit)."""
    cursor = db.execute(
        "INSERT INTO audit_findings (day, kind, key, message, po_number, xoxoday_order_id,"
        " order_id, found_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT(kind, key) DO NOTHING",
        [day, kind, key, message, po_number, xoxoday_order_id, order_id, utcnow()],
    )
    return cursor.rowcount == 1


def findings_for(database: Database, day: str) -> list[dict[str, Any]]:
    return database.query("SELECT * FROM audit_findings WHERE day = ? ORDER BY id", [day])


def counts_for(database: Database, day: str) -> dict[str, int]:
    """Findings recorded for `day`, by kind."""
    rows = database.query(
        "SELECT kind, COUNT(*) AS n FROM audit_findings WHERE day = ? GROUP BY kind", [day]
    )
    return {row["kind"]: row["n"] for row in rows}
