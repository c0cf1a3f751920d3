"""Reward requests: check them, record them, and decide them under the company's policy.

Recording is here; deciding (approve, reject, cancel, expire) is services/decisions.py, mixed
into the one service the surfaces call; the parts of a request and the order builder are
services/reward_specs.py (re-exported here).

A request is checked against the catalog and the policy before anything is recorded, and its
orders get their poNumbers in the same transaction as the request itself: from then on the
poNumber never changes, whatever happens to the process.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.catalog import Catalog
from services.deadlines import Schedule
from services.decisions import Deciding
from services.delegation import Deciders
from services.errors import (
    DeciderUnknown,
    InvalidReward,
)
from services.policy import PeopleDirectory, Policy, same_email
from services.reward_specs import (
    CHOICE_NEEDS_SLACK,
    REQUEST_REF,
    SLACK_SOURCES,
    STATE_WORDS,
    UNATTENDED_SOURCES,
    CheckedReward,
    Decision,
    RequestView,
    RewardSpec,
    choice_stand_in,
    kept_details,
    kind_label,
    new_po_number,
    order_request,
    spec_field,
    spec_from_order,
    who_of,
)
from services.visibility import Visibility
from services.wallet import Wallet
from services.xoxoday import errors as xe
from services.xoxoday.models import Product
from storage import choices as choice_store
from storage import events, ledger
from storage import orders as order_store
from storage import requests as request_store
from storage.db import Database, utcnow
from storage.models import EventKind, RequestRow

log = logging.getLogger(__name__)

__all__ = [
    "SLACK_SOURCES",
    "STATE_WORDS",
    "UNATTENDED_SOURCES",
    "CheckedReward",
    "Decision",
    "RequestView",
    "RewardService",
    "RewardSpec",
    "new_po_number",
    "order_request",
    "spec_from_order",
]


class RewardService(Deciding):
    def __init__(
        self,
        database: Database,
        catalog: Catalog,
        wallet: Wallet | None,
        policy: Policy,
        *,
        wake: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
        people: PeopleDirectory | None = None,
        deciders: Deciders | None = None,
        schedule: Schedule | None = None,
    ) -> None:
        self.database = database
        self.catalog = catalog
        self.wallet = wallet
        self.policy = policy
        # Who is who in the workspace: needed to keep a recipient known only by email
        # (a CSV row) from deciding their own reward. None: no chat, only member ids count.
        self.people = people
        # Who may decide a request, delegates included (services/delegation.py).
        self.deciders = deciders or Deciders(policy, schedule=schedule, clock=clock)
        # Who may see what (services/visibility.py): one rule for every surface.
        self.visibility = Visibility(database, policy, self.deciders)
        # When waiting requests expire (services/deadlines.py): a decision checks it itself.
        self.schedule = schedule
        self._wake = wake or (lambda: None)
        self._clock = clock

    def check(self, spec: RewardSpec) -> CheckedReward:
        """Everything that can be known before recording: product, amount, recipient, cost."""
        reward_type, product = self.catalog.product(spec.product_id)
        return self.price(spec, reward_type, product)

    def price(self, spec: RewardSpec, reward_type: str, product: Product) -> CheckedReward:
        """check() with the product already looked up (services/intake.py looks it up once)."""
        if spec.reward_type and spec.reward_type != reward_type:
            raise InvalidReward(
                f"{product.name} is not a {kind_label(spec.reward_type)} product",
                field="product",
            )
        if not (spec.email or spec.recipient_id):
            raise InvalidReward("a recipient email is needed", field="email")
        order = order_request(reward_type, spec, new_po_number(self._clock))
        try:
            product.check(order)
        except xe.InvalidOrder as exc:
            raise InvalidReward(exc.message, field=spec_field(exc.field)) from None
        wallet_currency = self.wallet.known_currency() if self.wallet else None
        cost = product.wallet_cost(order.denomination, order.quantity, wallet_currency)
        if cost is None:
            raise InvalidReward(
                f"no exchange rate is known for {product.name}; refresh the catalog",
                field="product",
            )
        return CheckedReward(spec, reward_type, product, cost, order, order.po_number)

    def price_choice(self, spec: RewardSpec, reward_type: str) -> CheckedReward:
        """A recipient's choice: the amount given, in the wallet's currency, is what it
        holds; the product is theirs to choose once approved (services/choices.py)."""
        if not spec.recipient_id:
            raise InvalidReward(CHOICE_NEEDS_SLACK, field="recipients")
        if spec.denomination <= 0:
            raise InvalidReward("the amount must be more than 0", field="denomination")
        currency = self.wallet.known_currency() if self.wallet else None
        stand_in = choice_stand_in(currency or "")
        return CheckedReward(
            spec, reward_type, stand_in, spec.denomination, None, new_po_number(self._clock)
        )

    def create(
        self,
        requester_id: str,
        specs: Sequence[RewardSpec],
        *,
        requester_name: str | None = None,
        source: str = "slack",
        channel_id: str | None = None,
        message: str = "",
        idempotency_key: str | None = None,
        trusted: bool = False,
        source_link: str | None = None,
    ) -> Decision:
        """Check and record a request with one order per spec.

        `trusted` (an operator at the shell) skips the approval step and the spending
        limits, never the catalog checks. Re-submitting the same idempotency key returns
        the request recorded the first time. `source_link`: the chat message the request
        was made from (checked by the caller), shown beside it.
        """
        if not specs:
            raise InvalidReward("add at least one recipient", field="recipients")
        if idempotency_key:
            existing = self.recorded(idempotency_key)
            if existing:
                return existing
        return self.record(
            requester_id,
            [self.check(spec) for spec in specs],
            requester_name=requester_name,
            source=source,
            channel_id=channel_id,
            message=message,
            idempotency_key=idempotency_key,
            trusted=trusted,
            source_link=source_link,
        )

    def recorded(self, idempotency_key: str) -> Decision | None:
        """The request recorded under this key, if any (a retry, a replay, a file again)."""
        existing = request_store.by_idempotency_key(self.database, idempotency_key)
        if existing is None:
            return None
        return Decision(existing, order_store.for_request(self.database, existing.id))

    def check_can_record(self, requester_id: str, checked: Sequence[CheckedReward]) -> None:
        """PolicyRefusal when record() would refuse these rewards now: a single order over the
        limit, the requester's waiting requests, their budget (nothing is recorded; record()
        checks again in its transaction)."""
        currency = (self.wallet.known_currency() if self.wallet else None) or ""
        self._check_orders(checked, currency)
        self.check_waiting(requester_id)
        month = ledger.month_of(utcnow())
        spent = ledger.spent(self.database, requester_id, month)
        self.policy.check_budget(spent, sum((c.cost for c in checked), Decimal(0)), currency)

    def _check_orders(self, checked: Sequence[CheckedReward], currency: str) -> None:
        """REWARDS_MAX_ORDER, for each reward."""
        for item in checked:
            label = f"{item.product.name} for {who_of(item.spec)}"
            self.policy.check_order(item.cost, currency, label)

    def check_waiting(self, requester_id: str) -> None:
        """TooManyWaiting when `requester_id` has REWARDS_MAX_WAITING requests waiting."""
        self.policy.check_waiting(request_store.waiting_count(self.database, requester_id))

    def record(
        self,
        requester_id: str,
        checked: Sequence[CheckedReward],
        *,
        requester_name: str | None = None,
        source: str = "slack",
        channel_id: str | None = None,
        message: str = "",
        idempotency_key: str | None = None,
        trusted: bool = False,
        source_link: str | None = None,
        confirmed_by: str | None = None,
    ) -> Decision:
        """Record checked rewards as one request (create() without the checks): the policy's
        limits, the budget and the wallet are checked here, once, with the record.
        `confirmed_by`: a workflow's runner, who pressed Send (services/consent.py)."""
        if not checked:
            raise InvalidReward("add at least one recipient", field="recipients")
        currency = self.wallet.currency() if self.wallet else ""
        total = sum((c.cost for c in checked), Decimal(0))
        if not trusted:
            self._check_orders(checked, currency)
        auto = not trusted and source not in UNATTENDED_SOURCES and self.policy.auto_approves(total)
        balance = self._balance(total) if trusted and self.wallet else None
        with self.database.tx() as db:
            if idempotency_key:
                # Again inside the write transaction: another process (a Slack retry that
                # reached a second bot) may have recorded it since the check above.
                existing_decision = self.recorded(idempotency_key)
                if existing_decision:
                    return existing_decision
            # One timestamp: the request's month is the month its budget is counted in.
            created_at = utcnow()
            month = ledger.month_of(created_at)
            if balance is not None:
                self._ensure_funds(balance, total, currency)
            if not trusted:
                # Inside the write transaction, so two requests cannot both fit the last euro
                # (nor the last place among the requester's waiting requests).
                self.check_waiting(requester_id)
                spent = ledger.spent(self.database, requester_id, month)
                self.policy.check_budget(spent, total, currency)
            request_id = request_store.insert(
                db,
                created_at=created_at,
                requester_id=requester_id,
                requester_name=requester_name,
                source=source,
                total_cost=total,
                currency=currency,
                channel_id=channel_id,
                message=message,
                idempotency_key=idempotency_key,
                source_link=source_link,
                confirmed_by=confirmed_by,
            )
            events.append(
                db,
                EventKind.REQUEST_CREATED,
                request_id=request_id,
                actor=requester_id,
                to_state="pending_approval",
                data={
                    "total": total,
                    "currency": currency,
                    "orders": len(checked),
                    "auto_approvable": auto,
                },
            )
            self._insert_orders(db, request_id, checked, requester_id, month, currency)
            if trusted:
                self._approve_in(
                    db, request_id, actor="policy", reason="operator import", auto=True
                )
        if trusted:
            self._wake()
        decision = self._decision(request_id)
        return Decision(decision.request, decision.orders, auto_approvable=auto)

    def _insert_orders(
        self,
        db: Any,
        request_id: int,
        checked: Sequence[CheckedReward],
        requester_id: str,
        month: str,
        currency: str,
    ) -> None:
        """One order per checked reward, each with its poNumber and its reserve of the
        requester's budget, inside the request's transaction."""
        for item in checked:
            order_id = order_store.insert(db, self._order_row(request_id, item, currency))
            if item.chosen_later:  # the recipient chooses it once approved
                choice_store.insert(
                    db,
                    order_id=order_id,
                    request_id=request_id,
                    recipient_id=item.spec.recipient_id or "",
                    amount=item.cost,
                    currency=currency,
                )
            ledger.add(
                db,
                requester_id=requester_id,
                month=month,
                amount=item.cost,
                kind="reserve",
                currency=currency,
                request_id=request_id,
                order_id=order_id,
            )

    def _order_row(self, request_id: int, item: CheckedReward, currency: str) -> dict[str, Any]:
        spec = item.spec
        return {
            "request_id": request_id,
            "po_number": item.po_number,
            "reward_type": item.reward_type,
            "product_id": item.product.product_id,
            "product_name": item.product.name,
            "denomination": str(item.order.denomination if item.order else spec.denomination),
            "quantity": item.order.quantity if item.order else spec.quantity,
            "product_currency": item.product.currency_code,
            "cost_estimate": str(item.cost),
            "wallet_currency": currency,
            "recipient_id": spec.recipient_id,
            "recipient_name": spec.recipient_name,
            "email": spec.email,
            "contact": item.order.contact if item.order else None,
            "details": kept_details(item),
            "operator_validation": int(spec.operator_validation),
            "notify_receiver_email": int(spec.notify_receiver_email),
            "tag": spec.tag,
        }

    def recipient_ids(self, request_id: int) -> list[str | None]:
        """The member ids of a request's recipients (None for one known by email only)."""
        return [o.recipient_id for o in order_store.for_request(self.database, request_id)]

    def request(self, request_id: int) -> RequestRow | None:
        """The request as recorded, or None (a button for a request that is gone)."""
        return request_store.get(self.database, request_id)

    def history(self, requester_id: str, limit: int = 10) -> list[RequestRow]:
        """The requester's latest requests, newest first (`/reward history`)."""
        return request_store.for_requester(self.database, requester_id, limit=limit)

    def view_for(self, user_id: str, reference: str) -> RequestView | None:
        """`reference` (R-12, 12 or a poNumber) as `user_id` may see it; None when it does
        not exist or is none of their business (the two are not told apart)."""
        reference = reference.strip()
        match = REQUEST_REF.match(reference)
        by_po = None if match else order_store.by_po(self.database, reference)
        request_id = int(match.group(1)) if match else (by_po.request_id if by_po else None)
        request = request_store.get(self.database, request_id) if request_id else None
        if request is None:
            return None
        orders = order_store.for_request(self.database, request.id)
        if self.visibility.sees_request(user_id, request, [o.recipient_id for o in orders]):
            return RequestView(request, orders, whole=True)
        mine = [o for o in orders if o.recipient_id == user_id]
        by_email = [o for o in orders if not o.recipient_id and o.email]
        if by_email and self.people is not None:
            try:
                own = self.people.email_of(user_id)
            except DeciderUnknown:
                if not mine:  # nothing to show without it: say why instead
                    raise
                own = None
            mine += [o for o in by_email if same_email(own, o.email)]
        if by_po is not None:
            mine = [o for o in mine if o.id == by_po.id]
        if not mine:
            return None
        hidden = request.model_copy(update={"decision_reason": None})
        return RequestView(hidden, sorted(mine, key=lambda o: o.id), whole=False)

    def _month(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m")
