"""`rewards-bot demo`: the whole flow on embedded defaults, with no credentials.

It starts the bundled Xoxoday simulator, a local Slack stand-in and the bot in HTTP mode, then
sends real signed Slack requests through it: /reward, the modal, approval, placement, and a
delivery webhook; the App Home of an approver (approving from it) and of a requester; a
request nobody decides, with the approval schedule shortened to seconds: a reminder, an
escalation, expiry and a late click; a Workflow Builder run of the bot's custom steps, whose
runner is asked by DM first (Send, then Don't send); and "Their choice": 50 USD each for Ana
and Ben, Ana (in the UK) choosing a gift card in pounds with the change going back to Riya's
budget, Ben never choosing, reminded, then expired.
It prints what each person sees, and exits non-zero if any step fails.
"""

from __future__ import annotations

import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bot.demo_choice import CHOICE_EXPIRE, CHOICE_REMIND, their_choice
from bot.demo_narration import (
    PEOPLE,
    DemoFailed,
    Narrator,
    readable,
    say,
    settle,
    step,
    wait,
)
from bot.local import LocalStack, start_local_stack
from bot.logs import setup_logging
from plumbing.jsonutil import dumps, loads
from simulator.slack.users import make_user
from storage import orders as order_store
from storage import requests as request_store

# The approval schedule, shortened from 24h / 72h / 7d so the demo shows it in seconds.
REMIND_AFTER, ESCALATE_AFTER, EXPIRE_AFTER = "2s", "4s", "6s"


def run_demo(verbose: bool = False) -> int:
    setup_logging("INFO" if verbose else "ERROR")
    began = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="rewards-demo-") as tmp:
        stack = start_local_stack(
            Path(tmp) / "rewards.db",
            rewards_auto_approve_max="20",
            rewards_monthly_budget="500",
            rewards_remind_after=REMIND_AFTER,
            rewards_escalate_after=ESCALATE_AFTER,
            rewards_expire_after=EXPIRE_AFTER,
            rewards_escalation_approvers=["UHEAD"],
            rewards_low_balance="10000",
            rewards_countries="usa,india,uk",
            rewards_default_country="usa",
            rewards_choice_remind=CHOICE_REMIND,
            rewards_choice_expire=CHOICE_EXPIRE,
        )
        try:
            stack.slack.add_user(make_user("UHEAD", "Hana Ito", "hana@example.com"))
            stack.slack.on_call = Narrator(stack)
            say(
                "Rewards Bot demo: Xoxoday simulator, a local Slack stand-in and the bot over HTTP."
            )
            say(f"  bot {stack.url}, Xoxoday simulator {stack.sim.base_url}")
            say(f"  Slack stand-in {stack.slack.api_url}; approvers Alex and Sam;")
            say("  requests of 20 USD or less are approved automatically; budget 500 USD a month;")
            say(
                f"  a waiting request is reminded every {REMIND_AFTER}, escalated to Hana after "
                f"{ESCALATE_AFTER} and expires after {EXPIRE_AFTER} (in production: 24h, 72h, 7d);"
            )
            say(
                "  gift cards of the USA, India and the UK; a choice not made is reminded after "
                f"{CHOICE_REMIND} and expires after {CHOICE_EXPIRE} (in production: 3d,10d, 30d)."
            )
            _run(stack)
        except (DemoFailed, AssertionError) as exc:
            say(f"\nDEMO FAILED: {exc}")
            return 1
        finally:
            stack.slack.on_call = None
            stack.stop()
    say(f"\nDemo finished in {time.monotonic() - began:.1f} s: every step worked.")
    return 0


def _states(stack: LocalStack, request_id: int) -> list[str]:
    return [o.state for o in order_store.for_request(stack.bot.runtime.database, request_id)]


def _run(stack: LocalStack) -> None:
    _requests_and_approvals(stack)
    _other_ways_and_homes(stack)
    _nobody_decides_and_the_audit(stack)
    stack.bot.room.run_until_idle(timeout=10)  # what is owed reaches Slack before the stop
    _check_codes_stayed_private(stack)
    _check_slack_rules_kept(stack)


def _requests_and_approvals(stack: LocalStack) -> None:
    """Scenes 1-4: the modal, an approval, miles delivered by webhook, an automatic one."""
    step("1. Riya types /reward in #rewards: a gift card for Ana and Ben")
    response = stack.request(
        "UREQUESTER", ["UANA", "UBEN"], amount="25", message="Thanks for shipping the launch!"
    )
    if response.status_code != 200 or response.text:
        raise DemoFailed(f"the form was refused: {response.text}")
    approval = stack.approval_message("R-1")

    settle(stack)
    step("2. Alex clicks Approve in #reward-approvals")
    stack.driver.click("UAPPROVER", "approve_request", message=approval)
    wait(lambda: _states(stack, 1) == ["delivered", "delivered"], "the gift cards to be delivered")
    wait(
        lambda: any(
            "is complete" in stack.slack.plain_text(m) for m in stack.slack.dms("UREQUESTER")
        ),
        "Riya's summary",
    )

    settle(stack)
    step("3. Riya asks for airline miles for Ben; Alex approves; the miles arrive days later")
    response = stack.request(
        "UREQUESTER",
        ["UBEN"],
        reward_type="airmiles",
        product_id=15365,
        amount="50",
        extra={"loyalty_member_id": "EK-324523423"},
    )
    stack.driver.click("UAPPROVER", "approve_request", message=stack.approval_message("R-2"))
    wait(lambda: _states(stack, 2) == ["placed"], "the miles order to be placed")
    [miles] = order_store.for_request(stack.bot.runtime.database, 2)
    say("    … Xoxoday credits the miles and calls the bot's webhook …")
    delivered = _sim(stack, "POST", "deliver", {"poNumber": miles.po_number, "status": "delivered"})
    if (delivered.get("webhook") or {}).get("status") != 200:
        raise DemoFailed(f"the bot did not take the webhook: {delivered.get('webhook')}")
    wait(lambda: _states(stack, 2) == ["delivered"], "the miles to be delivered")

    settle(stack)
    step("4. A 10 USD donation for Cho is approved automatically")
    stack.request("UREQUESTER", ["UCHO"], reward_type="charity", product_id=40001, amount="10")
    wait(lambda: _states(stack, 3) == ["delivered"], "the donation")


def _other_ways_and_homes(stack: LocalStack) -> None:
    """Scenes 5-8: a workflow step, a refused click, the Home tabs, a duplicate warning."""
    settle(stack)
    step("5. Riya's Workflow Builder workflow rewards Cho's work anniversary (a custom step)")
    _workflow(stack)

    settle(stack)
    step("6. Someone who is not an approver tries to approve; Riya checks her history")
    stack.request("UREQUESTER", ["UANA"], amount="50")
    stack.driver.click("UOTHER", "approve_request", message=stack.approval_message("R-5"))
    wait(lambda: stack.slack.ephemerals("UOTHER"), "the refusal")
    answer = stack.driver.command("UREQUESTER", "history")
    say(f"    [only Riya sees] {readable(answer.text)}".replace("\n", "\n" + " " * 8))

    settle(stack)
    step("7. Alex opens the bot's Home tab and approves R-5 there")
    _show_home(stack, "UAPPROVER")
    stack.driver.click_home("UAPPROVER", "approve_request", block_id="decision:5")
    wait(lambda: _states(stack, 5) == ["delivered"], "R-5 to be delivered")

    settle(stack)
    step("8. Riya asks for a gift card for Cho (warned: Cho had a reward today) and opens her Home")
    stack.request("UREQUESTER", ["UCHO"], amount="50")
    _show_home(stack, "UREQUESTER")


def _nobody_decides_and_the_audit(stack: LocalStack) -> None:
    """Scene 9: reminders, escalation, expiry and a late click; then Their choice (10-12,
    bot/demo_choice.py) and the daily audit (13)."""
    settle(stack)
    step(
        f"9. Nobody decides R-6: reminders every {REMIND_AFTER}, Hana asked after "
        f"{ESCALATE_AFTER}, expired after {EXPIRE_AFTER}"
    )
    reminder = wait(
        lambda: _first_dm(stack, "UAPPROVER", "⏰", mentions="R-6* ·"), "a reminder", timeout=20
    )
    wait(lambda: _first_dm(stack, "UHEAD", "⏫"), "the escalation", timeout=20)
    wait(lambda: _request_state(stack, 6) == "expired", "R-6 to expire", timeout=20)
    wait(
        lambda: any("expired" in m["text"] for m in stack.slack.dms("UREQUESTER")),
        "Riya to hear about it",
    )
    say("    … Alex finally clicks Approve on the reminder he still sees …")
    stack.driver.click("UAPPROVER", "approve_request", message=reminder)
    wait(
        lambda: any("expired" in m.get("text", "") for m in stack.slack.ephemerals("UAPPROVER")),
        "the late click to be refused",
    )
    settle(stack)
    their_choice(stack)
    settle(stack)
    step("13. The daily audit, run now: Xoxoday holds an order placed by hand, and a top-up")
    _sim(stack, "POST", "orphan", {"productId": 27222, "denomination": 10, "poNumber": "BY-HAND"})
    _sim(stack, "POST", "topup", {"amount": 5000})
    for line in stack.bot.runtime.auditor.run(datetime.now(UTC).date(), actor="demo").lines():
        say(f"    {line}")


def _run_step(
    stack: LocalStack,
    step_id: str,
    inputs: dict[str, Any],
    *,
    fails: bool = False,
    answer: str | None = None,
) -> dict[str, Any]:
    """Slack runs the bot's custom step as part of Riya's workflow; the bot ends it (after
    Riya presses `answer` on the bot's DM, for a step that asks her first)."""
    since = len(stack.slack.calls())
    response, body = stack.driver.run_step(step_id, inputs, runner="UREQUESTER")
    if response.status_code != 200:
        raise DemoFailed(f"the bot did not take function_executed: {response.status_code}")
    execution_id = body["event"]["function_execution_id"]
    if answer is not None:
        ask = wait(lambda: _consent_dm(stack, execution_id), "the bot's question to Riya")
        stack.driver.click("UREQUESTER", answer, message=ask)
    stack.slack.wait_for(
        "functions.completeError" if fails else "functions.completeSuccess",
        lambda c: c.params["function_execution_id"] == execution_id,
        timeout=15,
        since=since,
    )
    ended = stack.slack.execution(execution_id)
    if ended["state"] == "completed":
        say(f"    [workflow] the step completed: {ended['outputs']}")
    else:
        say(f"    [workflow] the step failed: {readable(str(ended['error']))}")
    return ended


def _consent_dm(stack: LocalStack, execution_id: str) -> dict[str, Any] | None:
    """The bot's DM asking Riya to confirm the step's reward."""
    for message in stack.slack.dms("UREQUESTER"):
        for block in message.get("blocks") or []:
            if any(e.get("value") == execution_id for e in block.get("elements") or []):
                return message
    return None


def _workflow(stack: LocalStack) -> None:
    anniversary = {
        "recipient": "UCHO",
        "reward_type": "charity",
        "product_id": 40001,
        "amount": 10,
        "message": "Happy 5th work anniversary, Cho!",
    }
    say("    … Slack runs send_reward with the inputs Riya set in Workflow Builder …")
    say("    … it spends the budget of whoever ran it, so the bot asks her first: Send …")
    sent = _run_step(stack, "send_reward", anniversary, answer="consent_send")
    if sent["state"] != "completed":
        raise DemoFailed(f"send_reward failed: {sent['error']}")
    ref = sent["outputs"]["request_ref"]
    request_id = int(ref.removeprefix("R-"))
    say("    … the workflow's author chose the reward, so an approver looks at it: Alex approves …")
    stack.driver.click("UAPPROVER", "approve_request", message=stack.approval_message(ref))
    wait(lambda: _states(stack, request_id) == ["delivered"], "the anniversary donation")
    say("    … a later step of the workflow branches on reward_status …")
    status = _run_step(stack, "reward_status", {"request_ref": ref})
    if status.get("outputs") != {"state": "delivered"}:
        raise DemoFailed(f"reward_status said {status}")
    say("    … run again, she presses Don't send: the step fails and nothing is held …")
    declined = _run_step(stack, "send_reward", anniversary, fails=True, answer="consent_decline")
    if declined["state"] != "failed":
        raise DemoFailed("Don't send did not end the step")
    say("    … a workflow that names someone else as the requester is refused …")
    refused = _run_step(stack, "send_reward", {**anniversary, "requester": "UAPPROVER"}, fails=True)
    if refused["state"] != "failed":
        raise DemoFailed("a workflow spent someone else's budget")


def _request_state(stack: LocalStack, request_id: int) -> str | None:
    request = request_store.get(stack.bot.runtime.database, request_id)
    return request.state if request else None


def _first_dm(
    stack: LocalStack, user: str, start: str, mentions: str = ""
) -> dict[str, Any] | None:
    """The first DM `user` got whose text starts with `start` (and whose blocks mention
    `mentions`), as first posted."""
    for message in stack.slack.dms(user):
        first = message["edits"][0] if message.get("edits") else message
        if str(first.get("text", "")).startswith(start) and mentions in str(first.get("blocks")):
            return {**message, **first}
    return None


def _show_home(stack: LocalStack, user: str) -> None:
    """Open `user`'s Home tab and print it as they read it."""
    since = len(stack.slack.calls())
    stack.driver.open_home(user)
    stack.slack.wait_for("views.publish", lambda c: c.params["user_id"] == user, since=since)
    home = stack.slack.home(user) or {}
    text = readable(stack.slack.plain_text(home.get("blocks") or []))
    say(f"    [Home tab of {PEOPLE[user]}] " + text.replace("\n", "\n" + " " * 8))


def _sim(stack: LocalStack, method: str, control: str, body: dict[str, Any] | None = None) -> Any:
    """The simulator's /_sim/ controls, over HTTP as any tool would use them."""
    response = httpx.request(
        method, f"{stack.sim.url}/_sim/{control}", content=dumps(body or {}), timeout=10
    )
    if response.status_code != 200:
        raise DemoFailed(f"/_sim/{control}: {response.text}")
    return loads(response.content)


def _check_codes_stayed_private(stack: LocalStack) -> None:
    codes = [
        code
        for order in _sim(stack, "GET", "orders")["orders"]
        for code in order.get("vouchers", [])
    ]
    if not codes:
        raise DemoFailed("no voucher was issued")
    for message in stack.slack.messages():
        shown = str(message)
        if any(code in shown for code in codes) and not str(message["channel"]).startswith("D"):
            raise DemoFailed("a voucher code reached a channel")
    for user in ("UREQUESTER", "UAPPROVER"):
        if any(code in str(m) for m in stack.slack.dms(user) for code in codes):
            raise DemoFailed(f"a voucher code reached {PEOPLE[user]}")
    say(
        f"\n    Checked: the {len(codes)} voucher codes appeared only in their recipients' own DMs."
    )


def _check_slack_rules_kept(stack: LocalStack) -> None:
    """The Slack stand-in checks every payload as Slack does; the demo fails on a refusal."""
    broken = stack.slack.violations()
    if broken:
        raise DemoFailed("Slack would refuse: " + "; ".join(map(str, broken)))
    checked = len(stack.slack.calls()) - len(stack.slack.calls("auth.test"))
    say(f"    Checked: Slack's rules held for all {checked} calls and answers the bot made.")


if __name__ == "__main__":
    sys.exit(run_demo())
