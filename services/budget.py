"""Where a requester stands this month, and what the company spent by reward type.

Read from the budget ledger (storage/ledger.py), the same rows the policy checks, so what the
modal and the Home tab show is what a request will be checked against.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from services.policy import Policy
from storage import ledger
from storage.db import Database


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


def spend_by_type(database: Database, month: str) -> dict[str, Decimal]:
    """What approved requests of `month` cost, by reward type (net of refunds), largest first."""
    totals: dict[str, Decimal] = defaultdict(Decimal)
    for reward_type, amount in ledger.approved_amounts_by_type(database, month):
        totals[reward_type] += amount
    return dict(sorted(totals.items(), key=lambda item: (-item[1], item[0])))
