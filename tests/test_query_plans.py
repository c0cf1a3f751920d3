"""Years of history (issue 20): the SQL the storage functions issue on the hot paths (a click's
answer, a worker or scheduler round, the Home, /metrics, the finance export) is run on a real
SQLite file with every migration applied, and SQLite's own plan for each statement must search
an index: no step reads a growing table end to end, none sorts what it read."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from storage import choices as choice_store
from storage import digests, events, ledger, received, schedule
from storage import finance as finance_store
from storage import orders as order_store
from storage import requests as request_store
from storage.db import Database
from storage.migrations import migrate
from storage.models import EventKind
from tests.plans import issued, reads, unbounded

MONTH = "2026-03"


@pytest.fixture(scope="module")
def database(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Database]:
    db = Database(Path(tmp_path_factory.mktemp("plans")) / "r.db")
    migrate(db)
    _seed(db)
    yield db
    db.close()


def _seed(database: Database) -> None:
    """A few requests of each state, with orders and ledger rows: enough for every statement
    to have rows to find (the plans do not depend on how many: no ANALYZE statistics)."""
    for n, state in enumerate(["pending_approval", "approved", "rejected", "approved"]):
        with database.tx() as db:
            request_id = request_store.insert(
                db,
                requester_id="UREQ",
                requester_name="Riya",
                source="slack",
                total_cost=Decimal("10"),
                currency="USD",
                created_at=f"{MONTH}-0{n + 1}T10:00:00.000+00:00",
            )
            db.execute("UPDATE requests SET state = ? WHERE id = ?", [state, request_id])
            order_id = order_store.insert(
                db,
                {
                    "request_id": request_id,
                    "po_number": f"PO-{n}",
                    "reward_type": "gift_card",
                    "product_id": 1,
                    "denomination": "10",
                    "recipient_id": "UANA",
                    "cost_estimate": "10",
                    "state": "delivered" if state == "approved" else "pending_approval",
                },
            )
            ledger.add(
                db,
                requester_id="UREQ",
                month=MONTH,
                amount=Decimal("10"),
                kind="reserve",
                currency="USD",
                request_id=request_id,
                order_id=order_id,
            )
            events.append(db, EventKind.REQUEST_CREATED, request_id=request_id)


CALLS: dict[str, Callable[[Database], Any]] = {
    # a click: approve, reject, cancel, the budget checks of a new request
    "ledger.spent": lambda d: ledger.spent(d, "UREQ", MONTH),
    "ledger.held": lambda d: ledger.held(d, "UREQ", MONTH),
    "ledger.committed_for_order": lambda d: ledger.committed_for_order(d, 2),
    "ledger.committed_for_order kinds": lambda d: ledger.committed_for_order(
        d, 2, ("reserve", "adjust")
    ),
    "requests.waiting_count": lambda d: request_store.waiting_count(d, "UREQ"),
    "orders.for_request": lambda d: order_store.for_request(d, 1),
    # history and the Home
    "requests.for_requester": lambda d: request_store.for_requester(d, "UREQ", 10),
    "received.received": lambda d: received.received(d, "UANA", ["placed", "delivered"], 10),
    "orders.for_requests": lambda d: order_store.for_requests(d, [4, 1, 2]),
    "requests.by_ids": lambda d: request_store.by_ids(d, [4, 1, 2]),
    "ledger.approved_amounts_by_type": lambda d: ledger.approved_amounts_by_type(d, MONTH),
    "ledger.approved_amounts_added": lambda d: ledger.approved_amounts_added(d, MONTH, 1, 3),
    "ledger.amounts_of_requests": lambda d: ledger.amounts_of_requests(d, MONTH, [1, 2], 3),
    "ledger.last_id": ledger.last_id,
    "events.request_ids_between": lambda d: events.request_ids_between(
        d, EventKind.REQUEST_CREATED, 1, 3
    ),
    "events.last_id": events.last_id,
    "received.earlier_rewards": lambda d: received.earlier_rewards(
        d, ["UANA"], [], since=f"{MONTH}-02", not_in_states=["withdrawn"]
    ),
    # the scheduler's and the worker's rounds
    "schedule.due expires_at": lambda d: schedule.due(d, "expires_at", 2e9),
    "schedule.due remind_at": lambda d: schedule.due(d, "remind_at", 2e9),
    "schedule.due escalate_at": lambda d: schedule.due(d, "escalate_at", 2e9),
    "schedule.next_due": schedule.next_due,
    "orders.claim_next": lambda d: order_store.claim_next(d, "w", 2e9),
    "orders.due unknown": lambda d: order_store.due(d, "unknown", "next_attempt_at", 2e9),
    "orders.due placed": lambda d: order_store.due(d, "placed", "next_poll_at", 2e9),
    "orders.next_due_time": lambda d: order_store.next_due_time(d, "queued", "next_attempt_at"),
    "orders.count_by_state": order_store.count_by_state,
    "orders.placed_between": lambda d: order_store.placed_between(d, "2026-03-01", "2026-03-02"),
    # /metrics
    "requests.count_by_state": request_store.count_by_state,
    "events.after": lambda d: events.after(d, 0),
    # a reminder numbered by what its reader was sent
    "digests.count_sent": lambda d: digests.count_sent(d, "UAPPROVER", "remind", 1),
    # a requester told their request is complete
    "events.last_id_for_request": lambda d: events.last_id_for_request(d, 1),
    # the finance export
    "finance.refunds_by_order": lambda d: finance_store.refunds_by_order(d, [1, 2, 3]),
    "finance.month_order_chunks": lambda d: list(
        finance_store.month_order_chunks(d, f"{MONTH}-01", "2026-04-01", chunk=2)
    ),
    # a reject's withdrawal, and the worker's releases after it
    "orders.withdraw_waiting + ledger.queue_releases": lambda d: _withdraw(d, 3),
    "ledger.releases_due": lambda d: ledger.releases_due(d, 100),
    "ledger.releases_pending": ledger.releases_pending,
    "choices.given_and_change": lambda d: choice_store.given_and_change(d, [1, 2, 3]),
    # the recipient's choice (issue 18): the offer, the Home, the schedule's rounds
    "choices.get": lambda d: choice_store.get(d, 1),
    "choices.for_request": lambda d: choice_store.for_request(d, 1),
    "choices.waiting_for": lambda d: choice_store.waiting_for(d, "UANA"),
    "choices.unscheduled": lambda d: choice_store.unscheduled(d),
    "choices.due remind_at": lambda d: choice_store.due(d, "remind_at", 2e9),
    "choices.due expires_at": lambda d: choice_store.due(d, "expires_at", 2e9),
    "choices.next_due": choice_store.next_due,
    "choices.orders_choosing": lambda d: choice_store.orders_choosing(d, [1, 2]),
}


def _withdraw(database: Database, request_id: int) -> None:
    with database.tx() as db:
        order_store.withdraw_waiting(db, request_id, actor="UAPP", reason="no")
        ledger.queue_releases(db, request_id)


# Calls that sort what an index found, and why that set is bounded whatever the history.
SORTS_BOUNDED = {
    "orders.placed_between": "one day's orders, by id (the audit's day)",
    "received.earlier_rewards": "a recipient's rewards within the duplicate window, newest first",
    # Found through orders (state = 'choosing'): the offers still open, each of which expires
    # within REWARDS_CHOICE_EXPIRE; chosen and expired ones are not read.
    "choices.waiting_for": "the offers still waiting for a choice",
    "choices.unscheduled": "the offers still waiting for a choice",
    "choices.due remind_at": "the offers still waiting for a choice",
    "choices.due expires_at": "the offers still waiting for a choice",
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_the_hot_paths_search_indexes(database: Database, name: str) -> None:
    with issued(database) as statements:
        CALLS[name](database)
    assert reads(statements), "the call read nothing: the recorder saw no statement"
    found = unbounded(database, statements)
    if name in SORTS_BOUNDED:
        found = {
            sql: kept
            for sql, steps in found.items()
            if (kept := [s for s in steps if not s.startswith("USE TEMP B-TREE")])
        }
    assert found == {}


def test_the_recorder_catches_a_scan(database: Database) -> None:
    """The check can fail: a read by an unindexed column is reported, with its step."""
    with issued(database) as statements:
        database.query("SELECT * FROM orders WHERE product_name = 'x' ORDER BY id DESC")
        database.query("SELECT * FROM requests WHERE requester_id = 'UREQ' ORDER BY id DESC")
    found = unbounded(database, statements)
    assert [steps[0].split()[0] for steps in found.values()] == ["SCAN", "USE"]


def test_history_and_received_are_newest_first_by_time(database: Database) -> None:
    """Read along the time indexes: a request recorded later with an earlier time (an import
    of old rows) is listed by its time."""
    history = request_store.for_requester(database, "UREQ", 10)
    assert [r.created_at for r in history] == sorted((r.created_at for r in history), reverse=True)
    got = received.received(database, "UANA", ["delivered"], 10)
    assert [o.created_at for o, _ in got] == sorted((o.created_at for o, _ in got), reverse=True)
    assert len(got) == 2


def test_the_notification_backlog_count_is_capped(database: Database) -> None:
    """A cursor left far behind is counted up to the cap, not event by event for ever."""
    assert events.count_after(database, 0, [EventKind.REQUEST_CREATED]) == 4
    assert events.count_after(database, 0, [EventKind.REQUEST_CREATED], cap=3) == 3


def test_orders_of_several_requests_are_read_at_once_by_request(database: Database) -> None:
    """The Home's one read for its requests' orders gives each request exactly what
    `for_request` gives it, an unknown request nothing, and issues one statement."""
    with issued(database) as statements:
        found = order_store.for_requests(database, [4, 1, 99, 1])
    assert len(reads(statements)) == 1
    assert list(found) == [4, 1, 99]
    assert found[4] == order_store.for_request(database, 4)
    assert found[1] == order_store.for_request(database, 1)
    assert found[99] == []
    assert sorted(request_store.by_ids(database, [4, 99, 1])) == [1, 4]


def test_requests_by_state_are_counted_by_triggers(database: Database) -> None:
    assert request_store.count_by_state(database) == {
        "approved": 2,
        "pending_approval": 1,
        "rejected": 1,
    }
