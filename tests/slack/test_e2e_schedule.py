"""Reminders, escalation and expiry end to end over loopback, with durations of seconds: the
worker's scheduler, the notification outbox, the bot's HTTP endpoint, the Slack stand-in."""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from bot.local import APPROVAL_CHANNEL, LocalStack
from storage import events
from storage import orders as order_store
from storage import requests as request_store
from tests.support import SimControl, wait_for


def request_state(stack: LocalStack, request_id: int = 1) -> str:
    request = request_store.get(stack.bot.runtime.database, request_id)
    assert request is not None
    return request.state


def first_version(message: dict[str, Any]) -> dict[str, Any]:
    """A message as it was first posted (later edits replace its text and blocks)."""
    return message["edits"][0] if message["edits"] else message


def asks(stack: LocalStack, user: str, word: str) -> list[dict[str, Any]]:
    """The DMs of `user` first posted with a text starting with `word` (⏰ Reminder,
    ⏫ Escalated), as they are now."""
    return [m for m in stack.slack.dms(user) if first_version(m)["text"].startswith(word)]


def has_buttons(message: dict[str, Any] | None) -> bool:
    return message is not None and any(b["type"] == "actions" for b in message["blocks"])


def said_to(stack: LocalStack, user: str) -> str:
    shown = [*stack.slack.dms(user), *stack.slack.ephemerals(user)]
    return "\n".join(stack.slack.plain_text(m) or m.get("text", "") for m in shown)


def test_reminders_then_expiry_release_the_budget_and_a_late_click_is_refused(
    make_stack: Callable[..., LocalStack], xo: SimControl
) -> None:
    stack = make_stack(
        rewards_remind_after="1s", rewards_expire_after="4s", rewards_monthly_budget="24.50"
    )
    assert stack.request("UREQUESTER", ["UANA"]).text == ""  # 24.50: the whole budget
    approval = stack.approval_message("R-1")
    refused = stack.request("UREQUESTER", ["UBEN"])  # nothing left this month
    assert "budget" in refused.text
    created = request_store.get(stack.bot.runtime.database, 1)
    assert created is not None

    # Each approver gets a reminder by DM, with the request and working buttons.
    wait_for(lambda: asks(stack, "UAPPROVER", "⏰") and asks(stack, "UAPPROVER2", "⏰"))
    first = asks(stack, "UAPPROVER", "⏰")[0]  # as the approver saw it, buttons and all
    assert has_buttons(first) and "Reminder 1 of 3" in stack.slack.plain_text(first)
    assert not asks(stack, "UREQUESTER", "⏰") and not asks(stack, "UANA", "⏰")

    # Expiry: released, told, and every ask loses its buttons in place.
    wait_for(lambda: request_state(stack) == "expired")
    wait_for(lambda: "expired" in said_to(stack, "UREQUESTER"))
    assert "Nothing was ordered" in said_to(stack, "UREQUESTER")
    everywhere = [approval, *asks(stack, "UAPPROVER", "⏰"), *asks(stack, "UAPPROVER2", "⏰")]
    assert len(everywhere) >= 3
    wait_for(
        lambda: not any(has_buttons(stack.slack.message(m["channel"], m["ts"])) for m in everywhere)
    )
    shown = stack.slack.message(APPROVAL_CHANNEL, approval["ts"])
    assert shown is not None and "Expired" in stack.slack.plain_text(shown) and shown["edits"]
    assert all(stack.slack.message(m["channel"], m["ts"])["edits"] for m in everywhere)  # type: ignore[index]

    # A reminder per interval, never early, never twice, at most three before expiry.
    for approver in ("UAPPROVER", "UAPPROVER2"):
        reminders = asks(stack, approver, "⏰")
        assert reminders
        numbers = [
            int(re.search(r"Reminder (\d) of 3", str(first_version(m)["blocks"])).group(1))  # type: ignore[union-attr]
            for m in reminders
        ]
        assert numbers == list(range(1, len(numbers) + 1)) and len(numbers) <= 3, numbers
        start = datetime.fromisoformat(created.created_at).timestamp()
        for number, message in zip(numbers, reminders, strict=True):
            assert float(message["ts"]) >= start + number * 1.0 - 0.05
    rounds = [
        e.data["round"]
        for e in events.for_request(stack.bot.runtime.database, 1)
        if e.kind == "request.reminded"
    ]
    assert rounds == list(range(1, len(rounds) + 1))

    # The approver clicks Approve on the reminder they still see: refused, nothing ordered.
    stack.driver.click("UAPPROVER", "approve_request", message=first)
    wait_for(lambda: "R-1 is already expired" in said_to(stack, "UAPPROVER"))
    assert request_state(stack) == "expired" and xo.orders() == []

    # The budget the request held is free: a request of the whole budget is accepted.
    assert stack.request("UREQUESTER", ["UBEN"]).text == ""
    assert request_state(stack, 2) == "pending_approval"


def test_escalation_asks_the_escalation_approvers_who_decide_from_then_on(
    make_stack: Callable[..., LocalStack], xo: SimControl
) -> None:
    stack = make_stack(
        rewards_remind_after="1h",
        rewards_escalate_after="2s",
        rewards_expire_after="1h",
        rewards_escalation_approvers=["UCHO"],
    )
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    approval = stack.approval_message("R-1")
    stack.driver.click("UCHO", "approve_request", message=approval)  # too early
    wait_for(lambda: "R-1 has not been escalated" in said_to(stack, "UCHO"))
    assert request_state(stack) == "pending_approval"

    wait_for(lambda: asks(stack, "UCHO", "⏫"))
    [escalated] = asks(stack, "UCHO", "⏫")
    assert has_buttons(escalated) and "asked too" in stack.slack.plain_text(escalated)
    assert not asks(stack, "UAPPROVER", "⏫")  # the approvers were asked already
    stack.driver.click("UCHO", "approve_request", message=escalated)
    wait_for(lambda: request_state(stack) == "approved")
    request = request_store.get(stack.bot.runtime.database, 1)
    assert request is not None and request.decided_by == "UCHO"
    wait_for(lambda: len(xo.orders()) == 1)
    wait_for(lambda: not has_buttons(stack.slack.message(escalated["channel"], escalated["ts"])))
    wait_for(
        lambda: (
            "Approved by <@UCHO>"
            in stack.slack.plain_text(stack.slack.message(APPROVAL_CHANNEL, approval["ts"]))
        )
    )
    assert len(asks(stack, "UCHO", "⏫")) == 1  # escalated once


def test_reminders_are_numbered_by_what_each_person_was_sent(
    make_stack: Callable[..., LocalStack],
) -> None:
    """Seen in `make demo`: Hana, asked when R-6 was escalated, then read "Reminder 2 of 3"
    without ever having had reminder 1. Each person's reminders count what they were sent:
    the approvers' second is 2 of 3, the escalation approver's first is 1 of 2."""
    stack = make_stack(
        rewards_remind_after="2s",
        rewards_escalate_after="3s",
        rewards_expire_after="1h",
        rewards_escalation_approvers=["UCHO"],
    )
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    wait_for(lambda: asks(stack, "UCHO", "⏫"))
    wait_for(lambda: len(asks(stack, "UAPPROVER", "⏰")) >= 2)
    wait_for(lambda: asks(stack, "UCHO", "⏰"))

    def numbers(user: str) -> list[str]:
        said = [stack.slack.plain_text(first_version(m)) for m in asks(stack, user, "⏰")]
        return [n for text in said for n in re.findall(r"Reminder (\d+ of \d+)", text)]

    assert numbers("UAPPROVER")[:2] == ["1 of 3", "2 of 3"]
    assert numbers("UCHO")[0] == "1 of 2", numbers("UCHO")


def test_the_duplicate_warning_stays_on_a_waiting_ask_after_an_update(
    make_stack: Callable[..., LocalStack],
) -> None:
    """R-2 rewards Ana again: its ask says '⚠️ @Ana was already rewarded in R-1' and what the
    requester has committed this month. Its escalation marks `asks:R2` while it waits, and
    the ask was redrawn from `approval_message(request, orders)` alone: the duplicate
    warning, the budget line and the notes were gone from the message the approver clicks
    Approve on (review finding; `make demo` step 9)."""
    stack = make_stack(
        rewards_remind_after="1h",
        rewards_escalate_after="3s",
        rewards_expire_after="2h",
        rewards_escalation_approvers=["UOTHER"],
        rewards_monthly_budget="500",
    )
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    stack.driver.click("UAPPROVER", "approve_request", message=stack.approval_message("R-1"))
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    ask = stack.approval_message("R-2")
    first = stack.slack.plain_text(ask)
    # The channel reads as anyone (services/visibility.py): the earlier request by number.
    kept = ["<@UANA> was already rewarded recently (R-1)", "has committed"]
    assert all(part in first for part in kept), first  # as first posted

    def updated() -> dict[str, Any] | None:
        current = stack.slack.message(APPROVAL_CHANNEL, ask["ts"])
        return current if current and current.get("edits") else None

    wait_for(lambda: updated() is not None)  # the escalation redrew it
    current = updated()
    assert current is not None
    now = stack.slack.plain_text(current)
    assert has_buttons(current)  # still waiting, still decidable from here
    assert all(part in now for part in kept), now


def test_a_click_after_expiry_is_refused_while_the_worker_is_stopped(
    make_stack: Callable[..., LocalStack], xo: SimControl
) -> None:
    """Issue 16, finding 6: with no scheduler running (worker stopped, standby, a long round),
    the approver's click past the expiry time was accepted and the order placed."""
    stack = make_stack(rewards_remind_after="1h", rewards_expire_after="2h")
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    approval = stack.approval_message("R-1")
    stack.bot.runtime.worker.stop()  # nothing schedules, expires or places from here on
    # Two hours and a minute later, as the stopped worker left it (the stored times moved
    # back instead of waiting them out).
    earlier = datetime.fromtimestamp(time.time() - 7260, UTC).isoformat()
    stack.bot.runtime.database.execute(
        "UPDATE requests SET waiting_since = ?, "
        "expires_at = CASE WHEN expires_at IS NULL THEN NULL ELSE ? END WHERE id = 1",
        [earlier, time.time() - 60],
    )

    stack.driver.click("UAPPROVER", "approve_request", message=approval)
    wait_for(lambda: "R-1 is already expired" in said_to(stack, "UAPPROVER"))
    assert request_state(stack) == "expired"
    orders = order_store.for_request(stack.bot.runtime.database, 1)
    assert [o.state for o in orders] == ["withdrawn"]
    assert xo.orders() == []
