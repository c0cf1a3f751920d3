"""Reminder and escalation digests as sent: which message lists which waiting requests, so a
decision can take its buttons out of every digest that shows it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from storage.db import Database, utcnow


@dataclass(frozen=True)
class DigestRef:
    id: int
    channel: str
    ts: str
    target: str
    why: str
    entries: list[dict[str, Any]]


def save(
    database: Database, channel: str, ts: str, target: str, why: str, entries: list[dict[str, Any]]
) -> int:
    with database.tx() as db:
        cursor = db.execute(
            "INSERT INTO slack_digests (channel, ts, target, why, entries, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            [channel, ts, target, why, json.dumps(entries), utcnow()],
        )
        digest_id = int(cursor.lastrowid or 0)
        for request_id in {int(e["request_id"]) for e in entries}:
            db.execute(
                "INSERT OR IGNORE INTO slack_digest_requests (digest_id, request_id) VALUES (?, ?)",
                [digest_id, request_id],
            )
    return digest_id


def listing(database: Database, request_id: int) -> list[DigestRef]:
    """The digests that list `request_id`."""
    rows = database.query(
        "SELECT d.* FROM slack_digests d JOIN slack_digest_requests r ON r.digest_id = d.id "
        "WHERE r.request_id = ? ORDER BY d.id",
        [request_id],
    )
    return [
        DigestRef(
            id=row["id"],
            channel=row["channel"],
            ts=row["ts"],
            target=row["target"],
            why=row["why"],
            entries=json.loads(row["entries"]),
        )
        for row in rows
    ]


def count_sent(database: Database, target: str, why: str, request_id: int) -> int:
    """How many digests of kind `why` sent to `target` listed `request_id`."""
    return int(
        database.scalar(
            "SELECT COUNT(*) FROM slack_digest_requests r "
            "JOIN slack_digests d ON d.id = r.digest_id "
            "WHERE r.request_id = ? AND d.target = ? AND d.why = ?",
            [request_id, target, why],
        )
        or 0
    )
