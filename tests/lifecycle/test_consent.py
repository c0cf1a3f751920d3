"""services/consent.py on a real SQLite file: each question ends once, whichever of Send,
Don't send and the day's end comes first; only the runner answers; a click reads the clock;
a Send that failed unexpectedly is not left open for ever."""

from __future__ import annotations

import pytest

from bot.runtime import Runtime
from services.consent import ANSWER_WITHIN_S, ConsentClosed, Consents, NotTheRunner, request_key
from storage import events
from storage.models import EventKind
from tests.lifecycle.conftest import gift

INPUTS = {"recipient": "UANA", "amount": 25}


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


def consents(runtime: Runtime) -> tuple[Consents, Clock]:
    clock = Clock()
    return Consents(runtime.database, clock=clock), clock


def test_send_and_dont_send_end_a_question_once(runtime: Runtime) -> None:
    service, _clock = consents(runtime)
    service.ask("Fx1", "UBEN", INPUTS)
    assert service.ask("Fx1", "UBEN", INPUTS).new is False  # a replay asks nothing new
    with pytest.raises(NotTheRunner):
        service.claim_send("Fx1", "UCHO")
    assert service.claim_send("Fx1", "UBEN").state == "sending"
    with pytest.raises(ConsentClosed, match="it was sending already"):
        service.decline("Fx1", "UBEN")  # too late: Send won
    assert service.claim_send("Fx1", "UBEN").state == "sending"  # pressed again after a crash
    service.sent("Fx1", 7, "R-7")
    assert service.get("Fx1").state == "sent" and service.get("Fx1").request_id == 7  # type: ignore[union-attr]

    service.ask("Fx2", "UBEN", INPUTS)
    assert service.decline("Fx2", "UBEN").state == "declined"
    with pytest.raises(ConsentClosed, match="it was declined already"):
        service.claim_send("Fx2", "UBEN")


def test_the_day_ends_a_question_once_and_a_late_click_reads_the_clock(runtime: Runtime) -> None:
    service, clock = consents(runtime)
    service.ask("Fx1", "UBEN", INPUTS)
    service.ask("Fx2", "UBEN", INPUTS)
    clock.now += 86_400 - 1
    assert service.expire_due() == 0
    clock.now += 1
    with pytest.raises(ConsentClosed, match="nobody pressed Send within a day"):
        service.claim_send("Fx1", "UBEN")  # no scheduler ran: the click expires it
    assert service.expire_due() == 1  # Fx2; Fx1 is expired already
    assert service.expire_due() == 0
    expired = [
        e
        for e in events.after(runtime.database, 0, 1000)
        if e.kind == EventKind.WORKFLOW_CONSENT_EXPIRED
    ]
    assert sorted(e.data["execution_id"] for e in expired) == ["Fx1", "Fx2"]  # once each
    assert service.get("Fx1").state == service.get("Fx2").state == "expired"  # type: ignore[union-attr]


def test_a_send_that_failed_unexpectedly_still_expires(runtime: Runtime) -> None:
    """Send claims the question (asked -> sending); when recording the request raises
    anything but a refusal (Xoxoday's catalog unreachable, a locked database, a bug), the
    runner is told something went wrong and may press Send again, but not for ever: past the
    day (and a grace for a Send still under way) the question lapses like an unanswered one,
    the step fails and the DM loses its buttons, and a press weeks later records nothing."""
    service, clock = consents(runtime)
    service.ask("Fx1", "URIYA", {"recipient": "UCHO"}, "Wx1")
    service.posted("Fx1", "DRIYA", "1.0")
    service.claim_send("Fx1", "URIYA")  # Send pressed; then recording the request raised
    clock.now += ANSWER_WITHIN_S
    assert service.expire_due() == 0  # a Send pressed just before the end may be under way
    assert service.claim_send("Fx1", "URIYA").state == "sending"  # pressed again: still open

    clock.now += ANSWER_WITHIN_S * 13  # two weeks
    assert service.expire_due() == 1
    row = service.get("Fx1")
    assert row is not None and row.state == "expired", row
    with pytest.raises(ConsentClosed):
        service.claim_send("Fx1", "URIYA")
    [lapsed] = [
        e
        for e in events.after(runtime.database, 0, 1000)
        if e.kind == EventKind.WORKFLOW_CONSENT_EXPIRED
    ]
    assert lapsed.data == {
        "execution_id": "Fx1",
        "runner": "URIYA",
        "channel": "DRIYA",
        "ts": "1.0",
        "was": "sending",
    }
    assert lapsed.reason is not None and "nothing was recorded" in lapsed.reason


def test_a_send_whose_request_was_recorded_lapses_as_sent(runtime: Runtime) -> None:
    """The request was recorded, then the step could not be told (a crash before `sent`):
    past the day the question is not expired ("nothing was recorded" would be false) but
    marked sent with its request, and the DM says so."""
    service, clock = consents(runtime)
    service.ask("Fx1", "URIYA", {"recipient": "UCHO"}, "Wx1")
    service.posted("Fx1", "DRIYA", "1.0")
    service.claim_send("Fx1", "URIYA")
    decision = runtime.rewards.create(
        "URIYA", [gift()], idempotency_key=request_key("Fx1"), source="workflow"
    )
    clock.now += ANSWER_WITHIN_S * 14
    assert service.expire_due() == 1
    row = service.get("Fx1")
    assert row is not None and (row.state, row.request_id) == ("sent", decision.request.id)
    [answered] = [
        e
        for e in events.after(runtime.database, 0, 1000)
        if e.kind == EventKind.WORKFLOW_CONSENT_ANSWERED
    ]
    assert answered.data["outcome"] == "sent" and answered.reason == decision.request.ref
