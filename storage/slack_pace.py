"""The Slack pacer's shared record: calls made per rate-limit lane, Retry-After holds, and
which D… channel is the DM with which person (one conversation, one lane).

Every process on the database paces against the same rows, inside one write transaction per
reservation, so two processes cannot both take the last call a lane allows.
"""

from __future__ import annotations

from storage.db import Database, fetch_one


def reserve(database: Database, lane: str, limit: int, window_s: float, now: float) -> float:
    """Take one call of `lane` now if fewer than `limit` were made in the last `window_s`
    and no Retry-After holds it: 0.0. Otherwise the seconds until one may go (nothing taken)."""
    with database.tx() as db:
        hold = fetch_one(db, "SELECT until FROM slack_pace_holds WHERE lane = ?", [lane])
        if hold is not None and float(hold["until"]) > now:
            return float(hold["until"]) - now
        oldest = fetch_one(
            db,
            "SELECT at FROM slack_pace WHERE lane = ? AND at > ? ORDER BY at DESC LIMIT 1 OFFSET ?",
            [lane, now - window_s, limit - 1],
        )
        if oldest is not None:
            return max(0.001, float(oldest["at"]) + window_s - now)
        db.execute("INSERT INTO slack_pace (lane, at) VALUES (?, ?)", [lane, now])
        return 0.0


def hold(database: Database, lane: str, until: float) -> None:
    """Slack answered 429 for `lane`: nothing goes on it before `until`."""
    database.execute(
        "INSERT INTO slack_pace_holds (lane, until) VALUES (?, ?) "
        "ON CONFLICT(lane) DO UPDATE SET until = MAX(until, excluded.until)",
        [lane, until],
    )


def forget_before(database: Database, before: float) -> None:
    database.execute("DELETE FROM slack_pace WHERE at < ?", [before])
    database.execute("DELETE FROM slack_pace_holds WHERE until < ?", [before])


def same_conversation(database: Database, channel: str, user_id: str) -> None:
    """`channel` (D…) is the app's DM with `user_id`: posts to either count as one."""
    database.execute(
        "INSERT INTO slack_dm_channels (channel, user_id) VALUES (?, ?) "
        "ON CONFLICT(channel) DO NOTHING",
        [channel, user_id],
    )


def dm_user(database: Database, channel: str) -> str | None:
    """Whose DM `channel` is, when the bot has learned it."""
    value = database.scalar("SELECT user_id FROM slack_dm_channels WHERE channel = ?", [channel])
    return str(value) if value else None
