"""Issue 16, finding 1: a workflow spends the budget of whoever runs it, so it asks them first.

The attack: a member builds "🍕 Click to RSVP for Friday's lunch" followed by `send_reward` to
themselves. Each colleague who clicks becomes the runner: a request was recorded on their
budget (held at once), no message reached them, and the approvers read "<@colleague> is
sending 100 USD to <@author>". Four clicks held 392 of a 500 USD budget unseen.

Now the step DMs its runner first (Slack's pattern for a step that ends on a click: buttons
posted with the step's token, completed from the click); nothing is held or shown to
approvers until they press Send."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from bot.local import APPROVAL_CHANNEL, LocalStack
from services.consent import SENDING_GRACE_S
from storage import ledger
from storage.db import utcnow
from tests.slack.test_workflow_steps import (
    asked_or_ended,
    consent_ask,
    ended,
    requests,
    run,
    start,
)
from tests.support import wait_for

AUTHOR = "UANA"  # built the RSVP workflow, and rewards herself in it
RSVP = {
    "recipient": AUTHOR,
    "reward_type": "gift_card",
    "product_id": 27222,  # Amazon.com eGift Card
    "amount": 100,
    "message": "🍕 Thanks for the RSVP!",
}


def held(stack: LocalStack, person: str) -> Decimal:
    return ledger.spent(stack.bot.runtime.database, person, ledger.month_of(utcnow()))


def approvers_told(stack: LocalStack) -> list[dict[str, Any]]:
    asked = stack.slack.messages(APPROVAL_CHANNEL)
    for approver in ("UAPPROVER", "UAPPROVER2"):
        asked += stack.slack.dms(approver)
    return asked


def test_clicks_on_a_shared_workflow_hold_nothing_until_the_runner_presses_send(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack(rewards_monthly_budget="500")
    clicks = [start(stack, RSVP, "UBEN") for _ in range(4)]  # four RSVP clicks by Ben
    asks = [asked_or_ended(stack, "UBEN", execution)[1] for execution in clicks]
    assert all("channel" in ask for ask in asks)  # each click asked Ben, by DM
    assert requests(stack) == [] and held(stack, "UBEN") == 0
    assert approvers_told(stack) == []
    assert all(stack.slack.execution(e)["state"] == "running" for e in clicks)

    shown = stack.slack.plain_text(asks[0])
    assert "A workflow you ran wants to send a reward from your budget" in shown
    assert "Amazon.com eGift Card" in shown and "(100 USD)" in shown and "<@UANA>" in shown
    assert "It costs your budget 98 USD: 500 USD of your 500 USD are left this month" in shown
    assert "run `Wx" in shown  # which run of which workflow asks
    assert "Thanks for the RSVP" in shown  # what its author wrote

    # Don't send: the step fails with a sentence, nothing is recorded, the DM says so.
    stack.driver.click("UBEN", "consent_decline", message=asks[0])
    declined = ended(stack, clicks[0])
    assert declined["state"] == "failed"
    assert declined["error"] == (
        "Ben Okafor chose not to send it, so nothing was sent and nothing was recorded."
    )
    closed = wait_for(
        lambda: (m := stack.slack.message(asks[0]["channel"], asks[0]["ts"])) and m["edits"] and m
    )
    assert "Not sent: you chose Don't send" in stack.slack.plain_text(closed)
    assert not any(b["type"] == "actions" for b in closed["blocks"])
    assert requests(stack) == [] and held(stack, "UBEN") == 0 and approvers_told(stack) == []


def test_send_records_the_confirmed_request_and_the_approvers_read_who_confirmed_it(
    stack: LocalStack,
) -> None:
    execution = start(stack, RSVP, "UBEN")
    _what, ask = asked_or_ended(stack, "UBEN", execution)
    assert requests(stack) == []
    stack.driver.click("UBEN", "consent_send", message=ask)
    done = ended(stack, execution)
    assert done["state"] == "completed"
    [request] = requests(stack)
    assert done["outputs"] == {
        "request_ref": "R-1",
        "state": "pending_approval",
        "cost": float(request.total_cost),
        "currency": "USD",
    }
    assert (request.requester_id, request.confirmed_by, request.source) == (
        "UBEN",
        "UBEN",
        "workflow",
    )
    note = stack.slack.plain_text(stack.approval_message("R-1"))
    assert "<@UBEN> confirmed it by DM before anything was held" in note
    closed = wait_for(
        lambda: (m := stack.slack.message(ask["channel"], ask["ts"])) and m["edits"] and m
    )
    assert "Sent for approval as R-1" in stack.slack.plain_text(closed)
    # The click completed the step with the token it brought (the step's own had not lasted).
    [completion] = stack.slack.calls("functions.completeSuccess")
    assert completion.ok


def late_send(
    stack: LocalStack, caplog: pytest.LogCaptureFixture, execution: str, ask: dict[str, Any]
) -> None:
    """A late click on Send (an old copy of the DM) records and holds nothing: checked once
    the bot has decided about it (after the ack, on a thread of its own), which its log line
    says, or a request on record would."""
    caplog.set_level(logging.INFO, logger="handlers.workflow_consent")
    stack.driver.click("UBEN", "consent_send", message=ask)
    wait_for(
        lambda: (
            requests(stack)
            or any(r.getMessage().startswith(f"Send on {execution}: ") for r in caplog.records)
        )
    )
    assert requests(stack) == [] and held(stack, "UBEN") == 0


def test_no_answer_within_a_day_fails_the_step_and_records_nothing(
    stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    execution = start(stack, RSVP, "UBEN")
    _what, ask = asked_or_ended(stack, "UBEN", execution)
    # The DM's ts is on record once Slack has answered the post (a day later it always is).
    wait_for(
        lambda: stack.bot.runtime.database.scalar(
            "SELECT ts FROM workflow_consents WHERE execution_id = ?", [execution]
        )
    )
    # A day has passed (the stored time moved back instead of waiting a day).
    stack.bot.runtime.database.execute(
        "UPDATE workflow_consents SET expires_at = ? WHERE execution_id = ?",
        [time.time() - 1, execution],
    )
    expired = ended(stack, execution)  # the worker's scheduler, then the delivery room
    assert expired["state"] == "failed"
    assert expired["error"] == (
        "Nobody pressed Send within a day, so nothing was sent and nothing was recorded."
    )
    closed = wait_for(
        lambda: (m := stack.slack.message(ask["channel"], ask["ts"])) and m["edits"] and m
    )
    assert "nobody pressed Send within a day" in stack.slack.plain_text(closed)
    late_send(stack, caplog, execution, ask)


def test_a_send_that_failed_unexpectedly_fails_the_step_once_the_day_is_over(
    stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    """Send was pressed and recording raised something unexpected (the runner was told
    something went wrong and may press again): the question is `sending`. Past the day and
    its grace it lapses: the step fails, the DM loses its buttons, a late click records
    nothing."""
    execution = start(stack, RSVP, "UBEN")
    _what, ask = asked_or_ended(stack, "UBEN", execution)
    # Send's claim stayed (the stored time moved back instead of waiting a day).
    stack.bot.runtime.database.execute(
        "UPDATE workflow_consents SET state = 'sending', expires_at = ? WHERE execution_id = ?",
        [time.time() - SENDING_GRACE_S - 1, execution],
    )
    lapsed = ended(stack, execution)  # the worker's scheduler, then the delivery room
    assert lapsed["state"] == "failed"
    assert lapsed["error"] == (
        "Send was pressed but the request could not be recorded within a day, so nothing was "
        "sent and nothing was recorded."
    )
    closed = wait_for(
        lambda: (m := stack.slack.message(ask["channel"], ask["ts"])) and m["edits"] and m
    )
    assert "Send was pressed but the request could not be recorded" in stack.slack.plain_text(
        closed
    )
    assert not any(b["type"] == "actions" for b in closed["blocks"])
    late_send(stack, caplog, execution, ask)


def test_a_click_past_the_day_expires_it_though_no_scheduler_ran(stack: LocalStack) -> None:
    stack.bot.runtime.worker.stop()  # nothing expires anything from here on
    execution = start(stack, RSVP, "UBEN")
    _what, ask = asked_or_ended(stack, "UBEN", execution)
    stack.bot.runtime.database.execute(
        "UPDATE workflow_consents SET expires_at = ? WHERE execution_id = ?",
        [time.time() - 1, execution],
    )
    stack.driver.click("UBEN", "consent_send", message=ask)
    consent = wait_for(
        lambda: (c := stack.bot.runtime.consents.get(execution)) and c.state != "asked" and c
    )
    assert consent.state == "expired" and requests(stack) == []


def test_only_the_runner_answers_and_send_at_a_refused_moment_records_nothing(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack(rewards_monthly_budget="100")
    execution = start(stack, RSVP, "UBEN")
    _what, ask = asked_or_ended(stack, "UBEN", execution)
    stack.driver.click("UCHO", "consent_send", message=ask)  # someone else's button
    wait_for(
        lambda: any(
            "Only the person who ran the workflow" in (m.get("text") or "")
            for m in stack.slack.dms("UCHO")
        )
    )
    assert requests(stack) == [] and stack.slack.execution(execution)["state"] == "running"

    # Meanwhile Ben spent most of his budget: Send is refused with the reason, in the step and
    # in the DM, and nothing is recorded.
    assert run(stack, {**RSVP, "amount": 50}, "UBEN")["state"] == "completed"  # 49 USD held
    stack.driver.click("UBEN", "consent_send", message=consent_ask(stack, "UBEN", execution))
    refused = ended(stack, execution)
    assert refused["state"] == "failed" and "monthly budget is left" in refused["error"]
    assert len(requests(stack)) == 1
    closed = wait_for(
        lambda: (m := stack.slack.message(ask["channel"], ask["ts"])) and m["edits"] and m
    )
    assert "Not sent:" in stack.slack.plain_text(closed)


def test_send_pressed_before_the_ask_is_on_record_still_closes_the_dm(stack: LocalStack) -> None:
    """The runner reads the question at once, but Slack's answer to its post (the DM's ts)
    reaches the bot only after they pressed Send: the answer's event had no DM to change."""
    stack.slack.hold_conversation("UREQUESTER", done_first=True)
    execution_id = start(stack, RSVP, "UREQUESTER")
    ask = wait_for(lambda: consent_ask(stack, "UREQUESTER", execution_id))
    stack.driver.click("UREQUESTER", "consent_send", message=ask)
    assert ended(stack, execution_id)["state"] == "completed"
    consents = stack.bot.runtime.consents
    wait_for(lambda: (c := consents.get(execution_id)) and c.state == "sent")
    assert consents.get(execution_id).ts is None  # type: ignore[union-attr]  # still held
    stack.slack.release_conversation("UREQUESTER")

    def closed() -> bool:
        now = stack.slack.message(ask["channel"], ask["ts"]) or {}
        return "Sent for approval as R-1" in stack.slack.plain_text(now)

    wait_for(closed)
    now = stack.slack.message(ask["channel"], ask["ts"]) or {}
    assert all(b["type"] != "actions" for b in now["blocks"])


def test_a_send_that_recorded_its_request_but_never_completed_the_step_is_completed_later(
    stack: LocalStack,
) -> None:
    """Send recorded the request, then completing the step failed and nobody pressed Send
    again: past the day the clock finds it sent; the step is completed with its request's
    outputs (before, only the DM said so and the workflow never went on)."""
    stack.slack.fail_next("functions.completeSuccess", status=200, error="internal_error")
    execution = start(stack, RSVP, "UBEN")
    _what, ask = asked_or_ended(stack, "UBEN", execution)
    stack.driver.click("UBEN", "consent_send", message=ask)
    wait_for(lambda: len(stack.slack.calls("functions.completeSuccess")) == 1)
    assert stack.slack.execution(execution)["state"] == "running"
    assert len(requests(stack)) == 1
    stack.bot.runtime.database.execute(
        "UPDATE workflow_consents SET expires_at = ? WHERE execution_id = ?",
        [time.time() - SENDING_GRACE_S - 1, execution],
    )
    done = ended(stack, execution)  # the worker's scheduler, then the delivery room
    assert done["state"] == "completed"
    assert done["outputs"]["request_ref"] == "R-1"
    closed = wait_for(
        lambda: (m := stack.slack.message(ask["channel"], ask["ts"])) and m["edits"] and m
    )
    assert "Sent for approval as R-1" in stack.slack.plain_text(closed)
    assert len(requests(stack)) == 1
