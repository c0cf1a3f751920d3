"""Who has opened the bot's Home tab: only their Home is published again when it changes."""

from __future__ import annotations

from collections.abc import Iterable

from storage.db import Database, utcnow


def opened(database: Database, user_id: str) -> None:
    database.execute(
        "INSERT INTO home_tabs (user_id, opened_at) VALUES (?, ?) "
        "ON CONFLICT(user_id) DO UPDATE SET opened_at = excluded.opened_at",
        [user_id, utcnow()],
    )


def published(database: Database, user_id: str) -> None:
    database.execute("UPDATE home_tabs SET published_at = ? WHERE user_id = ?", [utcnow(), user_id])


def known(database: Database, user_ids: Iterable[str]) -> set[str]:
    """Those of `user_ids` who have opened the Home tab."""
    wanted = sorted(set(user_ids))
    if not wanted:
        return set()
    marks = ", ".join("?" for _ in wanted)
    rows = database.query(f"SELECT user_id FROM home_tabs WHERE user_id IN ({marks})", wanted)
    return {row["user_id"] for row in rows}
