"""What the chat notifier reads and records about requests, in one place: the request and its
orders, the event, the messages that show a request (to edit them later), who uses the Home
tab, the requester's committed budget. The notifier and the delivery room go through this
rather than querying storage themselves."""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal

from storage import choices as choice_store
from storage import events, home_tabs, ledger
from storage import messages as refs
from storage import orders as order_store
from storage import requests as request_store
from storage.choices import ChoiceRow
from storage.db import Database
from storage.messages import MessageRef
from storage.models import EventKind, EventRow, OrderRow, RequestRow

__all__ = ["MessageRef", "Notices"]


class Notices:
    def __init__(self, database: Database) -> None:
        self.database = database

    def request(self, request_id: int) -> RequestRow | None:
        return request_store.get(self.database, request_id)

    def orders(self, request_id: int) -> list[OrderRow]:
        return order_store.for_request(self.database, request_id)

    def order(self, order_id: int) -> OrderRow | None:
        return order_store.get(self.database, order_id)

    def choice(self, order_id: int) -> ChoiceRow | None:
        """A recipient's choice (the amount given, its schedule), for a choice order."""
        return choice_store.get(self.database, order_id)

    def event(self, event_id: int) -> EventRow | None:
        return events.get(self.database, event_id)

    def latest_event(self, request_id: int) -> int:
        """The id of the request's latest event: whether a later one is still to be told."""
        return events.last_id_for_request(self.database, request_id)

    def alert(self, reason: str, *, request_id: int, order_id: int, actor: str) -> None:
        """A system.alert for the operators (inside the caller's transaction, if any)."""
        with self.database.tx() as db:
            events.append(
                db,
                EventKind.SYSTEM_ALERT,
                request_id=request_id,
                order_id=order_id,
                actor=actor,
                reason=reason,
            )

    def code_undelivered(self, order: OrderRow, *, why: str, alert: str, actor: str) -> None:
        """Slack never took the DM with `order`'s code: on record, for the requester (their
        update) and for the operators (a system.alert), in one transaction. Neither holds the
        code: it goes to nobody but its recipient."""
        with self.database.tx() as db:
            events.append(
                db,
                EventKind.ORDER_CODE_UNDELIVERED,
                request_id=order.request_id,
                order_id=order.id,
                actor=actor,
                reason=why,
            )
            self.alert(alert, request_id=order.request_id, order_id=order.id, actor=actor)

    def refs(self, request_id: int, kind: str) -> list[MessageRef]:
        return refs.for_request(self.database, request_id, kind)

    def save_ref(
        self,
        request_id: int,
        kind: str,
        channel: str,
        ts: str,
        target: str | None,
        acting_for: str | None = None,
    ) -> None:
        refs.save(self.database, request_id, kind, channel, ts, target, acting_for)

    def waiting(self) -> list[RequestRow]:
        """Every request waiting for a decision, oldest first."""
        return request_store.waiting(self.database)

    def approval_note(self, request_id: int) -> tuple[str, str]:
        """Why the request was not approved automatically: (the approvers' words, which can
        carry the wallet's figures; what anyone may read). Empty when it was never meant to."""
        notes = [
            e
            for e in events.for_request(self.database, request_id)
            if e.kind == EventKind.REQUEST_NEEDS_APPROVAL
        ]
        if not notes:
            return "", ""
        last = notes[-1]
        return last.reason or "", str(last.data.get("public") or "")

    def spent(self, request: RequestRow) -> Decimal:
        """What the requester committed in the month of `request`."""
        return ledger.spent(
            self.database, request.requester_id, ledger.month_of(request.created_at)
        )

    def home_users(self, user_ids: Iterable[str]) -> set[str]:
        """Those of `user_ids` who have opened the Home tab."""
        return home_tabs.known(self.database, user_ids)

    def home_opened(self, user_id: str) -> None:
        home_tabs.opened(self.database, user_id)

    def home_published(self, user_id: str) -> None:
        home_tabs.published(self.database, user_id)
