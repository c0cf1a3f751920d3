"""Xoxoday webhook deliveries, deduplicated on the webhook's own id."""

from __future__ import annotations

import sqlite_utils

from storage.db import Database, utcnow


def record(
    db: sqlite_utils.Database,
    *,
    webhook_id: str,
    po_number: str | None,
    xoxoday_order_id: int | None,
    delivery_status: str,
    body: str,
) -> bool:
    """Store a delivery; False when this id was seen before (a retry or a replay)."""
    cursor = db.execute(
        "INSERT INTO webhooks (webhook_id, received_at, po_number, xoxoday_order_id, "
        "delivery_status, outcome, body) VALUES (?, ?, ?, ?, ?, 'received', ?) "
        "ON CONFLICT(webhook_id) DO NOTHING",
        [webhook_id, utcnow(), po_number, xoxoday_order_id, delivery_status, body],
    )
    return cursor.rowcount == 1


def set_outcome(db: sqlite_utils.Database, webhook_id: str, outcome: str) -> None:
    db.execute("UPDATE webhooks SET outcome = ? WHERE webhook_id = ?", [outcome, webhook_id])


def deferred_for(database: Database, po_number: str) -> dict | None:
    """A final status that arrived before our own record of the order was ready."""
    return database.one(
        "SELECT * FROM webhooks WHERE po_number = ? AND outcome = 'deferred' "
        "ORDER BY id DESC LIMIT 1",
        [po_number],
    )
