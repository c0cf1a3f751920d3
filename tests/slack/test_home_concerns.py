"""The Home tabs an event makes stale (issue 20): the requester's, the recipient's, those of
the people who may decide the request, and the company's spend readers' only when the month's
spend changed; an order's every step does not rebuild every approver's Home."""

from __future__ import annotations

import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path

import pytest

from handlers.notifier import SlackNotifier
from services.notices import Notices
from services.outbox import Outbox
from services.policy import Policy
from storage import events, home_tabs
from storage import orders as order_store
from storage import requests as request_store
from storage.db import Database
from storage.migrations import migrate
from storage.models import EventKind

APPROVERS = frozenset({"UAPP1", "UAPP2"})
ESCALATION = frozenset({"UESC"})
EVERYONE = ["UREQ", "UANA", "UAPP1", "UAPP2", "UESC", "UBYSTANDER"]


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Database]:
    db = Database(tmp_path / "r.db")
    migrate(db)
    for user in EVERYONE:  # all of them opened their Home: each could be published again
        home_tabs.opened(db, user)
    yield db
    db.close()


class Homes:
    def __init__(self, database: Database) -> None:
        self.database = database
        # A clock an hour ahead: every mark is due, whatever its gather or gap.
        self.outbox = Outbox(database, clock=lambda: time.time() + 3600)
        policy = Policy(approvers=APPROVERS, escalation_approvers=ESCALATION)
        self.notifier = SlackNotifier(self.outbox, Notices(database), policy)

    def after(self, kind: str, request_id: int, order_id: int | None = None) -> set[str]:
        """Whose Home the event `kind` marks to be published again."""
        for row in self.outbox.due([]):
            self.outbox.drop(row)
        with self.database.tx() as db:
            event_id = events.append(db, kind, request_id=request_id, order_id=order_id)
        event = events.get(self.database, event_id)
        assert event is not None
        self.notifier.notify(event)
        return {str(row.target) for row in self.outbox.due([]) if row.key.startswith("home:")}


def request_with_order(database: Database) -> tuple[int, int]:
    with database.tx() as db:
        request_id = request_store.insert(
            db,
            requester_id="UREQ",
            requester_name="Riya",
            source="slack",
            total_cost=Decimal("10"),
            currency="USD",
        )
        order_id = order_store.insert(
            db,
            {
                "request_id": request_id,
                "po_number": "PO-1",
                "reward_type": "gift_card",
                "product_id": 1,
                "denomination": "10",
                "recipient_id": "UANA",
                "cost_estimate": "10",
            },
        )
    return request_id, order_id


def set_order(database: Database, order_id: int, **fields: str) -> None:
    with database.tx() as db:
        db.table("orders").update(order_id, fields)


def test_each_event_rebuilds_only_the_homes_it_changed(database: Database) -> None:
    homes = Homes(database)
    request_id, order_id = request_with_order(database)
    # Waiting: the requester, and those who may decide it now (not the escalation approver
    # before escalation, not the recipient, not a bystander).
    assert homes.after(EventKind.REQUEST_CREATED, request_id) == {"UREQ", "UAPP1", "UAPP2"}
    # Approved: the approvers' waiting list and the month's spend change.
    approved = homes.after(EventKind.REQUEST_APPROVED, request_id)
    assert approved == {"UREQ", "UAPP1", "UAPP2", "UESC"}
    # An order's steps concern its requester (their request's progress) and, once it is
    # received, its recipient; the approvers only when the spend moved.
    assert homes.after(EventKind.ORDER_CLAIMED, request_id, order_id) == {"UREQ"}
    set_order(database, order_id, amount_charged="10", state="placed")
    assert homes.after(EventKind.ORDER_PLACED, request_id, order_id) == {"UREQ", "UANA"}
    set_order(database, order_id, amount_charged="9.80")
    charged_less = homes.after(EventKind.ORDER_PLACED, request_id, order_id)
    assert charged_less == {"UREQ", "UANA", "UAPP1", "UAPP2", "UESC"}
    assert homes.after(EventKind.ORDER_DELIVERED, request_id, order_id) == {"UREQ", "UANA"}
    canceled = homes.after(EventKind.ORDER_CANCELED, request_id, order_id)
    assert canceled == {"UREQ", "UANA", "UAPP1", "UAPP2", "UESC"}


def test_a_rejection_rebuilds_the_homes_of_those_who_could_decide(database: Database) -> None:
    homes = Homes(database)
    request_id, order_id = request_with_order(database)
    assert homes.after(EventKind.REQUEST_REJECTED, request_id) == {"UREQ", "UAPP1", "UAPP2"}
    assert homes.after(EventKind.ORDER_WITHDRAWN, request_id, order_id) == {"UREQ"}
