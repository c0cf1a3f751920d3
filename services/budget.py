"""Where a requester stands this month, and what the company spent by reward type.

Read from the budget ledger (storage/ledger.py), the same rows the policy checks, so what the
modal and the Home tab show is what a request will be checked against.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from services.policy import Policy
from storage import events, ledger
from storage.db import Database
from storage.models import EventKind


@dataclass(frozen=True)
class BudgetView:
    limit: Decimal | None  # REWARDS_MONTHLY_BUDGET; None: no limit
    committed: Decimal  # everything counted this month (what the limit is checked against)
    held: Decimal  # of which: requests still waiting for approval
    currency: str

    @property
    def spent(self) -> Decimal:
        """Approved (placed, or being placed) this month."""
        return self.committed - self.held

    @property
    def left(self) -> Decimal | None:
        if self.limit is None:
            return None
        return max(self.limit - self.committed, Decimal(0))


def budget_of(
    database: Database, policy: Policy, requester_id: str, month: str, currency: str
) -> BudgetView:
    """`requester_id`'s month (YYYY-MM): limit, spent, held by waiting requests, left."""
    held = ledger.held(database, requester_id, month)
    committed = ledger.spent(database, requester_id, month)
    return BudgetView(policy.monthly_budget, committed, held, currency)


class MonthSpend:
    """spend_by_type kept up to date from what was added since it was last read (issue 20):
    the month's ledger is read whole once (a process's first Home, a new month), then only
    the lines written since and the requests approved since (every approval is an event).

    Ledger lines are never updated and a request approved stays approved, so nothing read
    before can change; every read happens in one snapshot, so the ids it stops at and the
    rows it adds agree (writers commit one at a time, ids in commit order)."""

    def __init__(self, database: Database) -> None:
        self.database = database
        self._lock = threading.Lock()
        self._month: str | None = None
        self._ledger_id = 0
        self._event_id = 0
        self._totals: dict[str, Decimal] = {}

    def by_type(self, month: str) -> dict[str, Decimal]:
        """What approved requests of `month` cost, by reward type (net), largest first."""
        with self._lock, self.database.snapshot():
            ledger_id = ledger.last_id(self.database)
            event_id = events.last_id(self.database)
            if month != self._month:
                lines = ledger.approved_amounts_by_type(self.database, month)
                self._totals = {}
            else:
                lines = ledger.approved_amounts_added(
                    self.database, month, self._ledger_id, ledger_id
                )
                approved = events.request_ids_between(
                    self.database, EventKind.REQUEST_APPROVED, self._event_id, event_id
                )
                lines += ledger.amounts_of_requests(self.database, month, approved, self._ledger_id)
            for reward_type, amount in lines:
                self._totals[reward_type] = self._totals.get(reward_type, Decimal(0)) + amount
            self._month, self._ledger_id, self._event_id = month, ledger_id, event_id
            totals = dict(self._totals)
        return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))


def spend_by_type(database: Database, month: str) -> dict[str, Decimal]:
    """What approved requests of `month` cost, by reward type (net of refunds), largest first."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for reward_type, amount in ledger.approved_amounts_by_type(database, month):
        totals[reward_type] += amount
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))
