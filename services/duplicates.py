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

from storage import received as received_store
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
        found: dict[str, EarlierReward] = {}
        for order_row, request in received_store.earlier_rewards(
            self.database,
            ids,
            mails,
            since=self.since(),
            not_in_states=GONE,
            before_request=before_request,
        ):
            key = (
                order_row.recipient_id
                if order_row.recipient_id in ids
                else (order_row.email or "").strip().lower()
            )
            if key and key not in found:
                found[key] = EarlierReward(key, order_row, request)
        wanted = [*ids, *mails]
        return [found[key] for key in wanted if key in found]
