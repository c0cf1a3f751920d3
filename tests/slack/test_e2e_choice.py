"""Their choice, end to end: signed requests to the bot, the Slack stand-in, the simulator, a
real SQLite file. The requester gives an amount; approval offers it to the recipient by DM;
they choose a gift card sold where they live, in its own currency; a double submit places one
order, with its own poNumber, by the worker; the change goes back to the budget; Xoxoday's
charge settles it; the code arrives by DM."""

from __future__ import annotations

import json
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import quote

import pytest

from bot.local import LocalStack
from services.budget import budget_of
from simulator.xoxoday import catalog as sim
from storage import orders as order_store
from tests.support import SimControl, wait_for

REQUESTER, APPROVER, ANA = "UREQUESTER", "UAPPROVER", "UANA"


@pytest.fixture
def choice_stack(make_stack: Callable[..., LocalStack]) -> LocalStack:
    return make_stack(
        rewards_countries="usa,india,uk",
        rewards_default_country="usa",
        rewards_monthly_budget="500",
    )


def committed(stack: LocalStack) -> Decimal:
    runtime = stack.bot.runtime
    request = order_store.for_request(runtime.database, 1)[0]
    view = budget_of(runtime.database, runtime.policy, REQUESTER, request.created_at[:7], "USD")
    return view.committed


def submit_twice(stack: LocalStack, user: str, view_id: str) -> list:
    """Slack delivers the same view_submission twice (a retry): both are answered."""
    view = stack.slack.view(view_id)
    payload = {
        "type": "view_submission",
        "team": {"id": "T0001"},
        "user": {"id": user},
        "api_app_id": "A0001",
        "view": {**view, "state": stack.driver.state(view_id)},
    }
    body = ("payload=" + quote(json.dumps(payload))).encode()
    return [stack.driver.post_raw(body, stack.driver.signed_headers(body)) for _ in range(2)]


def test_a_choice_in_another_currency_is_placed_once_and_the_change_goes_back(
    choice_stack: LocalStack, xo: SimControl
) -> None:
    stack = choice_stack
    response = stack.give_choice(REQUESTER, [ANA], "50", message="Thanks for the launch!")
    assert response.text == "", response.text
    approval = stack.approval_message("R-1")
    assert "*Their choice* (50 USD)" in stack.slack.plain_text(approval)
    assert committed(stack) == 50  # held like any reward
    stack.driver.click(APPROVER, "approve_request", message=approval)

    dm = stack.offer_dm(ANA)
    text = stack.slack.plain_text(dm)
    assert "<@UREQUESTER> gave you *50 USD* to spend on a gift card you choose" in text
    assert "Thanks for the launch!" in text
    view_id = stack.open_choice(ANA, dm)
    modal = stack.slack.view(view_id)
    blocks = {b.get("block_id"): b for b in modal["blocks"]}
    assert blocks["choice_country"]["element"]["initial_option"]["value"] == "usa"
    stack.pick_in_choice(ANA, view_id, country="uk", product_id=sim.TESCO_UK)
    options = stack.driver.options(ANA, view_id, "choice_product").json()["options"]
    assert [o["text"]["text"] for o in options] == [
        "Argos Gift Card (up to 39.06 GBP)",
        "Tesco Gift Card (10, 25 GBP)",  # 50 GBP would cost 64 USD: not offered
    ]
    values = {b.get("block_id"): b for b in stack.slack.view(view_id)["blocks"]}["choice_value"]
    assert [o["text"]["text"] for o in values["element"]["options"]] == [
        "10 GBP, about 12.80 USD of your 50 USD",
        "25 GBP, about 32.00 USD of your 50 USD",
    ]
    stack.driver.fill(view_id, "choice_value", "choice_value", "25")
    # She pressed the button twice: a second modal, where she picks 10 GBP instead.
    other = stack.open_choice(ANA, dm)
    stack.pick_in_choice(ANA, other, country="uk", product_id=sim.TESCO_UK)
    stack.driver.fill(other, "choice_value", "choice_value", "10")
    # A new day's rate at Xoxoday before the order is placed: the charge is Xoxoday's.
    xo.rates(GBP="1.30")
    first, second = submit_twice(stack, ANA, view_id)
    assert first.json()["response_action"] == "update"
    assert second.json()["response_action"] == "update"  # the same choice, told again
    assert "You chose *Tesco Gift Card* (25 GBP)" in json.dumps(first.json())
    late = stack.driver.submit(ANA, other).json()  # the other modal records nothing
    assert late["response_action"] == "errors"
    assert "You already chose Tesco Gift Card" in " ".join(late["errors"].values())

    db = stack.bot.runtime.database
    order = wait_for(lambda: (o := order_store.for_request(db, 1)[0]).state == "delivered" and o)
    assert [o["poNumber"] for o in xo.orders()] == [order.po_number]  # one order, its own PO
    assert (order.product_id, order.denomination, order.product_currency) == (
        sim.TESCO_UK,
        Decimal(25),
        "GBP",
    )
    assert order.amount_charged == Decimal("32.50")  # 25 × 1.30: what Xoxoday charged
    assert committed(stack) == Decimal("32.50")  # 50 held, 18 back at the choice, +0.50 settled
    code = stack.slack.wait_for(
        "chat.postMessage", lambda c: c.params["channel"] == ANA and "DEMO-" in str(c.params)
    )
    assert "Tesco Gift Card" in stack.slack.plain_text(code.params)

    # The offer DM no longer has its button; the thread tells the channel what was chosen.
    def offer_now() -> dict:
        return stack.slack.message(dm["channel"], dm["ts"]) or {}

    wait_for(lambda: "choose_reward" not in json.dumps(offer_now()["blocks"]))
    assert "You chose *Tesco Gift Card* (25 GBP)" in stack.slack.plain_text(offer_now())

    def thread_text() -> str:
        thread = [m for m in stack.slack.messages("CREWARDS") if m.get("thread_ts")]
        return "\n".join(stack.slack.plain_text(m) for m in thread)

    said = "<@UANA> chose *Tesco Gift Card* (25 GBP, about 32 USD); 18 USD went back to the budget"
    wait_for(lambda: said in thread_text())


def test_only_the_recipient_may_choose(choice_stack: LocalStack) -> None:
    stack = choice_stack
    stack.give_choice(REQUESTER, [ANA], "30")
    stack.driver.click(APPROVER, "approve_request", message=stack.approval_message("R-1"))
    dm = stack.offer_dm(ANA)
    since = len(stack.slack.calls())
    stack.driver.click("UBEN", "choose_reward", message=dm)  # a forwarded button
    call = stack.slack.wait_for("views.open", since=since)
    assert "not yours to choose" in stack.slack.plain_text(call.params["view"]["blocks"])
    view_id = stack.open_choice(ANA, dm)
    stack.pick_in_choice(ANA, view_id, country="uk", product_id=sim.ARGOS_UK)
    stack.driver.fill(view_id, "choice_amount", "choice_amount", "30")  # 38.40 USD
    errors = stack.driver.submit(ANA, view_id).json()["errors"]
    assert errors == {"choice_amount": "30 GBP, about 38.40 USD: more than the 30 USD you have."}
    assert order_store.for_request(stack.bot.runtime.database, 1)[0].state == "choosing"


def test_not_chosen_it_is_reminded_shown_on_the_home_then_expires_and_the_budget_is_released(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack(
        rewards_countries="usa,india,uk",
        rewards_monthly_budget="500",
        # Ben must choose within the expiry, on however busy a machine: 12 s.
        rewards_choice_remind="3s,6s",
        rewards_choice_expire="12s",
    )
    stack.give_choice(REQUESTER, [ANA, "UBEN"], "40")
    stack.driver.click(APPROVER, "approve_request", message=stack.approval_message("R-1"))
    offer = stack.offer_dm(ANA)
    assert committed(stack) == 80

    # Ana's Home shows it, with the button that opens the same choice.
    stack.driver.open_home(ANA)
    home = wait_for(lambda: stack.slack.home(ANA))
    text = stack.slack.plain_text(home["blocks"])
    assert "Waiting for your choice" in text and "*40 USD* from <@UREQUESTER>" in text
    since = len(stack.slack.calls())
    stack.driver.click_home(ANA, "choose_reward")
    opened = stack.slack.wait_for("views.open", since=since)
    assert opened.params["view"]["callback_id"] == "choice_modal"

    # Ben chooses in time (in the USA, in dollars: no change back beyond the card's price).
    ben_view = stack.open_choice("UBEN", stack.offer_dm("UBEN"))
    stack.pick_in_choice("UBEN", ben_view, country=None, product_id=sim.AMAZON_US)
    stack.driver.fill(ben_view, "choice_value", "choice_value", "25")
    assert stack.driver.submit("UBEN", ben_view).json()["response_action"] == "update"

    # Ana does not: two reminders (each with the button), then it expires.
    def reminders() -> list:
        return [m for m in stack.slack.dms(ANA) if "Reminder" in stack.slack.plain_text(m)]

    wait_for(lambda: len(reminders()) == 2)
    assert all("choose_reward" in json.dumps(m["blocks"]) for m in reminders())
    told = wait_for(
        lambda: [
            m
            for m in stack.slack.dms(REQUESTER)
            if "did not choose their reward" in stack.slack.plain_text(m)
        ]
    )
    assert "<@UANA> did not choose their reward (R-1) in time: the 40 USD went back to your " \
        "budget" in stack.slack.plain_text(told[0])  # fmt: skip
    db = stack.bot.runtime.database
    ana, ben = order_store.for_request(db, 1)
    assert ana.state == "withdrawn" and ben.state != "choosing"
    wait_for(lambda: (o := order_store.get(db, ben.id)) is not None and o.state == "delivered")
    assert committed(stack) == Decimal("24.50")  # Ben's Amazon card (2% off); Ana's 40 back

    # The channel is told, Ana's offer shows it expired, and her Home no longer lists it.
    def channel_text() -> str:
        return "\n".join(stack.slack.plain_text(m) for m in stack.slack.messages("CREWARDS"))

    wait_for(lambda: "<@UANA>'s choice expired (not chosen within 12 seconds)" in channel_text())
    wait_for(lambda: "expired before you chose" in stack.slack.plain_text(
        stack.slack.message(offer["channel"], offer["ts"]) or {}))  # fmt: skip
    stack.driver.open_home(ANA)
    wait_for(
        lambda: (
            "Waiting for your choice"
            not in stack.slack.plain_text((stack.slack.home(ANA) or {}).get("blocks") or [])
        )
    )
    late = stack.driver.click(ANA, "choose_reward", message=offer)  # an old copy's button
    assert late.status_code == 200
    shown = stack.slack.wait_for("views.open", lambda c: "expired" in json.dumps(c.params))
    assert "This reward expired before it was chosen." in stack.slack.plain_text(
        shown.params["view"]["blocks"]
    )


def test_a_card_the_account_may_not_order_abroad_is_told_to_the_recipient_and_released(
    choice_stack: LocalStack, xo: SimControl
) -> None:
    """PLE10019 (an account that may only buy at home): the order fails once, the recipient
    hears why by DM instead of waiting for a code, and the whole amount is released."""
    stack = choice_stack
    xo.config(domestic_only=True, account_country="US")
    stack.give_choice(REQUESTER, [ANA], "50")
    stack.driver.click(APPROVER, "approve_request", message=stack.approval_message("R-1"))
    view_id = stack.open_choice(ANA, stack.offer_dm(ANA))
    stack.pick_in_choice(ANA, view_id, country="uk", product_id=sim.TESCO_UK)
    stack.driver.fill(view_id, "choice_value", "choice_value", "25")
    assert stack.driver.submit(ANA, view_id).json()["response_action"] == "update"

    db = stack.bot.runtime.database
    order = wait_for(lambda: (o := order_store.for_request(db, 1)[0]).state == "failed" and o)
    assert order.attempts == 1 and xo.orders() == []
    told = stack.slack.wait_for(
        "chat.postMessage",
        lambda c: c.params["channel"] == ANA and "could not be ordered" in str(c.params),
    )
    text = stack.slack.plain_text(told.params)
    assert text == (
        "❌ *Tesco Gift Card* (25 GBP), which you chose, could not be ordered: the account may "
        "not place international orders. <@UREQUESTER> was told; nothing was charged."
    )
    assert "DEMO-" not in json.dumps([m for m in stack.slack.dms(ANA)])  # no code came
    wait_for(lambda: committed(stack) == 0)  # the 50 held, less 18 back at the choice: all back


def test_an_offer_whose_post_is_answered_after_the_choice_loses_its_button(
    choice_stack: LocalStack,
) -> None:
    """Ana sees the offer at once, but Slack's answer (its ts) reaches the bot only after she
    chose: the offers' redraw found no offer on record; the offer is redrawn once it is."""
    stack = choice_stack
    stack.give_choice(REQUESTER, [ANA], "30")
    stack.slack.hold_conversation(ANA, done_first=True)
    stack.driver.click(APPROVER, "approve_request", message=stack.approval_message("R-1"))

    def shown() -> dict | None:
        offers = [m for m in stack.slack.dms(ANA) if "choose_reward" in json.dumps(m["blocks"])]
        return offers[0] if offers else None

    dm = wait_for(shown)
    view_id = stack.open_choice(ANA, dm)
    stack.pick_in_choice(ANA, view_id, country="uk", product_id=sim.TESCO_UK)
    stack.driver.fill(view_id, "choice_value", "choice_value", "10")
    assert stack.driver.submit(ANA, view_id).json()["response_action"] == "update"
    db = stack.bot.runtime.database
    wait_for(  # the choice's redraw of the offers has gone, with no offer on record yet
        lambda: db.scalar(
            "SELECT COUNT(*) FROM slack_outbox WHERE key = 'offers:R1' AND pending = 0"
        )
    )
    wait_for(lambda: stack.slack.held_calls(ANA, done_first=True) >= 1)
    stack.slack.release_conversation(ANA)
    wait_for(
        lambda: (
            "choose_reward"
            not in json.dumps((stack.slack.message(dm["channel"], dm["ts"]) or {})["blocks"])
        )
    )
