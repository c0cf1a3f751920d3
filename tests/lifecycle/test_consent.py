"""services/consent.py on a real SQLite file: each question ends once, whichever of Send,
Don't send and the day's end comes first; only the runner answers; a click reads the clock."""

from __future__ import annotations

import pytest

from bot.runtime import Runtime
from services.consent import ConsentClosed, Consents, NotTheRunner
from storage import events
from storage.models import EventKind

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
