"""/reward with text: help, status, history, balance, cancel; and Slack's own rate limits."""

from __future__ import annotations

import pytest

from bot.local import LocalStack
from storage import requests as request_store
from tests.support import SimControl, wait_for


def reply(stack: LocalStack, user: str, text: str) -> str:
    response = stack.driver.command(user, text)
    assert response.status_code == 200
    # Bolt answers ack(text=...) as plain text, which Slack shows only to the caller.
    if response.headers.get("content-type", "").startswith("application/json"):
        return response.json()["text"]
    return response.text


@pytest.mark.parametrize("text", ["help", "what?", "HELP me"])
def test_help_and_unknown_text_get_the_help(stack: LocalStack, text: str) -> None:
    answer = reply(stack, "UREQUESTER", text)
    assert answer.startswith("*Rewards Bot*") and "/reward status R-12" in answer
    assert "balance" not in answer  # not an approver
    assert "balance" in reply(stack, "UAPPROVER", "help")


def test_history_shows_only_the_callers_requests(stack: LocalStack) -> None:
    assert (
        reply(stack, "UREQUESTER", "history")
        == "You have no reward requests yet. Type `/reward` to send one."
    )
    stack.request("UREQUESTER", ["UANA"], amount="10")
    stack.request("UOTHER", ["UANA"], amount="25")
    mine = reply(stack, "UREQUESTER", "history")
    assert "R-1: 9.80 USD, pending approval" in mine and "R-2" not in mine


def test_status_by_reference_or_po_number_for_those_concerned(stack: LocalStack) -> None:
    stack.request("UREQUESTER", ["UANA"])
    po = stack.bot.runtime.database.scalar("SELECT po_number FROM orders")
    for who, ref in [("UREQUESTER", "R-1"), ("UANA", "1"), ("UAPPROVER", po)]:
        answer = reply(stack, who, f"status {ref}")
        assert answer.startswith("*R-1*: ⏳ Waiting for approval"), (who, answer)
        assert po in answer
    assert reply(stack, "UOTHER", "status R-1") == "I found no request R-1 of yours."
    assert reply(stack, "UREQUESTER", "status R-99") == "I found no request R-99 of yours."
    assert reply(stack, "UREQUESTER", "status").startswith("Which request?")
    assert reply(stack, "UOTHER", "status <!channel> <@UEVIL>") == (
        "I found no request &lt;!channel&gt; &lt;@UEVIL&gt; of yours."  # echoed, inert
    )


def test_a_recipient_sees_their_own_reward_only(stack: LocalStack) -> None:
    stack.request("UREQUESTER", ["UANA", "UBEN"])
    approval = stack.approval_message("R-1")
    since = len(stack.slack.calls())
    stack.driver.click("UAPPROVER", "reject_request", message=approval)
    view_id = stack.slack.wait_for("views.open", since=since).response["view"]["id"]
    stack.driver.fill(view_id, "reason", "reason", "Ben was rewarded last week")
    assert stack.driver.submit("UAPPROVER", view_id).text == ""
    po = dict(stack.bot.runtime.database.execute("SELECT recipient_id, po_number FROM orders"))
    ana = reply(stack, "UANA", "status R-1")
    assert ana.startswith("*R-1*: 🚫 Rejected by <@UAPPROVER>") and po["UANA"] in ana
    assert "UBEN" not in ana and po["UBEN"] not in ana and "last week" not in ana
    assert (
        reply(stack, "UANA", f"status {po['UBEN']}") == f"I found no request {po['UBEN']} of yours."
    )
    assert "Ben was rewarded last week" in reply(stack, "UREQUESTER", "status R-1")
    everything = reply(stack, "UAPPROVER2", "status R-1")  # approvers see the whole request
    assert "last week" in everything and po["UBEN"] in everything and "<@UANA>" in everything


def test_cancel_while_pending_and_only_ones_own(stack: LocalStack) -> None:
    stack.request("UREQUESTER", ["UANA"])
    approval = stack.approval_message("R-1")
    assert reply(stack, "UOTHER", "cancel R-1") == "I found no request R-1 of yours."
    assert reply(stack, "UANA", "cancel R-1") == (
        "R-1 was not cancelled: only the person who asked for a reward can cancel it."
    )
    assert reply(stack, "UREQUESTER", "cancel R-1").startswith("R-1 is cancelled")
    request = request_store.get(stack.bot.runtime.database, 1)
    assert request is not None and request.state == "cancelled"
    assert (
        reply(stack, "UREQUESTER", "cancel R-1")
        == "R-1 was not cancelled: R-1 is already cancelled."
    )
    approval = stack.approval_message("R-1")
    wait_for(
        lambda: (
            "Cancelled by the requester"
            in stack.slack.plain_text(stack.slack.message(approval["channel"], approval["ts"]))
        )
    )


def test_balance_for_approvers_arrives_after_the_ack(stack: LocalStack, xo: SimControl) -> None:
    assert reply(stack, "UREQUESTER", "balance") == "Only approvers can see the wallet balance."
    xo.config(latency_ms=300)  # Xoxoday is slow: the ack must not wait for it
    assert reply(stack, "UAPPROVER", "balance") == "Checking the Xoxoday wallet…"
    call = stack.slack.wait_for(
        "response_url", lambda c: "Xoxoday wallet" in str(c.params.get("text"))
    )
    assert "10,000 USD" in call.params["text"] and "available" in call.params["text"]


def test_slack_rate_limit_is_retried_by_the_client(stack: LocalStack) -> None:
    stack.slack.fail_next("chat.postMessage", times=1, status=429, retry_after=1)
    stack.request("UREQUESTER", ["UANA"])
    stack.approval_message("R-1", timeout=10)  # posted after Slack's Retry-After
    limited = [c for c in stack.slack.calls("chat.postMessage") if c.status == 429]
    assert len(limited) == 1
