"""The demo's "Their choice" scenes (bot/demo.py runs them): Riya gives Ana and Ben 50 USD
each; Ana, in the UK, chooses a gift card in pounds and the change goes back to Riya's budget;
Ben never chooses, is reminded, and his offer expires."""

from __future__ import annotations

import time
from typing import Any

from bot.demo_narration import DemoFailed, readable, say, settle, step, wait
from bot.local import LocalStack
from services.budget import budget_of
from services.money import fmt_money
from storage import orders as order_store
from storage import requests as request_store

# The choice's schedule, shortened from 3d,10d and 30d.
# Long enough that Ana chooses in time on a busy machine, short enough to watch Ben's expire.
CHOICE_REMIND, CHOICE_EXPIRE = "5s", "15s"
TESCO_UK = 31010  # the simulator's Tesco Gift Card, sold in the UK, in pounds


def their_choice(stack: LocalStack) -> None:
    step("10. Riya gives Ana and Ben 50 USD each, their choice; Alex approves")
    response = stack.give_choice(
        "UREQUESTER", ["UANA", "UBEN"], "50", message="Pick something you like!"
    )
    if response.status_code != 200 or response.text:
        raise DemoFailed(f"the form was refused: {response.text}")
    ref = _latest_ref(stack)
    request_id = int(ref.removeprefix("R-"))
    stack.driver.click("UAPPROVER", "approve_request", message=stack.approval_message(ref))
    offer = stack.offer_dm("UANA")
    stack.offer_dm("UBEN")
    before = _committed(stack)
    settle(stack)
    step("11. Ana lives in the UK: she chooses a Tesco gift card of 25 GBP (about 32 USD)")
    view_id = stack.open_choice("UANA", offer)
    stack.pick_in_choice("UANA", view_id, country="uk", product_id=TESCO_UK)
    stack.driver.fill(view_id, "choice_value", "choice_value", "25")
    answer = stack.driver.submit("UANA", view_id)
    if answer.json().get("response_action") != "update":
        raise DemoFailed(f"Ana's choice was refused: {answer.text}")
    say(f"    [modal] {readable(stack.slack.plain_text(answer.json()['view']['blocks']))}")
    wait(
        lambda: _states(stack, request_id)[0] == "delivered",
        "Ana's gift card to be placed and delivered",
    )
    [ana, _ben] = order_store.for_request(stack.bot.runtime.database, request_id)
    change = before - _committed(stack)
    say(
        f"    … Riya's budget: {fmt_money(before, 'USD')} committed this month before Ana chose; "
        f"{fmt_money(change, 'USD')} of her 50 USD came back, as Xoxoday charged "
        f"{fmt_money(ana.amount_charged, 'USD')} for the 25 GBP …"
    )
    settle(stack)
    step(f"12. Ben never chooses: reminded after {CHOICE_REMIND}, expired after {CHOICE_EXPIRE}")
    wait(
        lambda: _states(stack, request_id) == ["delivered", "withdrawn"],
        "Ben's choice to expire",
        timeout=40,
    )
    wait(
        lambda: any(
            "did not choose their reward" in m.get("text", "")
            for m in stack.slack.dms("UREQUESTER")
        ),
        "Riya to hear about it",
    )
    settle(stack)
    say(f"    … Riya's budget: {fmt_money(_committed(stack), 'USD')} committed this month …")


def _latest_ref(stack: LocalStack) -> str:
    [newest] = request_store.for_requester(stack.bot.runtime.database, "UREQUESTER", limit=1)
    return newest.ref


def _committed(stack: LocalStack) -> Any:
    runtime = stack.bot.runtime
    month = time.strftime("%Y-%m", time.gmtime())
    return budget_of(runtime.database, runtime.policy, "UREQUESTER", month, "USD").committed


def _states(stack: LocalStack, request_id: int) -> list[str]:
    return [o.state for o in order_store.for_request(stack.bot.runtime.database, request_id)]
