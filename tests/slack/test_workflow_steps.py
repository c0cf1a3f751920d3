"""Workflow Builder steps end to end: the Slack stand-in starts executions of the manifest's
steps and sends `function_executed` (signed HTTP or Socket Mode) to the bot's real endpoint,
which completes or fails them with functions.completeSuccess / completeError."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from slack_bolt.adapter.socket_mode import SocketModeHandler

from bot.local import LocalStack, start_local_stack
from handlers.workflow_steps import NO_RUNNER, NO_RUNNER_STATUS
from simulator.slack import SocketDriver, start_fake_slack
from storage import events as event_store
from storage import orders as order_store
from storage import requests as request_store
from storage.models import EventKind
from tests.support import SimControl, wait_for

PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")
GIFT = {
    "recipient": "UANA",
    "reward_type": "gift_card",
    "product_id": 27222,  # Amazon.com eGift Card: 10, 25, 50, 100 USD
    "amount": 25,
    "message": "Happy work anniversary!",
}


def run(
    stack: LocalStack,
    inputs: dict[str, Any],
    runner: str | None = "UREQUESTER",
    answer: str = "consent_send",
    **extra: Any,
) -> dict[str, Any]:
    """Run send_reward once; when it asks its runner to confirm, they press `answer` (Send);
    returns the execution once the bot ended it."""
    execution_id = start(stack, {**GIFT, **inputs}, runner, **extra)
    what, found = asked_or_ended(stack, runner, execution_id)
    if what == "ended":
        return found
    assert runner is not None
    stack.driver.click(runner, answer, message=found)
    return ended(stack, execution_id)


def start(stack: LocalStack, inputs: dict[str, Any], runner: str | None, **extra: Any) -> str:
    """A workflow reaches the step: its execution id."""
    response, body = stack.driver.run_step("send_reward", inputs, runner=runner, **extra)
    assert response.status_code == 200 and response.text == ""  # acked at once, as an event
    return str(body["event"]["function_execution_id"])


def consent_ask(stack: LocalStack, runner: str, execution_id: str) -> dict[str, Any] | None:
    """The DM asking `runner` to confirm the execution, as it is now (None: not sent)."""
    for message in stack.slack.dms(runner):
        for block in message.get("blocks") or []:
            values = [e.get("value") for e in block.get("elements") or []]
            if block.get("type") == "actions" and execution_id in values:
                return message
    return None


def asked_or_ended(
    stack: LocalStack, runner: str | None, execution_id: str
) -> tuple[str, dict[str, Any]]:
    """("asked", the DM) once the runner is asked, or ("ended", the execution) if it ended."""

    def check() -> tuple[str, dict[str, Any]] | None:
        execution = stack.slack.execution(execution_id)
        if execution["state"] != "running":
            return "ended", execution
        ask = consent_ask(stack, runner, execution_id) if runner else None
        return ("asked", ask) if ask is not None else None

    return wait_for(check)


def ended(stack: LocalStack, execution_id: str) -> dict[str, Any]:
    return wait_for(lambda: (e := stack.slack.execution(execution_id))["state"] != "running" and e)


def run_step(
    stack: LocalStack, step: str, inputs: dict[str, Any], runner: str | None, **extra: Any
) -> dict[str, Any]:
    """Run a step that answers at once (reward_status) and wait for the bot to end it."""
    response, body = stack.driver.run_step(step, inputs, runner=runner, **extra)
    assert response.status_code == 200 and response.text == ""  # acked at once, as an event
    execution_id = body["event"]["function_execution_id"]
    return ended(stack, execution_id)


def requests(stack: LocalStack) -> list[Any]:
    rows = stack.bot.runtime.database.query("SELECT id FROM requests ORDER BY id")
    return [request_store.get(stack.bot.runtime.database, row["id"]) for row in rows]


def order_states(stack: LocalStack, request_id: int) -> list[str]:
    return [o.state for o in order_store.for_request(stack.bot.runtime.database, request_id)]


def test_a_step_records_a_request_completes_with_its_outputs_and_approval_places_one_order(
    stack: LocalStack, xo: SimControl
) -> None:
    done = run(stack, {})
    assert done["state"] == "completed", done
    [request] = requests(stack)
    assert done["outputs"] == {
        "request_ref": "R-1",
        "state": "pending_approval",
        "cost": float(request.total_cost),
        "currency": "USD",
    }
    assert request.requester_id == "UREQUESTER"  # the person who ran the workflow
    assert request.requester_name == "Riya Kapoor"
    assert request.idempotency_key == f"slack:function:{done['id']}"
    assert request.message == "Happy work anniversary!"
    [order] = order_store.for_request(stack.bot.runtime.database, 1)
    assert (order.recipient_id, order.email, order.state) == (
        "UANA",
        "ana@example.com",
        "pending_approval",
    )

    # Over the auto-approve limit (none here): the approvers are asked, as from /reward.
    approval = stack.approval_message("R-1")
    assert "<@UREQUESTER> is sending *Amazon.com eGift Card* (25 USD) to <@UANA>" in (
        stack.slack.plain_text(approval)
    )
    stack.driver.click("UAPPROVER", "approve_request", message=approval)
    wait_for(lambda: order_states(stack, 1) == ["delivered"])
    assert [o["poNumber"] for o in xo.orders()] == [order.po_number]  # exactly one order
    wait_for(
        lambda: any(
            "received a reward" in stack.slack.plain_text(m) for m in stack.slack.dms("UANA")
        )
    )


def test_each_kind_takes_the_detail_it_needs_from_the_input_of_the_same_name(
    stack: LocalStack,
) -> None:
    miles = {"recipient": "UBEN", "reward_type": "airmiles", "product_id": 15365, "amount": 50}
    topup = {"recipient": "UCHO", "reward_type": "topup", "product_id": 55133, "amount": 199}
    assert run(stack, {**miles, "loyalty_member_id": "EK-324523423"})["state"] == "completed"
    assert run(stack, {**topup, "phone": "+919876543210"})["state"] == "completed"
    db = stack.bot.runtime.database
    [miles_order], [topup_order] = order_store.for_request(db, 1), order_store.for_request(db, 2)
    assert (miles_order.reward_type, miles_order.details) == (
        "airmiles",
        {"loyalty_member_id": "EK-324523423"},
    )
    assert (topup_order.reward_type, topup_order.details) == ("topup", {"phone": "+919876543210"})
    refused = run(stack, {**topup, "phone": "98575 35678"})
    assert refused["error"].startswith("Phone number: Write the phone number in international")


def test_their_choice_needs_no_product(stack: LocalStack) -> None:
    """reward_type choice: an amount in the wallet's currency; the recipient chooses."""
    done = run(stack, {"recipient": "UCHO", "reward_type": "choice", "amount": 40})
    assert done["state"] == "completed", done
    assert done["outputs"]["state"] == "pending_approval"
    assert (done["outputs"]["cost"], done["outputs"]["currency"]) == (40, "USD")
    [order] = order_store.for_request(stack.bot.runtime.database, 1)
    assert (order.reward_type, order.product_name, order.cost_estimate) == (
        "choice",
        "Their choice",
        Decimal(40),
    )
    tiny = run(stack, {"recipient": "UCHO", "reward_type": "choice", "amount": 1})
    assert tiny["error"] == (
        "Amount: No gift card in the catalog costs 1 USD or less; give a larger amount."
    )


REFUSALS: list[tuple[str, dict[str, Any], str | None, str]] = [
    (
        "unknown kind",
        {"reward_type": "voucher"},
        "UREQUESTER",
        "Kind of reward: Unknown reward type 'voucher' (use gift_card, airmiles, charity, topup, "
        "choice).",
    ),
    (
        "not in the catalog",
        {"product_id": 99999},
        "UREQUESTER",
        "Product ID: Product 99999 is not in the Xoxoday catalog.",
    ),
    (
        "another kind's product",
        {"product_id": 15365},
        "UREQUESTER",
        "Product ID: Emirates Skywards Miles (15365) is listed under Airline miles, not Gift card.",
    ),
    (
        "an amount the product does not take",
        {"amount": 30},
        "UREQUESTER",
        "Amount: Amazon.com eGift Card comes in 10, 25, 50, 100 USD, not 30.",
    ),
    (
        "an amount written with three decimals",
        {"amount": 25.125},
        "UREQUESTER",
        "Amount: Write the amount like 25 or 25.50 (digits, a dot before the cents; "
        "no commas, spaces or other separators).",
    ),
    (
        "a recipient without email",
        {"recipient": "UNOMAIL"},
        "UREQUESTER",
        "Recipient: Noor Haddad has no email the bot can see (it is needed for the order).",
    ),
    (
        "a reward to oneself",
        {"recipient": "UREQUESTER"},
        "UREQUESTER",
        "Recipient: You cannot send a reward to yourself.",
    ),
    (
        "miles without the loyalty ID",
        {"reward_type": "airmiles", "product_id": 15365, "amount": 50},
        "UREQUESTER",
        "Loyalty member ID: Enter the recipient's loyalty member ID.",
    ),
    ("nobody ran it (a schedule)", {}, None, NO_RUNNER),
    (
        "someone else's budget",
        {"requester": "UAPPROVER"},
        "UREQUESTER",
        "Requester: a reward is paid from the budget of the person who ran the workflow, "
        "so Requester must be them or empty.",
    ),
]


def test_each_refusal_fails_the_step_with_its_sentence_and_records_nothing(
    stack: LocalStack,
) -> None:
    for name, inputs, runner, sentence in REFUSALS:
        done = run(stack, inputs, runner)
        assert (done["state"], done["error"]) == ("failed", sentence), name
    assert requests(stack) == []
    assert stack.slack.calls("functions.completeSuccess") == []
    # the requester named explicitly is fine when it is the person who ran the workflow
    assert run(stack, {"requester": "UREQUESTER"})["outputs"]["request_ref"] == "R-1"


def test_policy_limits_apply_and_a_workflow_request_always_waits_for_an_approver(
    make_stack: Callable[..., LocalStack],
) -> None:
    """The step's reward was chosen by the workflow's author, not by the person whose budget
    pays (whoever ran it): within the auto-approve limit too, an approver looks at it, told
    where it came from (review finding: a shared link that rewards its author would otherwise
    spend every clicker's budget unseen)."""
    stack = make_stack(
        rewards_auto_approve_max="20", rewards_monthly_budget="50", rewards_max_order="40"
    )
    small = run(
        stack, {"recipient": "UCHO", "reward_type": "charity", "product_id": 40001, "amount": 10}
    )
    assert (small["outputs"]["request_ref"], small["outputs"]["state"]) == (
        "R-1",
        "pending_approval",
    )
    ask = stack.approval_message("R-1")
    assert "Asked by a Workflow Builder step that <@UREQUESTER> ran" in stack.slack.plain_text(ask)
    # No automatic approval follows: it was recorded as not approvable automatically (what
    # sends a request to automatic approval, at once or after a restart).
    [created] = [
        e
        for e in event_store.for_request(stack.bot.runtime.database, 1)
        if e.kind == EventKind.REQUEST_CREATED
    ]
    assert created.data["auto_approvable"] is False
    assert requests(stack)[0].state == "pending_approval" and not requests(stack)[0].auto_approved
    assert order_states(stack, 1) == ["pending_approval"]
    stack.driver.click("UAPPROVER", "approve_request", message=ask)
    wait_for(lambda: order_states(stack, 1) == ["delivered"])
    # Over the limit: the same.
    assert run(stack, {})["outputs"]["state"] == "pending_approval"
    stack.approval_message("R-2")
    # The single-order limit and the requester's monthly budget refuse before recording.
    over = run(stack, {"amount": 50})
    assert over["error"].startswith("Amount: Amazon.com eGift Card for Ana Silva costs ")
    assert "over the 40 USD limit for a single order" in over["error"]
    budget = run(stack, {})
    assert "monthly budget is left" in budget["error"] and budget["error"].startswith("Amount: ")
    assert len(requests(stack)) == 2


def test_a_replayed_event_creates_nothing_new_and_is_answered_once(
    stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.workflow_steps")
    caplog.set_level(logging.INFO, logger="handlers.workflow_consent")
    response, body = stack.driver.run_step("send_reward", GIFT, runner="UREQUESTER")
    execution_id = body["event"]["function_execution_id"]
    _what, ask = asked_or_ended(stack, "UREQUESTER", execution_id)
    # Slack retries an event it thinks was not received: same event id, same execution.
    again = stack.driver.send_event(body, retry_num=1, retry_reason="http_timeout")
    assert response.status_code == again.status_code == 200
    wait_for(lambda: "its runner was asked already" in caplog.text)  # not asked twice
    assert len([m for m in stack.slack.dms("UREQUESTER") if consent_ask_in(m, execution_id)]) == 1
    assert requests(stack) == []  # nothing before Send
    stack.driver.click("UREQUESTER", "consent_send", message=ask)
    assert ended(stack, execution_id)["state"] == "completed"
    stack.driver.send_event(body, retry_num=2, retry_reason="http_timeout")  # after the answer
    wait_for(lambda: "answered already" in caplog.text)
    assert len(requests(stack)) == 1
    assert len(stack.slack.calls("functions.completeSuccess")) == 1


def test_a_replay_while_the_click_is_answering_leaves_the_answer_to_the_click(
    stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    """The instant between the click's completeSuccess and its `sent` (a clean-clone CI run
    met it): a replay then must not complete the step again (Slack refuses: token_revoked)."""
    caplog.set_level(logging.INFO, logger="handlers.workflow_steps")
    _response, body = stack.driver.run_step("send_reward", GIFT, runner="UREQUESTER")
    execution_id = body["event"]["function_execution_id"]
    _what, ask = asked_or_ended(stack, "UREQUESTER", execution_id)
    stack.driver.click("UREQUESTER", "consent_send", message=ask)
    assert ended(stack, execution_id)["state"] == "completed"
    wait_for(lambda: (c := stack.bot.runtime.consents.get(execution_id)) and c.state == "sent")
    stack.bot.runtime.database.execute(  # as it stands in that instant
        "UPDATE workflow_consents SET state = 'sending' WHERE execution_id = ?", [execution_id]
    )
    stack.driver.send_event(body, retry_num=1, retry_reason="http_timeout")
    wait_for(lambda: "answered already (by a click)" in caplog.text)
    assert len(stack.slack.calls("functions.completeSuccess")) == 1
    assert "token_revoked" not in caplog.text
    assert len(requests(stack)) == 1


def consent_ask_in(message: dict[str, Any], execution_id: str) -> bool:
    return any(
        execution_id in [e.get("value") for e in block.get("elements") or []]
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
    )


def test_send_again_answers_a_step_whose_completion_was_lost_with_the_same_request(
    stack: LocalStack,
) -> None:
    # Slack fails the call when the bot completes the step ...
    stack.slack.fail_next("functions.completeSuccess", status=200, error="internal_error")
    execution_id = start(stack, GIFT, "UREQUESTER")
    _what, ask = asked_or_ended(stack, "UREQUESTER", execution_id)
    stack.driver.click("UREQUESTER", "consent_send", message=ask)
    wait_for(lambda: len(stack.slack.calls("functions.completeSuccess")) == 1)
    assert stack.slack.execution(execution_id)["state"] == "running"
    # ... the DM still has its buttons: Send again answers with the request recorded first.
    again = consent_ask(stack, "UREQUESTER", execution_id)
    assert again is not None
    stack.driver.click("UREQUESTER", "consent_send", message=again)
    done = ended(stack, execution_id)
    assert done["outputs"]["request_ref"] == "R-1"
    assert len(requests(stack)) == 1


def test_reward_status_tells_those_who_may_see_the_request(
    stack: LocalStack, xo: SimControl
) -> None:
    assert run(stack, {})["state"] == "completed"

    def status(runner: str | None, ref: str = "R-1") -> dict[str, Any]:
        return run_step(stack, "reward_status", {"request_ref": ref}, runner)

    for reader in ("UREQUESTER", "UAPPROVER", "UANA"):  # requester, an approver, the recipient
        assert status(reader)["outputs"] == {"state": "pending_approval"}, reader
    refused = status("UOTHER")
    assert refused["error"] == (
        "There is no request R-1 that the person who ran this workflow may see."
    )
    assert status("UOTHER", "R-99")["error"] == refused["error"].replace("R-1", "R-99")
    assert status(None)["error"] == NO_RUNNER_STATUS

    stack.driver.click("UAPPROVER", "approve_request", message=stack.approval_message("R-1"))
    wait_for(lambda: order_states(stack, 1) == ["delivered"])
    assert status("UREQUESTER")["outputs"] == {"state": "delivered"}


@pytest.fixture
def socket_stack(xo: SimControl, tmp_path: Path) -> Iterator[LocalStack]:
    app_token = "xapp-1-A0REWARDS-steps"
    slack = start_fake_slack(bot_token="xoxb-demo", app_token=app_token)
    stack = start_local_stack(
        tmp_path / "socket.db", sim=xo.running, slack=slack, xoxoday_rate_scale=0
    )
    stack.owns_slack = True
    with pytest.MonkeyPatch.context() as patch:
        for name in PROXY_VARS:  # slack_sdk's socket client would send 127.0.0.1 to a proxy
            patch.delenv(name, raising=False)
        handler = SocketModeHandler(stack.bot.app, app_token)
        handler.connect()
        try:
            assert slack.socket_connected(timeout=10)
            yield stack
        finally:
            handler.close()
            stack.stop()


def test_over_socket_mode_a_step_completes_and_a_replay_creates_nothing(
    socket_stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="handlers.workflow_steps")
    slack = socket_stack.slack
    with SocketDriver(slack) as driver:
        _ack, body = driver.run_step("send_reward", GIFT, runner="UREQUESTER")
        execution_id = body["event"]["function_execution_id"]
        _what, ask = asked_or_ended(socket_stack, "UREQUESTER", execution_id)
        driver.click("UREQUESTER", "consent_send", message=ask)  # the click over the socket
        done = ended(socket_stack, execution_id)
        assert done["outputs"]["request_ref"] == "R-1"
        driver.send_event(body, retry_num=1, retry_reason="timeout")
        wait_for(lambda: "answered already" in caplog.text)
        acks = [c.response for c in slack.calls("socket_mode_ack")]
        assert [(a["ok"], a["type"]) for a in acks].count((True, "events_api")) == 2
    socket_stack.approval_message("R-1")
    assert len(requests(socket_stack)) == 1
    assert len(slack.calls("functions.completeSuccess")) == 1
