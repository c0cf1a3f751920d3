"""`rewards-bot demo`: the whole flow on embedded defaults, with no credentials.

It starts the bundled Xoxoday simulator, a local Slack stand-in and the bot in HTTP mode, then
sends real signed Slack requests through it: /reward, the modal, approval, placement, and a
delivery webhook; the App Home of an approver (approving from it) and of a requester; a
request nobody decides, with the approval schedule shortened to seconds: a reminder, an
escalation, expiry and a late click; a Workflow Builder run of the bot's custom steps; and
"Their choice": 50 USD each for Ana and Ben, Ana (in the UK) choosing a gift card in pounds
with the change going back to Riya's budget, Ben never choosing, reminded, then expired.
It prints what each person sees, and exits non-zero if any step fails.
"""

from __future__ import annotations

import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bot.local import APPROVAL_CHANNEL, LocalStack, start_local_stack
from bot.logs import setup_logging
from plumbing.jsonutil import dumps, loads
from simulator.slack.fake import Call
from simulator.slack.users import make_user
from storage import orders as order_store
from storage import requests as request_store

PEOPLE = {
    "UREQUESTER": "Riya (requester)",
    "UAPPROVER": "Alex (approver)",
    "UAPPROVER2": "Sam (approver)",
    "UANA": "Ana",
    "UBEN": "Ben",
    "UCHO": "Cho",
    "UOTHER": "Olu (not an approver)",
    "UHEAD": "Hana (head of people, asked when a request is overdue)",
}
# The approval schedule, shortened from 24h / 72h / 7d so the demo shows it in seconds.
REMIND_AFTER, ESCALATE_AFTER, EXPIRE_AFTER = "2s", "4s", "6s"
# The choice's schedule, shortened from 3d,10d and 30d.
# Long enough that Ana chooses in time on a busy machine, short enough to watch Ben's expire.
CHOICE_REMIND, CHOICE_EXPIRE = "5s", "15s"
TESCO_UK = 31010  # the simulator's Tesco Gift Card, sold in the UK, in pounds
CHANNELS = {"CREWARDS": "#rewards", APPROVAL_CHANNEL: "#reward-approvals"}


class DemoFailed(Exception):
    pass


class Narrator:
    """Prints each Slack message as the person who would see it sees it."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self._lock = threading.Lock()

    def __call__(self, call: Call) -> None:
        if not call.ok:
            return
        params, method = call.params, call.method
        if method == "chat.postMessage":
            self._show(
                call.response["channel"], params, "thread" if params.get("thread_ts") else ""
            )
        elif method == "chat.update":
            self._show(params["channel"], params, "updated")
        elif method == "chat.postEphemeral":
            self._print(f"only {PEOPLE.get(params['user'], params['user'])} sees", params)
        elif method == "views.publish":
            return  # Home tabs are printed when the demo opens them (they refresh often)
        elif method in ("views.open", "views.update"):
            view = params["view"]
            fields = [
                b["label"]["text"] for b in view.get("blocks", []) if b.get("type") == "input"
            ]
            verb = "opens" if method == "views.open" else "now asks for"
            say(f"    [modal] '{view['title']['text']}' {verb}: {', '.join(fields)}")
            # The budget when the form opens; a warning whenever one is shown.
            marks = ("💰", "⚠️") if method == "views.open" else ("⚠️",)
            notes = [
                block
                for block in view.get("blocks", [])
                if block.get("type") in ("context", "section")
                and any(mark in str(block) for mark in marks)
            ]
            for line in readable(self.stack.slack.plain_text(notes)).splitlines():
                say(f"            {line}")
        elif method == "response_url":
            user = self.stack.slack.hook_user(str(params.get("url")))
            self._print(f"only {PEOPLE.get(user, user) if user else 'the caller'} sees", params)

    def _show(self, channel: str, params: dict[str, Any], how: str) -> None:
        person = self.stack.slack.app.dm_user(channel) if channel.startswith("D") else channel
        if person and person.startswith(("U", "W")):
            where = f"DM to {PEOPLE.get(person, person)}"
        else:
            where = CHANNELS.get(channel, channel)
        self._print(f"{where}{' (' + how + ')' if how else ''}", params)

    def _print(self, where: str, params: dict[str, Any]) -> None:
        text = readable(
            self.stack.slack.plain_text(params.get("blocks") or params.get("text") or "")
        )
        text = text.replace("\n", "\n" + " " * 8)
        with self._lock:
            say(f"    [{where}] {text}")


def readable(mrkdwn: str) -> str:
    """Slack's markup as a person reads it: names for mentions, dates, no asterisks."""
    text = re.sub(
        r"<@(\w+)>", lambda m: "@" + PEOPLE.get(m.group(1), m.group(1)).split(" ")[0], mrkdwn
    )
    text = re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)
    return text.replace("*", "")


def say(text: str = "") -> None:
    # One write per line: the bot's threads print too, and print() writes the newline apart.
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def settle(stack: LocalStack) -> None:
    """Let the delivery room tell everything the last step owes, so each step's messages show
    under it (Slack delivery runs on its own threads, coalescing for a second or two)."""
    stack.bot.room.run_until_idle(timeout=10)


def step(title: str) -> None:
    say(f"\n== {title}")


def wait(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise DemoFailed(f"timed out waiting for {what}")


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
    """Scenes 9-10: reminders, escalation, expiry and a late click; the daily audit."""
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
    _their_choice(stack)
    settle(stack)
    step("13. The daily audit, run now: Xoxoday holds an order placed by hand, and a top-up")
    _sim(stack, "POST", "orphan", {"productId": 27222, "denomination": 10, "poNumber": "BY-HAND"})
    _sim(stack, "POST", "topup", {"amount": 5000})
    for line in stack.bot.runtime.auditor.run(datetime.now(UTC).date(), actor="demo").lines():
        say(f"    {line}")


def _their_choice(stack: LocalStack) -> None:
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
        f"    … Riya's budget: {before} USD held before the choice, {change} USD back at once; "
        f"Xoxoday charged {ana.amount_charged} USD for 25 GBP …"
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
    say(f"    … Riya's budget now holds {_committed(stack)} USD for this month …")


def _latest_ref(stack: LocalStack) -> str:
    [newest] = request_store.for_requester(stack.bot.runtime.database, "UREQUESTER", limit=1)
    return newest.ref


def _committed(stack: LocalStack) -> Any:
    from services.budget import budget_of

    runtime = stack.bot.runtime
    month = time.strftime("%Y-%m", time.gmtime())
    return budget_of(runtime.database, runtime.policy, "UREQUESTER", month, "USD").committed


def _run_step(
    stack: LocalStack, step_id: str, inputs: dict[str, Any], *, fails: bool = False
) -> dict[str, Any]:
    """Slack runs the bot's custom step as part of Riya's workflow; the bot ends it."""
    since = len(stack.slack.calls())
    response, body = stack.driver.run_step(step_id, inputs, runner="UREQUESTER")
    if response.status_code != 200:
        raise DemoFailed(f"the bot did not take function_executed: {response.status_code}")
    execution_id = body["event"]["function_execution_id"]
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


def _workflow(stack: LocalStack) -> None:
    anniversary = {
        "recipient": "UCHO",
        "reward_type": "charity",
        "product_id": 40001,
        "amount": 10,
        "message": "Happy 5th work anniversary, Cho!",
    }
    say("    … Slack runs send_reward with the inputs Riya set in Workflow Builder …")
    sent = _run_step(stack, "send_reward", anniversary)
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
