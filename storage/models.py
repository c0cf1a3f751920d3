"""Rows as typed objects: money back to Decimal, states as the names the services use."""

from __future__ import annotations

import json
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, field_validator

RequestState = Literal["pending_approval", "approved", "rejected", "cancelled", "expired"]
OrderState = Literal[
    "pending_approval",  # waiting for the request's approval
    "choosing",  # approved; its recipient chooses the product first (storage/choices.py)
    "queued",  # approved, waiting for the worker
    "placing",  # claimed; placeOrder may be in flight
    "unknown",  # the answer was lost: look it up by poNumber before anything else
    "placed",  # Xoxoday has it (orderId known); delivery pending
    "delivered",
    "canceled",  # Xoxoday cancelled the delivery; the money came back
    "failed",  # could not be placed; the reason is in failure_reason
    "withdrawn",  # the request was rejected, cancelled or expired before placement
]
TERMINAL_ORDER_STATES = frozenset({"delivered", "canceled", "failed", "withdrawn"})
IN_FLIGHT_STATES = ("queued", "placing", "unknown")
# What the wallet must still pay for: orders in flight, and choices still to be made (each
# holds the amount its recipient was given, until they choose less or it expires).
UNPAID_STATES = ("choosing", *IN_FLIGHT_STATES)


def _money(value: Any) -> Any:
    return None if value in (None, "") else Decimal(str(value))


class _Row(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True)


class RequestRow(_Row):
    id: int
    requester_id: str
    requester_name: str | None = None
    source: str
    channel_id: str | None = None
    message: str = ""
    state: RequestState
    total_cost: Decimal
    currency: str | None = None
    auto_approved: bool = False
    decided_by: str | None = None  # who clicked (or "policy")
    decided_for: str | None = None  # the approver a delegate stood in for
    decided_at: str | None = None
    decision_reason: str | None = None
    idempotency_key: str | None = None
    source_link: str | None = None  # the Slack message it was made from (a permalink)
    confirmed_by: str | None = None  # a workflow's runner, who confirmed it by DM
    created_at: str
    updated_at: str
    # The approval schedule (services/reminders.py); times are epoch seconds.
    waiting_since: str | None = None  # None: created_at
    remind_at: float | None = None
    reminders_sent: int = 0
    escalate_at: float | None = None
    escalated_at: str | None = None
    expires_at: float | None = None

    _money = field_validator("total_cost", mode="before")(_money)

    @field_validator("reminders_sent", mode="before")
    @classmethod
    def _zero_for_null(cls, value: Any) -> Any:
        return 0 if value is None else value

    @property
    def ref(self) -> str:
        """What people type and read: R-42."""
        return f"R-{self.id}"


class OrderRow(_Row):
    id: int
    request_id: int
    po_number: str
    state: OrderState
    reward_type: str
    product_id: int
    product_name: str | None = None
    denomination: Decimal
    quantity: int = 1
    product_currency: str | None = None
    cost_estimate: Decimal | None = None
    recipient_id: str | None = None
    recipient_name: str | None = None
    email: str | None = None
    contact: str | None = None
    details: dict[str, str] = {}  # the kind's extra fields by name (orders.details, JSON)
    operator_validation: bool = True
    notify_receiver_email: bool = False
    tag: str | None = None
    xoxoday_order_id: int | None = None
    amount_charged: Decimal | None = None
    order_discount: Decimal | None = None  # Xoxoday's orderDiscount, wallet currency
    wallet_currency: str | None = None
    delivery_status: str | None = None
    attempts: int = 0
    next_attempt_at: float = 0
    polls: int = 0
    next_poll_at: float | None = None
    claimed_by: str | None = None
    sent_at: float | None = None  # when the current placeOrder attempt was sent
    not_found_at: float | None = None  # a first trusted "not found", awaiting a second
    last_error_id: str | None = None
    cancelled_quantity: int = 0
    odd_status_polls: int = 0
    lookup_failures: int = 0  # failed lookups in a row of this unknown order
    lookup_failed_since: float | None = None
    lookup_alerted_at: float | None = None
    failure_reason: str | None = None
    last_error: str | None = None
    created_at: str
    updated_at: str
    placed_at: str | None = None
    settled_at: str | None = None

    _money = field_validator(
        "denomination", "cost_estimate", "amount_charged", "order_discount", mode="before"
    )(_money)

    @field_validator(
        "operator_validation",
        "notify_receiver_email",
        "attempts",
        "polls",
        "cancelled_quantity",
        "odd_status_polls",
        "lookup_failures",
        mode="before",
    )
    @classmethod
    def _defaults_for_null(cls, value: Any, info: Any) -> Any:
        # Columns added without a value read as NULL; they mean the field's default.
        return cls.model_fields[info.field_name].default if value is None else value

    @property
    def is_terminal(self) -> bool:
        return self.state in TERMINAL_ORDER_STATES

    @property
    def recipient_label(self) -> str:
        return self.recipient_name or self.email or next(iter(self.details.values()), "?")

    @field_validator("details", mode="before")
    @classmethod
    def _details(cls, value: Any) -> Any:
        if value in (None, ""):
            return {}
        return json.loads(value) if isinstance(value, str) else value


class EventKind(StrEnum):
    """Every kind of event the log holds, in one place. A StrEnum is stored and compared as
    its string, so rows written before it existed read the same."""

    REQUEST_CREATED = "request.created"
    REQUEST_NEEDS_APPROVAL = "request.needs_approval"
    REQUEST_APPROVED = "request.approved"
    REQUEST_REJECTED = "request.rejected"
    REQUEST_CANCELLED = "request.cancelled"
    REQUEST_EXPIRED = "request.expired"
    REQUEST_REMINDED = "request.reminded"
    REQUEST_ESCALATED = "request.escalated"
    ORDER_QUEUED = "order.queued"
    ORDER_CLAIMED = "order.claimed"
    ORDER_PLACED = "order.placed"
    ORDER_UNKNOWN = "order.unknown"
    ORDER_RECOVERED = "order.recovered"
    ORDER_REQUEUED = "order.requeued"
    ORDER_RETRY = "order.retry"
    ORDER_NOT_FOUND = "order.not_found"
    ORDER_FAILED = "order.failed"
    ORDER_DELIVERED = "order.delivered"
    ORDER_CANCELED = "order.canceled"
    ORDER_PARTIALLY_CANCELED = "order.partially_canceled"
    ORDER_WITHDRAWN = "order.withdrawn"
    CHOICE_OFFERED = "choice.offered"  # approved: the recipient may choose (issue 18)
    CHOICE_REMINDED = "choice.reminded"
    CHOICE_MADE = "choice.made"
    CHOICE_EXPIRED = "choice.expired"
    ORDER_VOUCHER_RESENT = "order.voucher_resent"  # the recipient had the code emailed again
    # Slack failed every try of the code's DM: the requester and the operators were told.
    ORDER_CODE_UNDELIVERED = "order.code_undelivered"
    DELEGATION_SET = "delegation.set"
    DELEGATION_ENDED = "delegation.ended"
    WORKFLOW_CONSENT_EXPIRED = "workflow.consent_expired"
    WORKFLOW_CONSENT_ANSWERED = "workflow.consent_answered"
    SYSTEM_ALERT = "system.alert"
    SYSTEM_ACCOUNT_CHANGED = "system.account_changed"


class EventRow(_Row):
    id: int
    at: str
    kind: str
    request_id: int | None = None
    order_id: int | None = None
    actor: str | None = None
    from_state: str | None = None
    to_state: str | None = None
    reason: str | None = None
    data: dict[str, Any] = {}

    @field_validator("data", mode="before")
    @classmethod
    def _json(cls, value: Any) -> Any:
        if value in (None, ""):
            return {}
        return json.loads(value) if isinstance(value, str) else value
