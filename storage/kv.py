"""A small key-value table for shared bits of state (cursors, leases, refresh times)."""

from __future__ import annotations

from storage.db import Database, utcnow


def get(database: Database, key: str) -> str | None:
    return database.scalar("SELECT value FROM kv WHERE key = ?", [key])


def with_prefix(database: Database, prefix: str) -> list[tuple[str, str]]:
    """Every (key, value) whose key starts with `prefix`, by key."""
    rows = database.db.execute(
        "SELECT key, value FROM kv WHERE substr(key, 1, ?) = ? ORDER BY key",
        [len(prefix), prefix],
    ).fetchall()
    return [(key, value) for key, value in rows]


def put(database: Database, key: str, value: str) -> None:
    database.execute(
        "INSERT INTO kv (key, value, updated_at) VALUES (?, ?, ?) "
        "ON CONFLICT(key) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        [key, value, utcnow()],
    )


def delete(database: Database, key: str) -> None:
    database.execute("DELETE FROM kv WHERE key = ?", [key])


def delete_if(database: Database, key: str, expected: str) -> bool:
    """Delete `key` only if it still holds `expected` (a claim only its holder gives back)."""
    return (
        database.execute("DELETE FROM kv WHERE key = ? AND value = ?", [key, expected]).rowcount > 0
    )


def compare_and_set(database: Database, key: str, expected: str | None, value: str) -> bool:
    """Set `key` to `value` only if it still holds `expected` (None: absent)."""
    with database.tx() as db:
        current = db.execute("SELECT value FROM kv WHERE key = ?", [key]).fetchone()
        if (current[0] if current else None) != expected:
            return False
        put(database, key, value)
        return True
