"""What Xoxoday says about an order, applied to our record: placed, delivered, cancelled.

Three sources report it: the placeOrder answer, getOrderDetails (reconciliation and the
polling fallback) and Xoxoday's webhook. All three go through `Delivery`, so each fact is
applied once, by compare-and-set, whichever source reports it first. What a status word
means is decided in one place, services.xoxoday.status.

Money back: an order Xoxoday cancelled, refunded or failed ends `canceled` with a refund to
the requester's budget; a partial cancel (`cancelledQuantity` below the quantity) gives back
that share and the rest is still delivered. Waiting is capped: a status value nobody
documented is polled `max_odd_polls` times, a pending delivery `max_pending_s` (delayed
products take up to ~10 working days), then polling stops with a `system.alert`.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Mapping
from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from plumbing.jsonutil import dumps, loads
from services.vouchers import VoucherSource
from services.xoxoday.models import Order, normalize_status
from services.xoxoday.status import DeliveryOutcome, webhook_outcome
from storage import events, ledger, webhooks
from storage import order_polls as polls
from storage import orders as order_store
from storage import requests as request_store
from storage.db import Database, utcnow
from storage.models import EventKind, OrderRow

log = logging.getLogger(__name__)

POLL_FIRST_S = 60.0
POLL_MAX_S = 6 * 3600.0
MAX_ODD_POLLS = 12  # about two days of polls at the growing interval
MAX_PENDING_S = 30 * 86400.0  # delayed products take 3-10 working days (reference §3.2)
CENT = Decimal("0.01")


def poll_delay(polls: int, first: float = POLL_FIRST_S, cap: float = POLL_MAX_S) -> float:
    """1 min, 2, 4, … up to 6 h: delayed products take days, so later polls can be rare."""
    return min(first * (2 ** min(polls, 20)), cap)


class Delivery:
    def __init__(
        self,
        database: Database,
        *,
        vouchers: VoucherSource | None = None,
        poll_first_s: float = POLL_FIRST_S,
        on_refund: Callable[[], None] | None = None,
        on_charge: Callable[[Decimal], None] | None = None,
        max_odd_polls: int = MAX_ODD_POLLS,
        max_pending_s: float = MAX_PENDING_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.vouchers = vouchers
        self.poll_first_s = poll_first_s
        self.max_odd_polls = max_odd_polls
        self.max_pending_s = max_pending_s
        self._on_refund = on_refund or (lambda: None)
        self._on_charge = on_charge or (lambda amount: None)
        self._clock = clock

    def adopt(self, order: OrderRow, xo: Order, *, from_state: str, actor: str) -> OrderRow | None:
        """Xoxoday has the order: record it as placed, and settle it if it already is."""
        outcome = xo.outcome
        if self.vouchers is not None:
            self.vouchers.remember(order.id, xo.vouchers)
        with self.database.tx() as db:
            placed = order_store.transition(
                db,
                order.id,
                from_state,
                "placed",
                actor=actor,
                kind=EventKind.ORDER_PLACED,
                reason="found at Xoxoday by poNumber" if from_state == "unknown" else None,
                fields={
                    "xoxoday_order_id": xo.order_id,
                    "amount_charged": str(xo.amount_charged)
                    if xo.amount_charged is not None
                    else None,
                    # For the finance export; "" (none given) stays empty.
                    "order_discount": str(xo.order_discount)
                    if xo.order_discount is not None
                    else None,
                    "delivery_status": outcome.state,
                    "placed_at": utcnow(),
                    "next_poll_at": self._clock() + self.poll_first_s,
                    "polls": 0,
                    "last_error": None,
                    "not_found_at": None,
                },
                data={
                    "orderId": xo.order_id,
                    "amountCharged": xo.amount_charged,
                    "delivery": outcome.state,
                    "orderStatus": xo.order_status,
                    "deliveryStatus": xo.delivery_status,
                },
            )
            if placed is None:
                return None
            self._adjust_budget(db, placed)
            if placed.amount_charged is not None:
                self._on_charge(placed.amount_charged)
            self._give_back_cancelled(db, placed, outcome, actor=actor)
            if outcome.final:
                placed = self._settle_in(db, placed, outcome, actor=actor) or placed
        if outcome.unrecognised:
            log.warning(
                "order %s: Xoxoday answered status values nobody documented (%s); polling it",
                placed.po_number,
                ", ".join(outcome.unrecognised),
            )
        if placed.state == "placed":
            deferred = webhooks.deferred_for(self.database, placed.po_number)
            if deferred:
                self.settle(placed.id, deferred["delivery_status"], actor="xoxoday-webhook")
                with self.database.tx() as db:
                    webhooks.set_outcome(db, deferred["webhook_id"], "applied")
        return order_store.get(self.database, order.id)

    def track(self, order: OrderRow, xo: Order, *, actor: str) -> OrderRow | None:
        """A poll's answer about a placed order: settle it, give back a cancelled share, or
        look again later; an odd status or a delivery pending too long ends the polling with
        an alert, never polls forever."""
        outcome = xo.outcome
        if outcome.state == "delivered" and self.vouchers is not None:
            self.vouchers.remember(order.id, xo.vouchers)
        with self.database.tx() as db:
            self._give_back_cancelled(db, order, outcome, actor=actor)
            if outcome.final:
                return self._settle_in(db, order, outcome, actor=actor)
        if outcome.unrecognised:
            self._odd_status(order, outcome)
        elif self._pending_for(order) > self.max_pending_s:
            days = self.max_pending_s / 86400
            self._give_up(
                order,
                f"order {order.po_number} is still pending at Xoxoday after {days:g} days; "
                "polling stopped: check it with Xoxoday and `rewards-bot orders show`",
            )
        else:
            self.still_pending(order)
        return order_store.get(self.database, order.id)

    def settle(
        self, order_id: int, status: str, *, actor: str, reason: str | None = None
    ) -> OrderRow | None:
        """placed -> delivered | canceled; None when the order was not (or no longer) placed.

        `status` is a deliveryStatus word (delivered, canceled, cancelled, refunded, failed…).
        """
        outcome = webhook_outcome(status)
        if not outcome.final:
            return None
        if reason:
            outcome = DeliveryOutcome(outcome.state, reason)
        with self.database.tx() as db:
            order = order_store.get(self.database, order_id)
            if order is None:
                return None
            return self._settle_in(db, order, outcome, actor=actor)

    def _settle_in(
        self, db: Any, order: OrderRow, outcome: DeliveryOutcome, *, actor: str
    ) -> OrderRow | None:
        status = outcome.state
        settled = order_store.transition(
            db,
            order.id,
            "placed",
            status,
            actor=actor,
            kind=EventKind(f"order.{status}"),
            reason=(outcome.reason or "Xoxoday cancelled the delivery")
            if status == "canceled"
            else None,
            fields={"delivery_status": status, "settled_at": utcnow(), "next_poll_at": None},
        )
        if settled is not None and status == "canceled":
            request = request_store.get(self.database, settled.request_id)
            assert request is not None
            ledger.give_back(db, self.database, settled, request, "refund")
            self._on_refund()
        return settled

    def _give_back_cancelled(
        self, db: Any, order: OrderRow, outcome: DeliveryOutcome, *, actor: str
    ) -> None:
        """A partial cancel: give back the share of the units Xoxoday cancelled, once.

        Only the units newly cancelled since the last answer are refunded (`cancelled_quantity`
        is read and raised in the caller's write transaction, so a repeated answer, or the
        webhook and a poll at once, give back nothing twice); cancelling every unit is a full
        cancel, settled as canceled by the caller.
        """
        quantity = max(order.quantity, 1)
        cancelled = min(outcome.cancelled_quantity, quantity)
        if outcome.state == "canceled" or cancelled >= quantity:
            return
        already = polls.cancelled_units(db, order.id)
        if already is None:
            return  # settled meanwhile
        if cancelled <= already:
            return  # already given back (a repeated answer)
        polls.set_cancelled_units(db, order.id, cancelled)
        request = request_store.get(self.database, order.request_id)
        assert request is not None
        # What it cost before anything came back (a choice's change went back before).
        cost = ledger.committed_for_order(self.database, order.id, ("reserve", "change", "adjust"))
        refund = (cost * cancelled / quantity).quantize(CENT) - (
            cost * already / quantity
        ).quantize(CENT)
        ledger.add(
            db,
            requester_id=request.requester_id,
            month=ledger.month_of(request.created_at),
            amount=-refund,
            kind="refund",
            currency=request.currency,
            request_id=request.id,
            order_id=order.id,
        )
        events.append(
            db,
            EventKind.ORDER_PARTIALLY_CANCELED,
            request_id=order.request_id,
            order_id=order.id,
            actor=actor,
            reason=f"Xoxoday cancelled {cancelled} of {quantity}; the share was refunded",
            data={"cancelledQuantity": cancelled, "quantity": quantity, "refund": refund},
        )
        self._on_refund()

    def _odd_status(self, order: OrderRow, outcome: DeliveryOutcome) -> None:
        values = ", ".join(outcome.unrecognised)
        with self.database.tx() as db:
            count = polls.count_odd_status(db, order.id)
        log.warning(
            "order %s: Xoxoday answered status values nobody documented (%s), poll %d of %d",
            order.po_number,
            values,
            count,
            self.max_odd_polls,
        )
        if count >= self.max_odd_polls:
            self._give_up(
                order,
                f"order {order.po_number}: Xoxoday keeps answering a status the bot does not "
                f"know ({values}); polling stopped after {count} tries: check it with "
                "Xoxoday and `rewards-bot orders show`",
            )
        else:
            self.still_pending(order)

    def _give_up(self, order: OrderRow, message: str) -> None:
        """Stop polling an order and tell the operators (the existing alert); a webhook can
        still settle it later."""
        with self.database.tx() as db:
            stopped = polls.stop_polling(db, order.id)
            if stopped:
                events.append(
                    db,
                    EventKind.SYSTEM_ALERT,
                    request_id=order.request_id,
                    order_id=order.id,
                    actor="delivery",
                    reason=message,
                )
        if stopped:
            log.error(message)

    def _pending_for(self, order: OrderRow) -> float:
        """Seconds since the order was placed (0 when unknown)."""
        if not order.placed_at:
            return 0.0
        try:
            placed = datetime.fromisoformat(order.placed_at).timestamp()
        except ValueError:
            return 0.0
        return self._clock() - placed

    def still_pending(self, order: OrderRow) -> None:
        """A poll found nothing new: look again later, less often each time."""
        with self.database.tx() as db:
            polls.count_poll(
                db, order.id, self._clock() + poll_delay(order.polls + 1, self.poll_first_s)
            )

    def _adjust_budget(self, db: Any, order: OrderRow) -> None:
        """Budget follows what Xoxoday actually charged, not our estimate."""
        if order.amount_charged is None:
            return
        request = request_store.get(self.database, order.request_id)
        assert request is not None
        if order.wallet_currency and request.currency and order.wallet_currency != request.currency:
            return
        difference = order.amount_charged - ledger.committed_for_order(self.database, order.id)
        ledger.add(
            db,
            requester_id=request.requester_id,
            month=ledger.month_of(request.created_at),
            amount=difference,
            kind="adjust",
            currency=request.currency,
            request_id=request.id,
            order_id=order.id,
        )


# --- the webhook ------------------------------------------------------------------------------


class WebhookData(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    # An id SQLite cannot hold (past 64 bits) is no order of Xoxoday's: refused with a 400.
    order_id: int | None = Field(default=None, alias="orderId", ge=-(2**63), lt=2**63)
    po_number: str | None = Field(default=None, alias="poNumber", max_length=100)
    order_date: str | None = Field(default=None, alias="orderDate")
    delivery_status: str = Field(alias="deliveryStatus")

    @field_validator("delivery_status")
    @classmethod
    def _status(cls, value: str) -> str:
        return normalize_status(value)


class WebhookBody(BaseModel):
    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    id: str = Field(min_length=1, max_length=40)
    data: WebhookData
    created_at: str | None = Field(default=None, alias="createdAt")

    @field_validator("id", mode="before")
    @classmethod
    def _id(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) and not isinstance(value, bool) else value


class WebhookReceiver:
    """Xoxoday's order-status webhook: authenticate, deduplicate, apply, answer fast."""

    def __init__(
        self,
        database: Database,
        delivery: Delivery,
        api_key: str | None,
        *,
        on_applied: Callable[[], None] | None = None,
    ) -> None:
        self.database = database
        self.delivery = delivery
        self._key = api_key.encode() if api_key else None
        self._on_applied = on_applied or (lambda: None)

    def handle(self, headers: Mapping[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
        """Returns (HTTP status, JSON answer). Never raises for bad input."""
        if self._key is None:
            return 503, {"error": "webhooks are not configured (set XOXODAY_WEBHOOK_KEY)"}
        given = (headers.get("x-api-key") or "").encode()
        if not hmac.compare_digest(given, self._key):
            log.warning("webhook refused: missing or wrong x-api-key")
            return 401, {"error": "invalid x-api-key"}
        try:
            payload = WebhookBody.model_validate(loads(body))
        except (ValueError, ValidationError):
            return 400, {"error": "not an order status webhook"}
        data = payload.data
        if not webhook_outcome(data.delivery_status).final:
            return 200, {"status": "ignored", "reason": f"status {data.delivery_status!r}"}
        with self.database.tx() as db:
            fresh = webhooks.record(
                db,
                webhook_id=payload.id,
                po_number=data.po_number,
                xoxoday_order_id=data.order_id,
                delivery_status=data.delivery_status,
                body=dumps(payload.model_dump(by_alias=True)),
            )
        if not fresh:
            return 200, {"status": "duplicate"}
        outcome = self._apply(payload)
        if outcome != "deferred":  # a deferred one is marked by _apply, and may be applied since
            with self.database.tx() as db:
                webhooks.set_outcome(db, payload.id, outcome)
        if outcome == "applied":
            self._on_applied()
        return 200, {"status": outcome}

    def _apply(self, payload: WebhookBody) -> str:
        data = payload.data
        order = order_store.by_po(self.database, data.po_number) if data.po_number else None
        if order is None and data.order_id:
            order = order_store.by_xoxoday_id(self.database, data.order_id)
        if order is None:
            log.warning("webhook %s is for an order this bot does not know", payload.id)
            return "unknown_order"
        with self.database.tx() as db:
            # Read and mark in one transaction: adopt() looks for deferred webhooks right
            # after recording the placement, so a webhook is either seen there or applied here.
            current = order_store.get(self.database, order.id)
            if current is not None and current.state in ("queued", "placing", "unknown"):
                webhooks.set_outcome(db, payload.id, "deferred")
                return "deferred"
        if current is not None and current.state == "failed":
            message = (
                f"Xoxoday reports order {current.po_number} as {data.delivery_status}, "
                "but the bot had marked it failed: check it with `rewards-bot orders show`"
            )
            log.error(message)
            with self.database.tx() as db:
                events.append(
                    db,
                    EventKind.SYSTEM_ALERT,
                    order_id=current.id,
                    actor="xoxoday-webhook",
                    reason=message,
                )
            return "ignored"
        if current is None or current.state != "placed":
            return "ignored"
        settled = self.delivery.settle(current.id, data.delivery_status, actor="xoxoday-webhook")
        return "applied" if settled else "ignored"
