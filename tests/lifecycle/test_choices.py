"""The recipient's choice below Slack (services/choices.py through the one intake), against
the simulator and a real SQLite file: the amount is held, the choice is recorded once, the
change goes back to the budget, the worker places the order with its own poNumber and the
ledger ends at what Xoxoday charged; offers are reminded and expire from the database."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from bot.runtime import Runtime
from services.finance import month_export
from services.intake import Ask, ChoiceAsk, Field, FieldError, Intake, Line, Source
from simulator.xoxoday import catalog as sim
from storage import choices as choice_store
from storage import events as event_store
from storage import ledger
from storage import orders as order_store
from tests.lifecycle.conftest import APPROVER, REQUESTER
from tests.lifecycle.test_intake import PEOPLE
from tests.support import SimControl, wait_for


def give(runtime: Runtime, amount: str = "50", *members: str) -> int:
    intake = Intake(runtime.rewards, members=PEOPLE, choices=runtime.choices)
    line = Line(product_id=None, amount=amount, reward_type="choice", members=members or ["UANA"])
    submitted = intake.submit(
        Ask(REQUESTER, [line], Source.SLACK, idempotency_key=None, may_wait=True)
    )
    assert submitted.decision is not None, submitted.errors
    return submitted.decision.request.id


def spent(runtime: Runtime) -> Decimal:
    month = runtime.database.scalar("SELECT month FROM budget_ledger LIMIT 1")
    return ledger.spent(runtime.database, REQUESTER, month)


def test_a_choice_in_another_currency_is_placed_once_and_the_change_goes_back(
    make_runtime: Callable[..., Runtime], xo: SimControl
) -> None:
    runtime = make_runtime(rewards_countries="usa,india,uk")
    intake = Intake(runtime.rewards, members=PEOPLE, choices=runtime.choices)
    request_id = give(runtime, "50")
    [order] = order_store.for_request(runtime.database, request_id)
    assert (order.state, order.reward_type, order.cost_estimate) == (
        "pending_approval",
        "choice",
        Decimal(50),
    )
    assert spent(runtime) == 50  # held like any reward
    runtime.rewards.approve(request_id, APPROVER)
    [order] = order_store.for_request(runtime.database, request_id)
    assert order.state == "choosing"
    offer = runtime.choices.open_offer(order.id, "UANA")
    assert [p.name for p in runtime.choices.options(offer, "uk")] == [
        "Argos Gift Card",
        "Tesco Gift Card",
    ]
    _, tesco = runtime.catalog.product(sim.TESCO_UK)
    assert runtime.choices.fitting(offer, tesco) == ([Decimal(10), Decimal(25)], None)
    choice = ChoiceAsk(order.id, "UANA", "uk", sim.TESCO_UK, "25", submission="view-1")
    first = intake.choose(choice)
    assert first.errors == () and first.chosen is not None
    assert (first.chosen.cost, first.chosen.change) == (Decimal("32.00"), Decimal("18.00"))
    again = intake.choose(choice)  # Slack delivered the submission twice
    assert again.chosen is not None and again.chosen.again
    other = intake.choose(ChoiceAsk(order.id, "UANA", "uk", sim.TESCO_UK, "10", "view-2"))
    assert other.errors == (
        FieldError(Field.REQUEST, "You already chose Tesco Gift Card; it comes to you by DM."),
    )
    assert spent(runtime) == Decimal("32.00")  # the change went back at once
    assert choice_store.country_of(runtime.database, "UANA") == "uk"
    # A new lock of the day's rates: Xoxoday charges at its rate, not our estimate.
    xo.rates(GBP="1.30")
    runtime.worker.run(until_idle=True)
    [order] = order_store.for_request(runtime.database, request_id)
    assert order.state == "delivered" and order.amount_charged == Decimal("32.50")
    assert [o["poNumber"] for o in xo.orders()] == [order.po_number]
    assert spent(runtime) == Decimal("32.50")  # settled by what Xoxoday charged
    kinds = [e.kind for e in event_store.for_order(runtime.database, order.id)]
    assert kinds[:3] == ["choice.offered", "choice.made", "order.claimed"]
    # The finance export shows both: what was given, and what the choice cost and was charged.
    [row] = month_export(runtime.database, order.created_at[:7]).rows
    assert (row["reward_type"], row["product"], row["face_currency"]) == (
        "choice",
        "Tesco Gift Card",
        "GBP",
    )
    assert (row["given"], row["cost"], row["change"], row["amount_charged"], row["net"]) == (
        Decimal(50),
        Decimal("32.00"),
        Decimal("18.00"),
        Decimal("32.50"),
        Decimal("32.50"),
    )


def test_what_does_not_fit_or_is_not_sold_there_is_refused_by_field(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(rewards_countries="usa,india,uk")
    intake = Intake(runtime.rewards, members=PEOPLE, choices=runtime.choices)
    request_id = give(runtime, "30")
    runtime.rewards.approve(request_id, APPROVER)
    [order] = order_store.for_request(runtime.database, request_id)

    def choose(country: str, product: int | None, amount: str, user: str = "UANA") -> tuple:
        return intake.choose(ChoiceAsk(order.id, user, country, product, amount, "v")).errors

    assert choose("uk", sim.TESCO_UK, "25") == (
        FieldError(Field.AMOUNT, "25 GBP, about 32.00 USD: more than the 30 USD you have."),
    )
    assert choose("uk", sim.AMAZON_US, "25") == (
        FieldError(Field.PRODUCT, "Amazon.com eGift Card is not sold in that country."),
    )
    assert choose("uk", sim.TESCO_UK, "20")[0].field == Field.AMOUNT  # not one of its values
    assert choose("uk", None, "10") == (FieldError(Field.PRODUCT, "Choose a gift card."),)
    assert choose("uk", sim.EMIRATES_MILES, "25")[0].field == Field.PRODUCT
    assert choose("uk", sim.TESCO_UK, "10", user="UBEN") == (
        FieldError(Field.REQUEST, "this reward is not yours to choose"),
    )
    assert order_store.for_request(runtime.database, request_id)[0].state == "choosing"
    # The largest open amount that fits: 23.44 GBP × 1.28 = 30.0032, 30.00 USD to the cent.
    _, argos = runtime.catalog.product(sim.ARGOS_UK)
    offer = runtime.choices.open_offer(order.id, "UANA")
    assert runtime.choices.fitting(offer, argos) == ([], Decimal("23.44"))
    assert choose("uk", sim.ARGOS_UK, "23.45")[0].field == Field.AMOUNT
    assert choose("uk", sim.ARGOS_UK, "23.44") == ()


def test_a_choice_cannot_go_by_email_nor_for_less_than_any_card(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()
    intake = Intake(runtime.rewards, members=PEOPLE, choices=runtime.choices)
    by_email = Line(product_id=None, amount="50", reward_type="choice", email="x@example.com")
    [error] = intake.check(Ask(REQUESTER, [by_email], Source.CSV, None, may_wait=True))
    assert error.field == Field.RECIPIENTS and "known only by email" in error.message
    tiny = Line(product_id=None, amount="1", reward_type="choice", members=["UANA"])
    [error] = intake.check(Ask(REQUESTER, [tiny], Source.SLACK, None, may_wait=True))
    assert error == FieldError(
        Field.AMOUNT, "No gift card in the catalog costs 1 USD or less; give a larger amount.", 0
    )


def test_offers_are_reminded_then_expire_and_release_the_budget(
    make_runtime: Callable[..., Runtime],
) -> None:
    now = [1_000_000.0]
    runtime = make_runtime(rewards_choice_remind="3d,10d", rewards_choice_expire="30d")
    runtime.choices._clock = runtime.choice_scheduler._clock = lambda: now[0]
    runtime.rewards._clock = lambda: now[0]
    request_id = give(runtime, "40", "UANA", "UBEN")
    runtime.rewards.approve(request_id, APPROVER)
    scheduler = runtime.choice_scheduler
    assert scheduler.tick() == 0  # scheduled: nothing due yet
    day = 86_400.0
    now[0] += 3 * day
    assert scheduler.tick() == 2  # each recipient reminded once
    assert scheduler.tick() == 0  # and only once
    now[0] += 20 * day  # a long stop: the 10-day reminder is one, not a burst
    assert scheduler.tick() == 2
    now[0] += 6 * day
    assert scheduler.tick() == 0
    # One of them chooses in time; the other's offer expires.
    first = order_store.for_request(runtime.database, request_id)[0]
    chosen = Intake(runtime.rewards, members=PEOPLE, choices=runtime.choices).choose(
        ChoiceAsk(first.id, first.recipient_id or "", None, sim.AMAZON_US, "25", "v")
    )
    assert chosen.chosen is not None
    now[0] += 2 * day
    assert scheduler.tick() == 1
    states = [o.state for o in order_store.for_request(runtime.database, request_id)]
    assert states == ["queued", "withdrawn"]
    assert spent(runtime) == chosen.chosen.cost  # the expired 40 USD came back
    expired = [e for e in event_store.for_request(runtime.database, request_id)
               if e.kind == "choice.expired"]  # fmt: skip
    assert [e.reason for e in expired] == ["not chosen within 30 days"]
    reminded = [e.data["round"] for e in event_store.for_request(runtime.database, request_id)
                if e.kind == "choice.reminded"]  # fmt: skip
    assert reminded == [1, 1, 2, 2]
    wait_for(lambda: True)


def test_a_choice_abroad_an_account_may_not_order_fails_and_releases_the_budget(
    make_runtime: Callable[..., Runtime], xo: SimControl
) -> None:
    """PLE10019: an account that may only buy at home. The order fails with that reason
    (never retried), and what it held goes back to the requester's budget."""
    runtime = make_runtime(rewards_countries="usa,india,uk")
    xo.config(domestic_only=True, account_country="US")
    request_id = give(runtime, "50")
    runtime.rewards.approve(request_id, APPROVER)
    [order] = order_store.for_request(runtime.database, request_id)
    chosen = Intake(runtime.rewards, members=PEOPLE, choices=runtime.choices).choose(
        ChoiceAsk(order.id, "UANA", "uk", sim.TESCO_UK, "25", "v")
    )
    assert chosen.chosen is not None
    runtime.worker.run(until_idle=True)
    [order] = order_store.for_request(runtime.database, request_id)
    assert order.state == "failed" and order.attempts == 1
    assert "international" in (order.failure_reason or "").lower()
    assert xo.orders() == [] and spent(runtime) == 0
