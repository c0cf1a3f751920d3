"""What a notifier already did, step by step (one post, one DM, one target given up).

Plain keys and outcomes: this module knows nothing of Slack. A step is recorded once; the
first record wins, so two tries of the same step cannot both count.
"""

from __future__ import annotations

from storage.db import Database, utcnow


def outcome(database: Database, consumer: str, key: str) -> str | None:
    return database.scalar(
        "SELECT outcome FROM notification_steps WHERE consumer = ? AND key = ?", [consumer, key]
    )


def record(database: Database, consumer: str, key: str, outcome: str, detail: str = "") -> bool:
    """Record a step; False when it was already recorded (its first outcome stays)."""
    cursor = database.execute(
        "INSERT INTO notification_steps (consumer, key, outcome, detail, created_at) "
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT(consumer, key) DO NOTHING",
        [consumer, key, outcome, detail, utcnow()],
    )
    return cursor.rowcount == 1
