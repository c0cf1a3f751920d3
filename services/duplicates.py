"""Was this person rewarded a moment ago? Earlier rewards within REWARDS_DUPLICATE_WINDOW.

A warning, never a refusal: the modal and the approval ask name the earlier request, and the
people decide. An earlier reward counts while it may still reach the recipient: waiting for
approval, approved, placed or delivered (not rejected, cancelled, expired, failed or
cancelled by Xoxoday). Slack recipients are matched by member id, CSV ones by email.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from storage.db import Database
from storage.models import OrderRow, RequestRow

GONE = ("withdrawn", "failed", "canceled")


@dataclass(frozen=True)
class EarlierReward:
    recipient: str  # the member id or the email it was matched by
    order: OrderRow
    request: RequestRow


class Duplicates:
    def __init__(
        self,
        database: Database,
        window: timedelta = timedelta(days=30),
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.window = window
        self._clock = clock

    def since(self) -> str:
        start = datetime.fromtimestamp(self._clock(), UTC) - self.window
        return start.isoformat(timespec="milliseconds")

    def earlier(
        self,
        recipient_ids: Iterable[str] = (),
        emails: Iterable[str] = (),
        *,
        before_request: int | None = None,
    ) -> list[EarlierReward]:
        """The latest earlier reward of each recipient within the window, in the order asked;
        with `before_request`, only from requests recorded before that one."""
        ids = list(dict.fromkeys(r for r in recipient_ids if r))
        mails = list(dict.fromkeys(e.strip().lower() for e in emails if e and e.strip()))
        if not ids and not mails:
            return []
        marks_ids = ", ".join("?" for _ in ids) or "NULL"
        marks_mails = ", ".join("?" for _ in mails) or "NULL"
        gone = ", ".join("?" for _ in GONE)
        rows = self.database.query(
            "SELECT o.id AS order_id, r.id AS request_id FROM orders o "
            "JOIN requests r ON r.id = o.request_id "
            f"WHERE (o.recipient_id IN ({marks_ids}) OR lower(o.email) IN ({marks_mails})) "
            f"AND r.created_at >= ? AND o.state NOT IN ({gone}) AND r.id < ? "
            "ORDER BY o.id DESC",
            [*ids, *mails, self.since(), *GONE, before_request or 2**62],
        )
        found: dict[str, EarlierReward] = {}
        for row in rows:
            order = self.database.one("SELECT * FROM orders WHERE id = ?", [row["order_id"]])
            request = self.database.one("SELECT * FROM requests WHERE id = ?", [row["request_id"]])
            if order is None or request is None:
                continue
            order_row = OrderRow.model_validate(order)
            key = (
                order_row.recipient_id
                if order_row.recipient_id in ids
                else (order_row.email or "").strip().lower()
            )
            if key and key not in found:
                found[key] = EarlierReward(key, order_row, RequestRow.model_validate(request))
        wanted = [*ids, *mails]
        return [found[key] for key in wanted if key in found]
