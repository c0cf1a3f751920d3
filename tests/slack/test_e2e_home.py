"""The App Home end to end: app_home_opened -> views.publish, for a requester, a recipient and
an approver; Approve, Reject and Cancel from the Home tab through the same services; the Home
published again when what it shows changes; codes never on it."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from bot.local import LocalStack
from storage import orders as order_store
from storage import requests as request_store
from tests.slack.test_e2e_commands import reply
from tests.support import SimControl, wait_for


def open_home(stack: LocalStack, user: str) -> dict[str, Any]:
    since = len(stack.slack.calls())
    response = stack.driver.open_home(user)
    assert response.status_code == 200
    stack.slack.wait_for("views.publish", lambda c: c.params["user_id"] == user, since=since)
    home = stack.slack.home(user)
    assert home is not None
    return home


def text_of(stack: LocalStack, user: str) -> str:
    return stack.slack.plain_text((stack.slack.home(user) or {}).get("blocks") or [])


def waiting_part(stack: LocalStack, user: str) -> str:
    text = text_of(stack, user)
    return text.split("Waiting for you", 1)[-1].split("Xoxoday wallet", 1)[0]


def state(stack: LocalStack, request_id: int) -> str:
    request = request_store.get(stack.bot.runtime.database, request_id)
    assert request is not None
    return request.state


def test_home_for_a_requester_a_recipient_and_an_approver_approve_places_one_order(
    make_stack: Callable[..., LocalStack], xo: SimControl
) -> None:
    stack = make_stack(rewards_monthly_budget="100", rewards_low_balance="1000000")
    assert stack.request("UREQUESTER", ["UANA"], message="For <!channel> the launch").text == ""
    stack.approval_message("R-1")

    requester = open_home(stack, "UREQUESTER")
    text = text_of(stack, "UREQUESTER")
    assert "75.50 USD left" in text and "24.50 USD held by requests waiting" in text
    assert "R-1" in text and "Waiting for approval" in text
    assert "Waiting for you" not in text and "wallet" not in text  # not an approver
    assert "&lt;!channel&gt;" in str(requester["blocks"])  # what was typed stays inert
    cancel = [b for b in requester["blocks"] if b.get("accessory", {}).get("value")]
    assert [b["block_id"] for b in cancel] == ["request:1"]

    approver = open_home(stack, "UAPPROVER")
    waiting = waiting_part(stack, "UAPPROVER")
    assert "R-1" in waiting and "Approve" in waiting
    text = text_of(stack, "UAPPROVER")
    assert "The balance is under 1,000,000 USD" in text
    assert "Spent this month" in text

    # A double click on Approve in the Home tab: one decision, one order.
    stack.driver.click_home("UAPPROVER", "approve_request", home=approver)
    stack.driver.click_home("UAPPROVER", "approve_request", home=approver)
    wait_for(
        lambda: (
            [o.state for o in order_store.for_request(stack.bot.runtime.database, 1)]
            == ["delivered"]
        )
    )
    [po] = [o.po_number for o in order_store.for_request(stack.bot.runtime.database, 1)]
    assert [o["poNumber"] for o in xo.orders()] == [po]
    wait_for(lambda: any("already approved" in str(m) for m in stack.slack.dms("UAPPROVER")))
    # Published again by the notifier: nothing waits for the approver any more, the
    # requester sees the decision and their budget spent, the recipient what they received.
    wait_for(lambda: "R-1" not in waiting_part(stack, "UAPPROVER"))
    assert "Nothing is waiting for your decision" in text_of(stack, "UAPPROVER")
    wait_for(lambda: "Delivered" in text_of(stack, "UREQUESTER"))
    assert "spent 24.50 USD" in text_of(stack, "UREQUESTER")
    assert not [b for b in stack.slack.home("UREQUESTER")["blocks"] if "accessory" in b]  # type: ignore[index]

    recipient = open_home(stack, "UANA")
    text = text_of(stack, "UANA")
    assert "Rewards you received" in text and "delivered" in text and "<@UREQUESTER>" in text
    codes = [code for order in xo.orders() for code in order["vouchers"]]
    assert codes and not any(code in str(recipient) for code in codes)  # codes stay in the DM
    wait_for(lambda: any(codes[0] in str(m) for m in stack.slack.dms("UANA")))
    homes = [c.params for c in stack.slack.calls("views.publish")]
    assert not any(code in str(homes) for code in codes)


def test_reject_and_cancel_from_the_home_tab_and_a_forged_cancel(
    stack: LocalStack,
) -> None:
    for recipient in ("UANA", "UBEN"):
        assert stack.request("UREQUESTER", [recipient]).text == ""
    open_home(stack, "UAPPROVER")
    since = len(stack.slack.calls())
    stack.driver.click_home("UAPPROVER", "reject_request", block_id="decision:1")
    opened = stack.slack.wait_for("views.open", since=since)
    view_id = opened.response["view"]["id"]
    assert opened.response["view"]["callback_id"] == "reject_modal"  # the channel's own form
    stack.driver.fill(view_id, "reason", "reason", "Budget freeze")
    assert stack.driver.submit("UAPPROVER", view_id).text == ""
    wait_for(lambda: state(stack, 1) == "rejected")

    requester = open_home(stack, "UREQUESTER")
    # Someone else replays the requester's Cancel: the service checks who asks.
    stack.driver.click_home("UOTHER", "cancel_request", home=requester, block_id="request:2")
    wait_for(lambda: any("Only the person who asked" in str(m) for m in stack.slack.dms("UOTHER")))
    assert state(stack, 2) == "pending_approval"
    stack.driver.click_home("UREQUESTER", "cancel_request", block_id="request:2")
    wait_for(lambda: state(stack, 2) == "cancelled")
    wait_for(lambda: "Cancelled by the requester" in text_of(stack, "UREQUESTER"))
    wait_for(lambda: "Rejected by <@UAPPROVER>: Budget freeze" in text_of(stack, "UREQUESTER"))


def test_the_duplicate_warning_in_the_modal_and_on_the_approval_ask(stack: LocalStack) -> None:
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    view_id = stack.open_form("UREQUESTER")
    stack.choose("UREQUESTER", view_id, "gift_card", 27222)
    since = len(stack.slack.calls())
    stack.driver.select("UREQUESTER", view_id, "recipients", "recipients", ["UBEN", "UANA"])
    stack.slack.wait_for("views.update", lambda c: c.params["view_id"] == view_id, since=since)
    shown = stack.slack.plain_text(stack.slack.view(view_id))
    assert "<@UANA> was already rewarded in R-1" in shown
    assert "<@UBEN> was already" not in shown
    stack.driver.fill(view_id, "denomination_choice", "denomination_choice", "25")
    assert stack.driver.submit("UREQUESTER", view_id).text == ""  # a warning, not a refusal
    approval = stack.approval_message("R-2")
    # The approval channel reads as anyone (services/visibility.py): the request's number only.
    assert "<@UANA> was already rewarded recently (R-1)" in stack.slack.plain_text(approval)
    first = stack.approval_message("R-1")
    assert "already rewarded" not in stack.slack.plain_text(first)


def test_events_url_verification_for_http_mode(stack: LocalStack) -> None:
    """Setting the manifest's events request_url, Slack sends a signed url_verification and
    expects its challenge back (https://docs.slack.dev/reference/events/url_verification)."""
    body = json.dumps(
        {
            "token": "fake",
            "challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P",
            "type": "url_verification",
        }
    ).encode()
    headers = stack.driver.signed_headers(body, content_type="application/json")
    answer = stack.driver.post_raw(body, headers)
    assert answer.status_code == 200
    assert answer.json() == {"challenge": "3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"}
    forged = stack.driver.post_raw(body, {**headers, "X-Slack-Signature": "v0=0"})
    assert forged.status_code == 401


def test_the_modal_tells_others_only_that_a_recipient_was_rewarded(stack: LocalStack) -> None:
    """`/reward status R-1` refuses someone who is neither requester, recipient nor approver;
    the modal's duplicate warning must not show them what R-1 was either (review finding)."""
    assert stack.request("UREQUESTER", ["UANA"], amount="100").text == ""
    stack.approval_message("R-1")
    assert reply(stack, "UOTHER", "status R-1").startswith("I found no request")
    view_id = stack.open_form("UOTHER")
    since = len(stack.slack.calls())
    stack.driver.select("UOTHER", view_id, "recipients", "recipients", ["UANA"])
    stack.slack.wait_for("views.update", lambda c: c.params["view_id"] == view_id, since=since)
    shown = stack.slack.plain_text(stack.slack.view(view_id))
    assert "<@UANA> was already rewarded recently (R-1)" in shown
    assert not [s for s in ("100 USD", "<@UREQUESTER>", "waiting for approval") if s in shown]
