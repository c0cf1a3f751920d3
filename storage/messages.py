"""The chat messages that show a request (its status, its approval ask), by channel and ts.

Plain identifiers only: this module knows nothing of Slack beyond two strings per message.
"""

from __future__ import annotations

from dataclasses import dataclass

from storage.db import Database, utcnow


@dataclass(frozen=True)
class MessageRef:
    request_id: int
    kind: str
    channel: str
    ts: str
    target: str | None = None  # what the post was addressed to (a user id for a DM)
    acting_for: str | None = None  # an ask's reader stood in for this approver when it went

    @property
    def addressee(self) -> str:
        return self.target or self.channel


def save(
    database: Database,
    request_id: int,
    kind: str,
    channel: str,
    ts: str,
    target: str | None = None,
    acting_for: str | None = None,
) -> None:
    database.execute(
        "INSERT INTO chat_messages (request_id, kind, channel, ts, target, acting_for, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT(channel, ts) DO NOTHING",
        [request_id, kind, channel, ts, target, acting_for, utcnow()],
    )


def for_request(database: Database, request_id: int, kind: str | None = None) -> list[MessageRef]:
    sql = (
        "SELECT request_id, kind, channel, ts, target, acting_for FROM chat_messages "
        "WHERE request_id = ?"
    )
    params: list[object] = [request_id]
    if kind:
        sql += " AND kind = ?"
        params.append(kind)
    return [MessageRef(**row) for row in database.query(sql + " ORDER BY id", params)]
