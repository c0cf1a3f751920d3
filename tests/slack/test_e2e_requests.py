"""/reward end to end: signed requests to the bot's HTTP endpoint, a fake Slack, the simulator."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from decimal import Decimal
from urllib.parse import quote

import pytest

from bot.local import APPROVAL_CHANNEL, LocalStack
from storage import orders as order_store
from storage import requests as request_store
from tests.support import SimControl, wait_for


def test_slash_command_opens_the_modal_at_once(stack: LocalStack) -> None:
    began = time.monotonic()
    response = stack.driver.command("UREQUESTER", "")
    acked = time.monotonic() - began
    assert response.status_code == 200 and response.text == ""
    call = stack.slack.wait_for("views.open")
    assert call.ok, call.response
    view = call.response["view"]
    assert view["callback_id"] == "reward_modal"
    inputs = [b["block_id"] for b in view["blocks"] if b["type"] == "input"]
    # Gift cards are searched where they are sold: every country the catalog lists, at first.
    assert inputs[:3] == ["reward_type", "country", "product"]
    # The requester's budget comes first (no limit configured here), above the fields.
    assert view["blocks"][0]["type"] == "context"
    assert "No monthly limit" in stack.slack.plain_text(view["blocks"][:1])
    assert acked < 3  # informative bound only; bench/ measures ack latency properly


def test_type_change_follows_the_type_and_keeps_what_was_typed(stack: LocalStack) -> None:
    view_id = stack.open_form("UREQUESTER")
    stack.driver.fill(view_id, "message", "message", "For the launch")
    stack.driver.fill(view_id, "recipients", "recipients", ["UBEN"])
    stack.choose("UREQUESTER", view_id, "airmiles", 15365)
    view = stack.slack.view(view_id)
    ids = [b.get("block_id") for b in view["blocks"]]
    assert "loyalty_member_id" in ids and "denomination_choice" in ids
    state = stack.driver.state(view_id)["values"]
    assert state["message"]["message"]["value"] == "For the launch"
    assert state["recipients"]["recipients"]["selected_users"] == ["UBEN"]
    stack.choose("UREQUESTER", view_id, "topup", 55133)
    ids = [b.get("block_id") for b in stack.slack.view(view_id)["blocks"]]
    assert "phone" in ids and "operator_check" in ids and "loyalty_member_id" not in ids


def test_product_search_uses_the_cached_catalog_for_the_type(
    stack: LocalStack, xo: SimControl
) -> None:
    view_id = stack.open_form("UREQUESTER")
    before = xo.calls("getVouchers")
    response = stack.driver.options("UREQUESTER", view_id, "product", "amazon")
    labels = [o["text"]["text"] for o in response.json()["options"]]
    assert labels == [
        "Amazon.com eGift Card (10, 25, 50, 100 USD)",
        "Amazon.in Gift Card (500, 1,000 INR)",
    ]
    stack.choose("UREQUESTER", view_id, "topup", 55133)
    response = stack.driver.options("UREQUESTER", view_id, "product", "airtel")
    labels = [o["text"]["text"] for o in response.json()["options"]]
    assert labels[0].startswith("Airtel India Prepaid · Airtel ₹199")
    assert xo.calls("getVouchers") == before  # no Xoxoday call while typing


def test_submission_is_recorded_and_shown_in_the_channel_and_to_approvers(
    stack: LocalStack,
) -> None:
    response = stack.request("UREQUESTER", ["UANA", "UBEN"], message="Thanks for the launch!")
    assert response.status_code == 200 and response.text == ""  # the modal closes
    request = request_store.get(stack.bot.runtime.database, 1)
    assert (
        request is not None
        and request.state == "pending_approval"
        and request.channel_id == "CREWARDS"
    )
    approval = stack.approval_message("R-1")
    text = stack.slack.plain_text(approval)
    assert (
        "<@UREQUESTER> is sending *Amazon.com eGift Card* (25 USD) each to <@UANA> and <@UBEN>"
        in text
    )
    assert "49 USD" in text and "Approve" in text and "Reject" in text
    status = stack.slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == "CREWARDS")
    assert "Waiting for approval" in stack.slack.plain_text(status.params)


def test_a_modal_with_every_field_wrong_gets_an_error_on_each(stack: LocalStack) -> None:
    view_id = stack.open_form("UREQUESTER")
    stack.choose("UREQUESTER", view_id, "topup", 55133)
    stack.driver.fill(view_id, "denomination_choice", "denomination_choice", "199")
    stack.driver.fill(view_id, "recipients", "recipients", ["UREQUESTER"])
    stack.driver.fill(view_id, "phone", "phone", "98575 35678")
    response = stack.driver.submit("UREQUESTER", view_id)
    body = response.json()
    assert body["response_action"] == "errors"
    assert body["errors"] == {
        "recipients": "You cannot send a reward to yourself.",
        "phone": "write the phone number in international form, e.g. +919876543210",
    }
    stack.choose("UREQUESTER", view_id, "airmiles", 15365)
    stack.driver.fill(view_id, "denomination_choice", "denomination_choice", "50")
    stack.driver.fill(view_id, "recipients", "recipients", ["UNOMAIL"])
    body = stack.driver.submit("UREQUESTER", view_id, enforce_required=False).json()
    assert body["errors"] == {
        "recipients": "Noor Haddad has no email the bot can see (it is needed for the order)",
        "loyalty_member_id": "Enter the recipient's loyalty member ID.",
    }
    assert order_store.count_by_state(stack.bot.runtime.database) == {}


def test_recipient_without_email_bot_or_unknown_user(stack: LocalStack) -> None:
    response = stack.request("UREQUESTER", ["UANA", "UNOMAIL", "UBOTUSER"])
    errors = response.json()["errors"]
    assert list(errors) == ["recipients"]
    assert "Noor Haddad has no email the bot can see" in errors["recipients"]
    assert "is a bot" in errors["recipients"]
    assert request_store.get(stack.bot.runtime.database, 1) is None


def test_amount_outside_the_product_range_and_over_the_policy_limit(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack(rewards_max_order="100")
    response = stack.request("UREQUESTER", ["UANA"], product_id=29877, amount="600")
    assert response.json()["errors"] == {
        "denomination_amount": "Visa Virtual Prepaid takes an amount from 5 to 500 USD, not 600"
    }
    response = stack.request("UREQUESTER", ["UANA"], product_id=29877, amount="150")
    error = response.json()["errors"]["denomination_amount"]
    assert "150 USD, over the 100 USD limit for a single order" in error


AMOUNT_HELP = (
    "Write the amount like 25 or 25.50 (digits, a dot before the cents; "
    "no commas, spaces or other separators)."
)


@pytest.mark.parametrize(
    "typed",
    ["1,5", "1.000,50", "1 000", "١٢", "1e3"],  # the rest: tests/test_money.py
)
def test_an_ambiguous_amount_is_refused_with_the_expected_form(
    make_stack: Callable[..., LocalStack], typed: str
) -> None:
    # "1,5" used to be read as 15 and, under the auto-approve limit, approved at once.
    stack = make_stack(rewards_auto_approve_max="20", rewards_monthly_budget="500")
    response = stack.request("UREQUESTER", ["UANA"], product_id=29877, amount=typed)
    assert response.json() == {
        "response_action": "errors",
        "errors": {"denomination_amount": AMOUNT_HELP},
    }
    assert request_store.get(stack.bot.runtime.database, 1) is None
    accepted = stack.request("UREQUESTER", ["UANA"], product_id=29877, amount="12.50")
    assert accepted.text == ""
    [order] = order_store.for_request(stack.bot.runtime.database, 1)
    assert order.denomination == Decimal("12.50")


def test_double_submission_records_one_request(stack: LocalStack) -> None:
    view_id = stack.open_form("UREQUESTER")
    stack.choose("UREQUESTER", view_id, "gift_card", 27222)
    stack.driver.fill(view_id, "denomination_choice", "denomination_choice", "10")
    stack.driver.fill(view_id, "recipients", "recipients", ["UANA"])
    view = stack.slack.view(view_id)
    state = stack.driver.state(view_id)
    payload = {
        "type": "view_submission",
        "team": {"id": "T0001"},
        "user": {"id": "UREQUESTER"},
        "api_app_id": "A0001",
        "view": {**view, "state": state},
    }
    body = ("payload=" + quote(json.dumps(payload))).encode()
    for _ in range(2):  # Slack delivered the same submission twice
        assert stack.driver.post_raw(body, stack.driver.signed_headers(body)).status_code == 200
    assert order_store.count_by_state(stack.bot.runtime.database) == {"pending_approval": 1}


def test_bad_forged_and_replayed_signatures_are_refused(stack: LocalStack) -> None:
    body = b"command=%2Freward&text=help&user_id=UREQUESTER&channel_id=CREWARDS&team_id=T0001&trigger_id=1.2.3"
    good = stack.driver.signed_headers(body)
    assert stack.driver.post_raw(body, good).status_code == 200
    forged = {**good, "X-Slack-Signature": "v0=" + "0" * 64}
    assert stack.driver.post_raw(body, forged).status_code == 401
    assert (
        stack.driver.post_raw(
            body, {"Content-Type": "application/x-www-form-urlencoded"}
        ).status_code
        == 401
    )
    replayed = stack.driver.signed_headers(body, timestamp=int(time.time()) - 600)
    assert stack.driver.post_raw(body, replayed).status_code == 401
    tampered = body.replace(b"help", b"history")
    assert stack.driver.post_raw(tampered, good).status_code == 401


def test_health_and_unknown_routes(stack: LocalStack) -> None:
    import httpx

    health = httpx.get(f"{stack.url}/healthz")
    assert health.status_code == 200 and health.json() == {"ok": True}
    assert httpx.get(f"{stack.url}/nope").status_code == 404
    stack.bot.runtime.worker.stop()  # a bot whose worker has stopped is not healthy
    stopped = httpx.get(f"{stack.url}/healthz")
    assert stopped.status_code == 503 and stopped.json() == {"ok": False}


def test_approval_requests_go_to_each_approver_by_dm_without_a_channel(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack(rewards_approval_channel=None)
    stack.request("UREQUESTER", ["UANA"])
    for approver in ("UAPPROVER", "UAPPROVER2"):
        wait_for(
            lambda a=approver: any(
                "R-1 needs approval" in stack.slack.plain_text(m) for m in stack.slack.dms(a)
            )
        )
    assert not stack.slack.messages(APPROVAL_CHANNEL)


def test_a_wallet_shortfall_shows_its_figures_to_the_approvers_only(
    make_stack: Callable[..., LocalStack], xo: SimControl
) -> None:
    """`/reward balance` is for approvers; an auto-approvable request the wallet cannot cover
    must not tell the requester or the channel what the balance is (review finding), nor the
    approval channel, whose members are not all approvers (services/visibility.py): the
    approvers read the figures where only they read (a DM ask, the Home tab, /reward balance;
    tests/slack/test_visibility.py)."""
    xo.config(balance="12.34")
    stack = make_stack(rewards_auto_approve_max="50", rewards_monthly_budget="500")
    assert stack.request("UOTHER", ["UANA"], amount="25").status_code == 200

    def thread() -> list[str]:
        return [m["text"] for m in stack.slack.messages("CREWARDS") if m.get("thread_ts")]

    wait_for(lambda: any("Not approved automatically" in t for t in thread()))
    approval = stack.slack.plain_text(stack.approval_message("R-1"))
    assert "wallet cannot cover it right now" in approval and "12.34" not in approval
    shown = thread() + [stack.slack.plain_text(m) for m in stack.slack.messages("CREWARDS")]
    shown += [stack.slack.plain_text(m) for m in stack.slack.dms("UOTHER")]
    assert not [t for t in shown if "12.34" in t]
    assert any("wallet cannot cover it right now" in t for t in thread())
