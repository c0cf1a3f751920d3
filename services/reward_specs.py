"""What a reward request is made of, before and after it is checked: the spec of one
recipient's reward, the checked reward with its cost and typed order, the recorded decision,
and the order builder every placeOrder comes from (services/reward_types.py says each kind's
shape). Shared by the request service (services/rewards.py, services/decisions.py), the
intake and the worker.
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.errors import InvalidReward
from services.reward_types import all_details, kind
from services.xoxoday import errors as xe
from services.xoxoday.models import OrderRequest, Product, make_order
from storage.choices import NOT_CHOSEN
from storage.models import OrderRow, RequestRow

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
        raise InvalidReward(human_field_error(exc), field=spec_field(exc.field)) from None


_FIELD_NAMES = {
    "denomination": "amount",
    "email": "email",
    "contact": "contact",
    "quantity": "quantity",
    "product_id": "product",
    "tag": "tag",
}


def spec_field(field_name: str | None) -> str | None:
    return _FIELD_NAMES.get(field_name or "", field_name)


def human_field_error(exc: xe.InvalidOrder) -> str:
    detail = next((d for d in all_details() if d.field == exc.field), None)
    if detail is not None and detail.invalid:
        return detail.invalid
    if exc.field == "email":
        return "enter a valid email address"
    return exc.message.split(": ", 1)[-1] if exc.field else exc.message


def kept_details(item: CheckedReward) -> dict[str, str]:
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
        product_id=NOT_CHOSEN,
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


def kind_label(reward_type: str) -> str:
    try:
        return kind(reward_type).label.lower()
    except KeyError:
        return reward_type


def who_of(spec: RewardSpec) -> str:
    return spec.recipient_name or spec.email or next(iter(spec.details.values()), "the recipient")


def order_label(order: OrderRow) -> str:
    return f"{order.product_name or order.product_id} for {order.recipient_label}"
