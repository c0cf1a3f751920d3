"""What a person's App Home shows, as plain data (handlers/home_view.py renders it).

For everyone: their budget this month, the rewards waiting for their choice (with the button),
their recent requests (and which they may still cancel), and the rewards they received: what
and when, never a code (codes stay in their DM). For those
who may decide requests (approvers, escalation approvers once a request is escalated, and
delegates): the requests waiting for them, oldest first; the wallet balance with a warning
under REWARDS_LOW_BALANCE; this month's spend by reward type.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal

from services.budget import BudgetView, MonthSpend, budget_of
from services.delegation import Deciders, Delegation, Delegations
from services.errors import PolicyRefusal
from services.policy import Policy
from services.visibility import Visibility
from services.wallet import WalletView
from storage import choices as choice_store
from storage import orders as order_store
from storage import received as received_store
from storage import requests as request_store
from storage.db import Database
from storage.models import OrderRow, RequestRow

RECENT = 10  # requests, and rewards received
WAITING_SHOWN = 15  # each takes two blocks; a Home tab holds 100


@dataclass(frozen=True)
class Waiting:
    request: RequestRow
    orders: list[OrderRow]
    acting_for: str | None  # the approver the reader stands in for; None: their own right


@dataclass(frozen=True)
class Received:
    order: OrderRow
    request: RequestRow


@dataclass(frozen=True)
class ToChoose:
    """A reward waiting for the reader's choice: the amount given, and until when."""

    order: OrderRow
    request: RequestRow
    amount: Decimal
    expires_at: float | None


@dataclass(frozen=True)
class HomeData:
    user_id: str
    budget: BudgetView
    requests: list[tuple[RequestRow, list[OrderRow]]]  # newest first
    received: list[Received]  # newest first
    decides: bool = False  # the approver part is shown
    waiting: list[Waiting] = field(default_factory=list)  # oldest first
    waiting_total: int = 0
    wallet: WalletView | None = None
    low_balance: Decimal | None = None
    spend: dict[str, Decimal] = field(default_factory=dict)
    delegate: Delegation | None = None  # who stands in for the reader
    standing_in_for: list[Delegation] = field(default_factory=list)
    to_choose: list[ToChoose] = field(default_factory=list)  # oldest first

    @property
    def low(self) -> bool:
        return (
            self.wallet is not None
            and self.low_balance is not None
            and self.wallet.balance < self.low_balance
        )


class HomeService:
    def __init__(
        self,
        database: Database,
        policy: Policy,
        deciders: Deciders,
        delegations: Delegations,
        *,
        wallet_view: Callable[[], WalletView | None] = lambda: None,
        currency: Callable[[], str | None] = lambda: None,
        low_balance: Decimal | None = None,
        clock: Callable[[], float] = time.time,
        visibility: Visibility | None = None,
    ) -> None:
        self.database = database
        self.policy = policy
        self.deciders = deciders
        self.delegations = delegations
        self.wallet_view = wallet_view
        self.currency = currency
        self.low_balance = low_balance
        self._clock = clock
        self.visibility = visibility or Visibility(database, policy, deciders, clock=clock)
        self.spend = MonthSpend(database)  # read whole once, then only what was added

    def month(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m")

    def decides(self, user_id: str) -> bool:
        """Whether the approver part of the Home (what waits, the wallet, the company's spend)
        is shown to `user_id`: the one rule of services/visibility.py."""
        return self.visibility.sees_company(user_id)

    def build(self, user_id: str) -> HomeData:
        month = self.month()
        requests = request_store.for_requester(self.database, user_id, limit=RECENT)
        orders = order_store.for_requests(self.database, [r.id for r in requests])
        data = HomeData(
            user_id=user_id,
            budget=budget_of(self.database, self.policy, user_id, month, self.currency() or ""),
            requests=[(r, orders[r.id]) for r in requests],
            received=self._received(user_id),
            delegate=self.delegations.of(user_id),
            standing_in_for=self.delegations.standing_in_for(user_id),
            to_choose=self._to_choose(user_id),
        )
        if not self.decides(user_id):
            return data
        waiting, total = self.waiting_for(user_id)
        return replace(
            data,
            decides=True,
            waiting=waiting,
            waiting_total=total,
            wallet=self.wallet_view(),
            low_balance=self.low_balance,
            spend=self.spend.by_type(month),
        )

    def waiting_for(self, user_id: str, shown: int = WAITING_SHOWN) -> tuple[list[Waiting], int]:
        """The oldest `shown` waiting requests `user_id` may decide now, and how many they may
        decide in all, counted exactly (the service checks again at the click, emails of CSV
        recipients included)."""
        recipients = order_store.recipients_of_waiting(self.database)
        now = self._clock()
        standing = self.delegations.standing_in_for(user_id)  # once, not once per request
        first: list[tuple[RequestRow, str | None]] = []
        total = 0
        for request in request_store.waiting(self.database):
            ids = recipients.get(request.id, [])
            if user_id in ids:
                continue
            try:
                acting_for = self.deciders.acting_for(
                    user_id, request, ids, now=now, standing=standing
                )
            except PolicyRefusal:
                continue
            total += 1
            if len(first) < shown:
                first.append((request, acting_for))
        orders = order_store.for_requests(self.database, [r.id for r, _ in first])
        return [Waiting(r, orders[r.id], acting_for) for r, acting_for in first], total

    def _to_choose(self, user_id: str) -> list[ToChoose]:
        found = []
        for choice in choice_store.waiting_for(self.database, user_id):
            order = order_store.get(self.database, choice.order_id)
            request = request_store.get(self.database, choice.request_id)
            if order is not None and request is not None:
                found.append(ToChoose(order, request, choice.amount, choice.expires_at))
        return found

    def _received(self, user_id: str) -> list[Received]:
        shown = ("placed", "delivered", "canceled")
        return [
            Received(order, request)
            for order, request in received_store.received(self.database, user_id, shown, RECENT)
        ]
