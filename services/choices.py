"""The recipient's choice: a "Their choice" reward becomes a gift card its recipient picks.

The requester gives an amount in the wallet's currency; policy, budget and approval treat it
like any reward and hold the amount. Once approved, each recipient's order waits in
`choosing`: they open "Choose my reward", pick a country (their last one, else
REWARDS_DEFAULT_COUNTRY), a gift card sold there whose cost fits the amount, and a value that
fits. The intake checks that choice like every other ask (services/intake.py, `choose`) and
hands it here to be recorded: in one write transaction the order moves `choosing → queued` by
compare-and-set, with its product, and the ledger gives the change (the amount less the
choice's estimated cost) back to the requester's budget. The worker then places it like any
order, with the poNumber it got when the request was made; the ledger follows what Xoxoday
charges (services/delivery.py). A second submission of the same choice finds the order queued
and answers with what was recorded: one order, however often Slack delivers the submit.

An offer not taken is reminded and then expires (services/choice_schedule.py); expiry
withdraws the order and releases what it held.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from services import costs
from services.catalog import Catalog
from services.errors import ChoiceClosed, ChoiceNotYours
from services.money import fmt_money
from services.reward_specs import CheckedReward
from services.reward_types import kind
from services.xoxoday.models import Product
from storage import choices as store
from storage import ledger
from storage import orders as order_store
from storage import requests as request_store
from storage.choices import ChoiceRow
from storage.db import Database
from storage.models import EventKind, OrderRow, RequestRow

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Offer:
    """One recipient's choice as they may see it: the order, what they were given, by whom."""

    order: OrderRow
    choice: ChoiceRow
    request: RequestRow

    @property
    def amount(self) -> Decimal:
        return self.choice.amount

    @property
    def currency(self) -> str:
        return self.choice.currency or self.request.currency or ""

    @property
    def open(self) -> bool:
        return self.order.state == store.CHOOSING

    @property
    def given(self) -> str:
        return fmt_money(self.amount, self.currency)


@dataclass(frozen=True)
class Chosen:
    """A recorded choice: the order now queued, the estimate, and the change given back."""

    offer: Offer
    order: OrderRow
    cost: Decimal
    change: Decimal
    again: bool = False  # the same submission arrived before: nothing new was recorded


class Choices:
    def __init__(
        self,
        database: Database,
        catalog: Catalog,
        *,
        default_country: str | None = None,
        wake: Callable[[], None] | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.catalog = catalog
        self.default_country = default_country
        self._wake = wake or (lambda: None)
        self._clock = clock

    # --- what a recipient may see -------------------------------------------------------------

    def offer_for(self, order_id: int, user_id: str) -> Offer:
        """The offer of `order_id` when `user_id` (from the signed payload) is its recipient;
        ChoiceNotYours otherwise (and when there is no such choice: the two are not told
        apart)."""
        choice = store.get(self.database, order_id)
        if choice is None or choice.recipient_id != user_id:
            raise ChoiceNotYours("this reward is not yours to choose")
        order = order_store.get(self.database, order_id)
        request = request_store.get(self.database, choice.request_id)
        assert order is not None
        assert request is not None
        return Offer(order, choice, request)

    def open_offer(self, order_id: int, user_id: str) -> Offer:
        """offer_for, still waiting for the choice; ChoiceClosed says what became of it."""
        offer = self.offer_for(order_id, user_id)
        if not offer.open:
            raise ChoiceClosed(closed_words(offer), state=offer.order.state)
        return offer

    def waiting_for(self, user_id: str) -> list[Offer]:
        """The recipient's offers still to choose, oldest first (their Home tab)."""
        offers = []
        for choice in store.waiting_for(self.database, user_id):
            order = order_store.get(self.database, choice.order_id)
            request = request_store.get(self.database, choice.request_id)
            if order is not None and request is not None:
                offers.append(Offer(order, choice, request))
        return offers

    def start_country(self, user_id: str) -> str | None:
        """Where a recipient's choice starts: where they chose last, if still offered, else
        REWARDS_DEFAULT_COUNTRY (None: every country)."""
        kept = {c.code for c in self.catalog.countries()}
        last = store.country_of(self.database, user_id)
        if last and (not kept or last in kept):
            return last
        return self.default_country

    def options(self, offer: Offer, country: str | None, text: str = "") -> list[Product]:
        """Gift cards sold in `country` whose cost fits what was given."""
        return self.catalog.search(
            chosen_kind(offer), text, limit=100, country=country, within=offer.amount
        )

    def fitting(self, offer: Offer, product: Product) -> tuple[list[Decimal], Decimal | None]:
        """(fixed values that fit, the largest open amount that fits) of a product."""
        currency = offer.currency
        return (
            costs.fitting_values(product, offer.amount, currency),
            costs.max_amount(product, offer.amount, currency),
        )

    # --- recording ----------------------------------------------------------------------------

    def record(
        self, offer: Offer, checked: CheckedReward, *, country: str | None, submission: str
    ) -> Chosen:
        """Record a checked choice once (the intake checked it): ChoiceClosed when the order
        no longer waits for one, unless this same submission made it (then `again`)."""
        change = offer.amount - checked.cost
        product = checked.product
        request = offer.request
        with self.database.tx() as db:
            queued = order_store.transition(
                db,
                offer.order.id,
                store.CHOOSING,
                "queued",
                actor=offer.choice.recipient_id,
                kind=EventKind.CHOICE_MADE,
                fields={
                    "product_id": product.product_id,
                    "product_name": product.name,
                    "denomination": str(checked.spec.denomination),
                    "product_currency": product.currency_code,
                    "cost_estimate": str(checked.cost),
                    "next_attempt_at": 0,
                },
                data={
                    "given": offer.amount,
                    "cost": checked.cost,
                    "change": change,
                    "country": country,
                    "product_id": product.product_id,
                },
            )
            if queued is None:
                return self.recorded(offer, submission)
            store.choose(
                db, offer.order.id, now=self._clock(), country=country, chosen_by=submission
            )
            # What the choice costs less than the amount goes back to the requester's budget;
            # Xoxoday's charge then settles the rest (services/delivery.py, "adjust").
            ledger.add(
                db,
                requester_id=request.requester_id,
                month=ledger.month_of(request.created_at),
                amount=-change,
                kind="change",
                currency=request.currency,
                request_id=request.id,
                order_id=offer.order.id,
            )
            if country:
                store.remember_country(db, offer.choice.recipient_id, country)
        self._wake()
        log.info(
            "R-%s: %s chose %s (%s); %s back to the budget",
            request.id,
            offer.choice.recipient_id,
            product.name,
            costs.in_both(product, checked.spec.denomination, offer.currency),
            fmt_money(change, offer.currency),
        )
        return Chosen(offer, queued, checked.cost, change)

    def recorded(self, offer: Offer, submission: str) -> Chosen:
        """The choice `submission` recorded before (a double submit: `again`); ChoiceClosed
        when the offer ended otherwise (another choice, expiry)."""
        fresh = self.offer_for(offer.order.id, offer.choice.recipient_id)
        if fresh.choice.chosen_by == submission and fresh.order.cost_estimate is not None:
            cost = fresh.order.cost_estimate
            return Chosen(fresh, fresh.order, cost, fresh.amount - cost, again=True)
        raise ChoiceClosed(closed_words(fresh), state=fresh.order.state)

    # --- expiring -----------------------------------------------------------------------------

    def expire(self, order_id: int, reason: str, actor: str = "scheduler") -> bool:
        """The offer was not taken in time: the order is withdrawn and what it held released.
        False when it was chosen (or expired) a moment before."""
        choice = store.get(self.database, order_id)
        if choice is None:
            return False
        request = request_store.get(self.database, choice.request_id)
        assert request is not None
        with self.database.tx() as db:
            withdrawn = order_store.transition(
                db,
                order_id,
                store.CHOOSING,
                "withdrawn",
                actor=actor,
                kind=EventKind.CHOICE_EXPIRED,
                reason=reason,
                data={"given": choice.amount, "recipient": choice.recipient_id},
            )
            if withdrawn is None:
                return False
            store.mark_expired(db, order_id, self._clock())
            ledger.give_back(db, self.database, withdrawn, request, "release")
        return True


def chosen_kind(offer: Offer) -> str:
    """The kind whose products the recipient chooses from (the registry says: gift cards)."""
    return kind(offer.order.reward_type).chooses_from or "gift_card"


def closed_words(offer: Offer) -> str:
    """What became of an offer that no longer waits, as its recipient reads it."""
    state = offer.order.state
    if state == "withdrawn" and offer.choice.expired_at is not None:
        return "This reward expired before it was chosen."
    if state == "withdrawn":
        return "This reward was withdrawn."
    if state == "pending_approval":
        return "This reward is still waiting for approval."
    name = offer.order.product_name or "a gift card"
    return f"You already chose {name}; it comes to you by DM."
