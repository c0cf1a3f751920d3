"""Issue 15: Slack answers 429 to a call made inside a listener. views.open spends a trigger_id,
which lives 3 s (slack-platform.md §7): the listener's client slept Retry-After first, so the
call could only come back expired_trigger_id, and the person saw nothing, or a reference to
the log. Now such a call is never retried after a 429, and the person reads a sentence."""

from __future__ import annotations

from bot.local import LocalStack
from tests.support import wait_for

BUSY = "Slack is busy right now"


def said(stack: LocalStack, user: str) -> str:
    shown = [*stack.slack.ephemerals(user), *stack.slack.dms(user)]
    return "\n".join(stack.slack.plain_text(m) or m.get("text", "") for m in shown)


def test_a_throttled_form_is_not_retried_and_the_person_is_told(stack: LocalStack) -> None:
    stack.slack.fail_next("views.open", times=1, status=429, retry_after=30)
    assert stack.driver.command("UREQUESTER", "").status_code == 200
    wait_for(lambda: BUSY in said(stack, "UREQUESTER"))
    told = said(stack, "UREQUESTER")
    assert "Slack is busy right now: try again in 30 seconds." in told
    assert "reference" not in told and "Traceback" not in told
    # One views.open, its 429: never a second one after Retry-After, when the trigger is dead.
    assert [c.status for c in stack.slack.calls("views.open")] == [429]

    # Slack is not busy any more: the next /reward opens the form at once.
    assert stack.open_form("UREQUESTER")


def test_a_throttled_reject_form_tells_the_approver(stack: LocalStack) -> None:
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    approval = stack.approval_message("R-1")
    since = len(stack.slack.calls("views.open"))  # the requester's form opened
    stack.slack.fail_next("views.open", times=1, status=429, retry_after=30)
    stack.driver.click("UAPPROVER", "reject_request", message=approval)
    wait_for(lambda: BUSY in said(stack, "UAPPROVER"))
    assert [c.status for c in stack.slack.calls("views.open")[since:]] == [429]
    assert "reference" not in said(stack, "UAPPROVER")
