"""Reward requests: check them, record them, and decide them under the company's policy.

A request is checked against the catalog and the policy before anything is recorded, and its
orders get their poNumbers in the same transaction as the request itself: from then on the
poNumber never changes, whatever happens to the process.
"""

from __future__ import annotations

import logging
import re
import secrets
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.catalog import Catalog
from services.deadlines import Schedule, is_expired
from services.delegation import DEACTIVATED, Deciders
from services.errors import (
    DeciderUnknown,
    InsufficientFunds,
    InvalidReward,
    NotAnApprover,
    NotRequester,
    PolicyRefusal,
    RequestNotFound,
    RequestNotPending,
    SelfApproval,
)
from services.money import fmt_money
from services.policy import PeopleDirectory, Policy, same_email
from services.reward_types import all_details, kind
from services.wallet import Wallet
from services.xoxoday import errors as xe
from services.xoxoday.models import OrderRequest, Product, make_order
from storage import choices as choice_store
from storage import events, ledger
from storage import orders as order_store
from storage import requests as request_store
from storage.db import Database, utcnow
from storage.models import UNPAID_STATES, EventKind, OrderRow, RequestRow

log = logging.getLogger(__name__)

# What people type to name a request: R-12, r12 or 12 (else it is read as a poNumber).
REQUEST_REF = re.compile(r"^(?:R-?)?(\d{1,9})$", re.IGNORECASE)

WALLET_SHORT = "the Xoxoday wallet cannot cover it right now"
# A delegate may stand in for several approvers: each one found deactivated is ended in turn.
MAX_STAND_IN_CHECKS = 10
# Where a request comes from. Its requester is a Slack member for the first two; a CSV import
# names an operator. A workflow's request was filled in by the workflow's author, not by the
# person whose budget pays (whoever ran it): it is never approved automatically, so a person
# always looks at it (a shared link that rewards its author cannot spend every clicker's
# budget unseen).
SLACK_SOURCES = frozenset({"slack", "workflow"})
UNATTENDED_SOURCES = frozenset({"workflow"})
STATE_WORDS = {
    "pending_approval": "waiting for approval",
    "approved": "approved",
    "rejected": "rejected",
    "cancelled": "cancelled",
    "expired": "expired",
}


def new_po_number(clock: Callable[[], float] = time.time) -> str:
    """Unique, sortable by day, readable on a phone: RB-20261122-5F2C9A81D3E4."""
    day = datetime.fromtimestamp(clock(), UTC).strftime("%Y%m%d")
    return f"RB-{day}-{secrets.token_hex(6).upper()}"


@dataclass(frozen=True)
class RewardSpec:
    """One recipient's reward as a person (or a CSV row) asked for it."""

    product_id: int
    denomination: Decimal
    reward_type: str | None = None  # None: whatever the product's catalog says
    quantity: int = 1
    email: str | None = None
    recipient_id: str | None = None
    recipient_name: str | None = None
    contact: str | None = None
    # The kind's extra fields by name (services/reward_types.py Detail.field), as typed.
    details: Mapping[str, str] = field(default_factory=dict)
    operator_validation: bool = True
    notify_receiver_email: bool = False
    tag: str | None = None


@dataclass(frozen=True)
class CheckedReward:
    spec: RewardSpec
    reward_type: str
    product: Product  # for a recipient's choice, what stands for it until they choose
    cost: Decimal  # in the wallet's currency
    order: OrderRequest | None = field(repr=False)  # None: the recipient chooses it later
    po_number: str = ""  # the order's, given now and never changed

    @property
    def chosen_later(self) -> bool:
        return self.order is None


@dataclass(frozen=True)
class RequestView:
    """A request as one person may see it.

    The requester and the approvers see it whole. A recipient sees only their own order(s),
    never the other recipients, their poNumbers or the reject reason (which is the
    requester's to read).
    """

    request: RequestRow
    orders: list[OrderRow]
    whole: bool


@dataclass(frozen=True)
class Decision:
    request: RequestRow
    orders: list[OrderRow]
    # Within the auto-approve limit: call auto_approve() (it checks the wallet first).
    auto_approvable: bool = False


def order_request(reward_type: str, spec: RewardSpec, po_number: str) -> OrderRequest:
    """The typed placeOrder request for a spec, with the details its kind needs (and no
    other kind's): services/reward_types.py says which. The order builder of every order,
    when it is checked and when the worker places it."""
    reward_kind = kind(reward_type)
    fields: dict[str, Any] = {
        "product_id": spec.product_id,
        "denomination": spec.denomination,
        "quantity": spec.quantity,
        "po_number": po_number,
        "email": spec.email or None,
        "contact": spec.contact or None,
        "tag": spec.tag or None,
        "notify_receiver_email": spec.notify_receiver_email,
    }
    model = reward_kind.order_model
    user_meta: dict[str, str] = {}
    for detail in reward_kind.details:  # missing: the model names it as the field to fix
        value = spec.details.get(detail.field) or ""
        if detail.field in model.model_fields:
            fields[detail.field] = value
        else:
            user_meta[detail.order_key or detail.field] = value
    if user_meta:
        fields["user_meta"] = user_meta
    if reward_kind.operators_and_plans:
        fields["perform_operator_validation"] = spec.operator_validation
    try:
        return make_order(model, **fields)
    except xe.InvalidOrder as exc:
        raise InvalidReward(_human_field_error(exc), field=_spec_field(exc.field)) from None


_FIELD_NAMES = {
    "denomination": "amount",
    "email": "email",
    "contact": "contact",
    "quantity": "quantity",
    "product_id": "product",
    "tag": "tag",
}


def _spec_field(field_name: str | None) -> str | None:
    return _FIELD_NAMES.get(field_name or "", field_name)


def _human_field_error(exc: xe.InvalidOrder) -> str:
    detail = next((d for d in all_details() if d.field == exc.field), None)
    if detail is not None and detail.invalid:
        return detail.invalid
    if exc.field == "email":
        return "enter a valid email address"
    return exc.message.split(": ", 1)[-1] if exc.field else exc.message


def _kept_details(item: CheckedReward) -> dict[str, str]:
    """The kind's details as the order took them (a number in E.164), to be stored."""
    kept = {}
    for detail in kind(item.reward_type).details:
        typed = getattr(item.order, detail.field, None)
        as_typed = item.spec.details.get(detail.field, "")
        kept[detail.field] = str(typed) if typed is not None else as_typed
    return kept


# A recipient's choice goes to a Slack member, who chooses in Slack (a CSV row names people
# by email: they would never see the offer).
CHOICE_NEEDS_SLACK = (
    "Their choice goes to people in Slack, who choose in Slack; a recipient known only by "
    "email cannot be given one: send them a gift card instead."
)


def choice_stand_in(currency: str) -> Product:
    """What a choice order shows until its recipient chooses: an amount of the wallet's
    currency, not a product (storage/choices.py NOT_CHOSEN; never placed as it is)."""
    return Product(
        product_id=choice_store.NOT_CHOSEN,
        name="Their choice",
        currency_code=currency,
        value_type="open_value",
    )


def spec_from_order(order: OrderRow) -> RewardSpec:
    return RewardSpec(
        product_id=order.product_id,
        denomination=order.denomination,
        reward_type=order.reward_type,
        quantity=order.quantity,
        email=order.email,
        recipient_id=order.recipient_id,
        recipient_name=order.recipient_name,
        contact=order.contact,
        details=dict(order.details),
        operator_validation=order.operator_validation,
        notify_receiver_email=order.notify_receiver_email,
        tag=order.tag,
    )


class RewardService:
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
        # When waiting requests expire (services/deadlines.py): a decision checks it itself.
        self.schedule = schedule
        self._wake = wake or (lambda: None)
        self._clock = clock

    # --- checking ---------------------------------------------------------------------------

    def check(self, spec: RewardSpec) -> CheckedReward:
        """Everything that can be known before recording: product, amount, recipient, cost."""
        reward_type, product = self.catalog.product(spec.product_id)
        return self.price(spec, reward_type, product)

    def price(self, spec: RewardSpec, reward_type: str, product: Product) -> CheckedReward:
        """check() with the product already looked up (services/intake.py looks it up once)."""
        if spec.reward_type and spec.reward_type != reward_type:
            raise InvalidReward(
                f"{product.name} is not a {_label(spec.reward_type)} product",
                field="product",
            )
        if not (spec.email or spec.recipient_id):
            raise InvalidReward("a recipient email is needed", field="email")
        order = order_request(reward_type, spec, new_po_number(self._clock))
        try:
            product.check(order)
        except xe.InvalidOrder as exc:
            raise InvalidReward(exc.message, field=_spec_field(exc.field)) from None
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

    # --- recording --------------------------------------------------------------------------

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
    ) -> Decision:
        """Record checked rewards as one request (create() without the checks): the policy's
        limits, the budget and the wallet are checked here, once, with the record."""
        if not checked:
            raise InvalidReward("add at least one recipient", field="recipients")
        currency = self.wallet.currency() if self.wallet else ""
        total = sum((c.cost for c in checked), Decimal(0))
        if not trusted:
            for item in checked:
                label = f"{item.product.name} for {_who(item.spec)}"
                self.policy.check_order(item.cost, currency, label)
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
                # Inside the write transaction, so two requests cannot both fit the last euro.
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
            for item in checked:
                order_id = order_store.insert(db, self._order_row(request_id, item, currency))
                if item.chosen_later:
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
            if trusted:
                self._approve_in(
                    db, request_id, actor="policy", reason="operator import", auto=True
                )
        if trusted:
            self._wake()
        decision = self._decision(request_id)
        return Decision(decision.request, decision.orders, auto_approvable=auto)

    def auto_approve(self, request_id: int) -> Decision:
        """Approve a request within the auto-approve limit, once the wallet can pay for it.

        Kept apart from create() because it may ask Xoxoday for the balance, which must not
        hold up Slack's 3-second answer. On a shortfall the request stays pending and goes
        to the approvers with the reason.
        """
        request = self._get(request_id)
        self._ensure_pending(request)
        currency = request.currency or ""
        if not self.policy.auto_approves(request.total_cost):
            raise InvalidReward(f"{request.ref} is over the auto-approve limit")
        reason = (
            f"at or below the auto-approve limit of "
            f"{fmt_money(self.policy.auto_approve_max, currency)}"
        )
        try:
            balance = self._balance(request.total_cost) if self.wallet else None
            with self.database.tx() as db:
                if balance is not None:
                    self._ensure_funds(balance, request.total_cost, currency)
                self._approve_in(db, request_id, actor="policy", reason=reason, auto=True)
        except InsufficientFunds as exc:
            # The figures are for the approvers; everyone else reads that the wallet is short.
            self.to_approvers(request_id, exc.message, public=WALLET_SHORT)
            raise
        self._wake()
        return self._decision(request_id)

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
            "details": _kept_details(item),
            "operator_validation": int(spec.operator_validation),
            "notify_receiver_email": int(spec.notify_receiver_email),
            "tag": spec.tag,
        }

    # --- deciding ---------------------------------------------------------------------------

    def check_decider(self, request_id: int, user_id: str) -> RequestRow:
        """The request, when `user_id` may approve or reject it now.

        Every path that decides (a button in the channel, a DM, a reminder or the Home tab)
        calls this with the user id from the signed payload: the decider must be an approver
        (or stand in for one, see services/delegation.py), neither the requester nor a
        recipient, and the request still pending.
        """
        return self.decider(request_id, user_id)[0]

    def decider(self, request_id: int, user_id: str) -> tuple[RequestRow, str | None]:
        """check_decider, and the approver `user_id` stands in for (None: their own right)."""
        request = self._get(request_id)
        orders = order_store.for_request(self.database, request_id)
        ids = [o.recipient_id for o in orders]
        acting_for = self._stand_in_check(user_id, request, ids)
        emails = [o.email for o in orders if not o.recipient_id]
        email_of = self.people.email_of if self.people is not None else None
        self.policy.check_not_rewarded(user_id, ids, emails, email_of)
        if acting_for is not None:
            try:  # the approver stood in for is held to the same rule
                self.policy.check_not_rewarded(acting_for, ids, emails, email_of)
            except PolicyRefusal:
                raise SelfApproval(
                    "you stand in for someone this request may reward; another approver decides"
                ) from None
        self._ensure_pending(request)
        return request, acting_for

    def _stand_in_check(
        self, user_id: str, request: RequestRow, ids: list[str | None]
    ) -> str | None:
        """Deciders.acting_for, and for a delegate, the approver they stand in for asked
        about afresh: a delegation whose approver's account was deactivated ends here (the
        delegate is told) and is not used, and when the workspace cannot say, the decision
        waits (a departed approver's stand-in decides nothing)."""
        delegations = self.deciders.delegations
        for _ in range(MAX_STAND_IN_CHECKS):
            acting_for = self.deciders.acting_for(user_id, request, ids)
            if acting_for is None or self.people is None or delegations is None:
                return acting_for
            active = self.people.is_active(acting_for, fresh=True)
            if active:
                return acting_for
            if active is None:
                raise DeciderUnknown(
                    f"Slack did not say whether <@{acting_for}>, whom you stand in for, is "
                    "still in the workspace; try again in a moment"
                )
            row = delegations.row_of(acting_for)
            if row is not None and row.delegate_id == user_id:
                delegations.end(row, DEACTIVATED)
        raise NotAnApprover("only the configured approvers can approve or reject rewards")

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
        if user_id == request.requester_id or self.policy.is_approver(user_id):
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

    def approve(self, request_id: int, approver: str) -> Decision:
        request, acting_for = self.decider(request_id, approver)
        orders = order_store.for_request(self.database, request_id)
        for order in orders:
            self.policy.check_order(
                order.cost_estimate or Decimal(0), request.currency or "", _order_label(order)
            )
        balance = self._balance(request.total_cost) if self.wallet else None
        with self.database.tx() as db:
            if self._expired_now(db, request, approver, acting_for):
                expired = True
            else:
                expired = False
                if balance is not None:  # in the transaction: two approvals cannot share a euro
                    self._ensure_funds(balance, request.total_cost, request.currency or "")
                # Checked again at approval: the budget may have been lowered since the request.
                month = ledger.month_of(request.created_at)
                spent = ledger.spent(self.database, request.requester_id, month)
                self.policy.check_budget(
                    spent - request.total_cost, request.total_cost, request.currency or ""
                )
                self._approve_in(
                    db, request_id, actor=approver, reason=None, auto=False, acting_for=acting_for
                )
        if expired:
            raise self._not_pending(request_id)
        self._wake()
        return self._decision(request_id)

    def _expired_now(
        self, db: Any, request: RequestRow, user_id: str, acting_for: str | None
    ) -> bool:
        """Inside the decision's write transaction, with the clock's time: True when the
        request's time ran out (it is expired here and now, as the scheduler would have done,
        and the decision must be refused after the commit). Raises when it was decided
        meanwhile, or when `user_id` may no longer decide it as they could a moment ago (a
        delegation ended, escalation time not reached: services/deadlines.py)."""
        now = self._clock()
        current = request_store.get(self.database, request.id)
        if current is None or current.state != "pending_approval":
            raise self._not_pending(request.id, current)
        if is_expired(current, self.schedule, now):
            reason = self.schedule.expiry_reason() if self.schedule else "its time ran out"
            self._close_in(
                db, current, "expired", "clock", reason, EventKind.REQUEST_EXPIRED, None, False
            )
            return True
        ids = [o.recipient_id for o in order_store.for_request(self.database, request.id)]
        if self.deciders.acting_for(user_id, current, ids, now=now) != acting_for:
            raise NotAnApprover("who you may stand in for changed a moment ago; try again")
        return False

    def _approve_in(
        self,
        db: Any,
        request_id: int,
        *,
        actor: str,
        reason: str | None,
        auto: bool,
        acting_for: str | None = None,
    ) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        updated = request_store.transition(
            db,
            request_id,
            "pending_approval",
            "approved",
            actor=actor,
            kind=EventKind.REQUEST_APPROVED,
            reason=reason,
            fields={
                "decided_by": actor,
                "decided_for": acting_for,
                "decided_at": now,
                "auto_approved": int(auto),
                "decision_reason": reason,
            },
            data={"auto": auto, "decided_by": actor, "decided_for": acting_for},
        )
        if updated is None:
            raise self._not_pending(request_id)
        for order in order_store.for_request(self.database, request_id):
            if kind(order.reward_type).chooses_from:
                # The recipient chooses first (services/choices.py); the offer starts now.
                order_store.transition(
                    db,
                    order.id,
                    "pending_approval",
                    choice_store.CHOOSING,
                    actor=actor,
                    kind=EventKind.CHOICE_OFFERED,
                )
                choice_store.offer(db, order.id, self._clock())
                continue
            order_store.transition(
                db,
                order.id,
                "pending_approval",
                "queued",
                actor=actor,
                kind=EventKind.ORDER_QUEUED,
                fields={"next_attempt_at": 0},
            )

    def to_approvers(self, request_id: int, reason: str, *, public: str | None = None) -> None:
        """Automatic approval did not happen: ask the approvers (if still pending).

        `reason` is shown to the approvers only; `public` (default: `reason`) is what the
        requester and the request's channel read, so a wallet balance never reaches them.
        """
        request = self._get(request_id)
        if request.state != "pending_approval":
            return
        with self.database.tx() as db:
            events.append(
                db,
                EventKind.REQUEST_NEEDS_APPROVAL,
                request_id=request_id,
                actor="policy",
                reason=reason,
                data={"public": public if public is not None else reason},
            )

    def stranded_auto_approvals(self) -> list[int]:
        """Requests recorded as auto-approvable that were neither approved nor sent to the
        approvers: the process stopped between recording and approving them."""
        return request_store.stranded_auto_approvals(self.database)

    def reject(self, request_id: int, approver: str, reason: str) -> Decision:
        reason = reason.strip()
        if not reason:
            raise InvalidReward("say why the request is rejected", field="reason")
        request, acting_for = self.decider(request_id, approver)
        return self._close(
            request,
            "rejected",
            approver,
            reason,
            EventKind.REQUEST_REJECTED,
            acting_for=acting_for,
            decision=True,
        )

    def cancel(
        self, request_id: int, requester: str, reason: str = "cancelled by the requester"
    ) -> Decision:
        request = self._get(request_id)
        if requester != request.requester_id:
            raise NotRequester("only the person who asked for a reward can cancel it")
        return self._close(request, "cancelled", requester, reason, EventKind.REQUEST_CANCELLED)

    def expire(self, request_id: int, reason: str, actor: str = "scheduler") -> Decision:
        """Nobody decided in time: the request expires, its orders are withdrawn and its
        budget released. RequestNotPending when someone decided first."""
        request = self._get(request_id)
        return self._close(
            request, "expired", actor, reason, EventKind.REQUEST_EXPIRED, by_person=False
        )

    def _close(
        self,
        request: RequestRow,
        state: str,
        actor: str,
        reason: str,
        kind: str,
        *,
        acting_for: str | None = None,
        by_person: bool = True,
        decision: bool = False,
    ) -> Decision:
        """Close a waiting request as `state`. A `decision` (an approver's reject) is checked
        against the clock in the same transaction, like an approval."""
        self._ensure_pending(request)
        expired = False
        with self.database.tx() as db:
            if decision and self._expired_now(db, request, actor, acting_for):
                expired = True
            else:
                self._close_in(db, request, state, actor, reason, kind, acting_for, by_person)
        if expired:
            raise self._not_pending(request.id)
        return self._decision(request.id)

    def _close_in(
        self,
        db: Any,
        request: RequestRow,
        state: str,
        actor: str,
        reason: str,
        kind: str,
        acting_for: str | None,
        by_person: bool,
    ) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        decided_by = actor if by_person else None
        updated = request_store.transition(
            db,
            request.id,
            "pending_approval",
            state,
            actor=actor,
            kind=kind,
            reason=reason,
            fields={
                "decided_by": decided_by,
                "decided_for": acting_for,
                "decided_at": now,
                "decision_reason": reason,
            },
            data={"decided_by": decided_by, "decided_for": acting_for},
        )
        if updated is None:
            raise self._not_pending(request.id)
        for order in order_store.for_request(self.database, request.id):
            order_store.transition(
                db,
                order.id,
                "pending_approval",
                "withdrawn",
                actor=actor,
                kind=EventKind.ORDER_WITHDRAWN,
                reason=reason,
            )
            ledger.give_back(db, self.database, order, request, "release")

    # --- helpers ----------------------------------------------------------------------------

    def _balance(self, needed: Decimal) -> tuple[Decimal, str]:
        """The wallet balance (cached; may ask Xoxoday), before any write lock is taken."""
        assert self.wallet is not None
        try:
            return self.wallet.balance()
        except xe.XoxodayError as exc:
            raise InsufficientFunds(
                f"the Xoxoday wallet balance could not be checked ({exc}); try again shortly",
                available=Decimal(0),
                needed=needed,
            ) from exc

    def _ensure_funds(self, balance: tuple[Decimal, str], needed: Decimal, currency: str) -> None:
        """Inside the write transaction: what approved orders not yet charged will take is
        counted with the orders just approved by anyone else."""
        value, wallet_currency = balance
        committed = order_store.committed_cost(self.database, UNPAID_STATES)
        available = value - committed
        if available < needed:
            raise InsufficientFunds(
                f"the Xoxoday wallet has {fmt_money(available, wallet_currency)} available "
                f"(balance {fmt_money(value, wallet_currency)}, "
                f"{fmt_money(committed, wallet_currency)} already committed), and this "
                f"request needs {fmt_money(needed, currency or wallet_currency)}: "
                "top up the wallet first",
                available=available,
                needed=needed,
            )

    def _get(self, request_id: int) -> RequestRow:
        request = request_store.get(self.database, request_id)
        if request is None:
            raise RequestNotFound(f"there is no request R-{request_id}")
        return request

    def _ensure_pending(self, request: RequestRow) -> None:
        if request.state != "pending_approval":
            raise self._not_pending(request.id, request)

    def _not_pending(self, request_id: int, request: RequestRow | None = None) -> RequestNotPending:
        request = request or self._get(request_id)
        return RequestNotPending(
            f"{request.ref} is already {STATE_WORDS.get(request.state, request.state)}",
            state=request.state,
            decided_by=request.decided_by,
        )

    def _decision(self, request_id: int) -> Decision:
        return Decision(self._get(request_id), order_store.for_request(self.database, request_id))

    def _month(self) -> str:
        return datetime.fromtimestamp(self._clock(), UTC).strftime("%Y-%m")


def _label(reward_type: str) -> str:
    try:
        return kind(reward_type).label.lower()
    except KeyError:
        return reward_type


def _who(spec: RewardSpec) -> str:
    return spec.recipient_name or spec.email or next(iter(spec.details.values()), "the recipient")


def _order_label(order: OrderRow) -> str:
    return f"{order.product_name or order.product_id} for {order.recipient_label}"
