"""Issue 16, finding 8: one rule for who sees the wallet, the company's spend and other
people's request details, the same on every surface (services/visibility.py).

The attack: escalation approvers and delegates saw the wallet and the company's spend on the
Home before anything was escalated while `/reward balance` refused them; an escalation
approver read any earlier request's details in the form's duplicate warning while `/reward
status` refused them the same request."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.local import LocalStack
from tests.slack.test_e2e_commands import reply
from tests.slack.test_e2e_home import open_home, text_of
from tests.slack.test_workflow_steps import run_step
from tests.support import SimControl, wait_for

SCHEDULE = {
    "rewards_remind_after": "1h",
    "rewards_escalate_after": "2h",
    "rewards_expire_after": "3h",
    "rewards_escalation_approvers": ["UCHO"],
}
COMPANY = ("Xoxoday wallet", "Spent this month")
REFUSED_BALANCE = "Only approvers can see the wallet balance."


def company_on_home(stack: LocalStack, user: str) -> list[str]:
    open_home(stack, user)
    home = text_of(stack, user)
    return [part for part in COMPANY if part in home]


def warning_for(stack: LocalStack, user: str, recipient: str) -> str:
    """What the /reward form says to `user` once `recipient` is chosen."""
    view_id = stack.open_form(user)
    since = len(stack.slack.calls())
    stack.driver.select(user, view_id, "recipients", "recipients", [recipient])
    stack.slack.wait_for("views.update", lambda c: c.params.get("view_id") == view_id, since=since)
    return stack.slack.plain_text(stack.slack.view(view_id)["blocks"])


def status_step(stack: LocalStack, user: str, ref: str) -> dict[str, Any]:
    return run_step(stack, "reward_status", {"request_ref": ref}, user)


def surfaces(stack: LocalStack, user: str) -> dict[str, bool]:
    """What `user` is shown of the company and of R-1, surface by surface."""
    return {
        "home": company_on_home(stack, user) == list(COMPANY),
        "balance": reply(stack, user, "balance") != REFUSED_BALANCE,
        "status": reply(stack, user, "status R-1").startswith("*R-1*"),
        "warning": "was already rewarded in R-1" in warning_for(stack, user, "UANA"),
        "workflow": status_step(stack, user, "R-1")["state"] == "completed",
    }


def test_an_escalation_approver_sees_the_same_on_every_surface_before_and_after_escalation(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack(**SCHEDULE)
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    stack.approval_message("R-1")

    before = surfaces(stack, "UCHO")
    assert before == dict.fromkeys(before, False), before

    # R-1 reaches its escalation time (its stored start moved back two hours).
    earlier = (datetime.now(UTC) - timedelta(hours=2, minutes=1)).isoformat()
    stack.bot.runtime.database.execute(
        "UPDATE requests SET waiting_since = ?, escalate_at = ? WHERE id = 1",
        [earlier, time.time() - 60],
    )
    after = surfaces(stack, "UCHO")
    assert after == dict.fromkeys(after, True), after


def test_a_delegate_sees_the_same_on_every_surface(stack: LocalStack) -> None:
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    stack.approval_message("R-1")
    until = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    assert reply(stack, "UAPPROVER", f"delegate @ben until {until}").startswith("🔁 <@UBEN>")
    seen = surfaces(stack, "UBEN")
    assert seen == dict.fromkeys(seen, True), seen

    # Someone with no part in it sees none of it, anywhere.
    unseen = surfaces(stack, "UOTHER")
    assert unseen == dict.fromkeys(unseen, False), unseen


def test_the_approval_channel_is_shown_what_anyone_in_it_may_see(
    make_stack: Callable[..., LocalStack], xo: SimControl
) -> None:
    """The channel's ask told whoever is in the approval channel (its members are not all
    approvers) what an earlier request for the same person was, who asked for it and where it
    stands, and the wallet's figures. It goes through the rule now: the channel reads as
    anyone, so the earlier request is named by its number and the wallet in words; whoever is
    asked by DM (here a delegate) reads what the rule shows them."""
    xo.config(balance="12.34")
    stack = make_stack(rewards_auto_approve_max="50", rewards_monthly_budget="500")
    until = (datetime.now(UTC).date() + timedelta(days=7)).isoformat()
    assert reply(stack, "UAPPROVER", f"delegate @ben until {until}").startswith("🔁 <@UBEN>")
    assert stack.request("UREQUESTER", ["UANA"], amount="100").text == ""  # over the auto max
    stack.approval_message("R-1")
    assert stack.request("UOTHER", ["UANA"]).text == ""  # auto, but the wallet is short

    channel = stack.slack.plain_text(stack.approval_message("R-2"))
    assert "<@UANA> was already rewarded recently (R-1)" in channel
    assert "<@UREQUESTER>" not in channel and "12.34" not in channel
    assert "wallet cannot cover it right now" in channel

    def bens_ask() -> str:
        asks = [m for m in stack.slack.dms("UBEN") if "R-2 needs approval" in m["text"]]
        return stack.slack.plain_text(asks[0]) if asks else ""

    ben = wait_for(bens_ask)
    assert "was already rewarded in R-1" in ben and "asked by <@UREQUESTER>" in ben
    assert "12.34" in ben  # a delegate of an approver sees the wallet (the rule's first row)
