"""Issue 16, finding 11: operator lookups, at most one in flight and 10 a minute per member,
cached per number for a day, so one member's presses never delay another's.

The attack: 120 Enter presses in the top-up phone field put another member's check 120 s
behind, with 121 Xoxoday calls on the company account."""

from __future__ import annotations

from concurrent.futures import Future

from services.operators import OperatorCheck
from services.xoxoday.client import XoxodayClient
from services.xoxoday.models import MobileOperator
from tests.support import HANG_S, SimControl


def numbers(count: int) -> list[str]:
    return [f"+9198575{i:05d}" for i in range(count)]


def test_one_members_flood_never_delays_another(xo: SimControl, client: XoxodayClient) -> None:
    xo.config(latency_ms=100)  # each lookup takes Xoxoday a moment
    check = OperatorCheck(client)
    before = xo.calls("lookupMobileNumber")
    flood = [check.lookup_later(n, member="UFLOOD") for n in numbers(120)]
    other = check.lookup_later("+12125551234", member="UOTHER")
    assert other is not None
    found = other.result(timeout=HANG_S)
    assert isinstance(found, MobileOperator) and found.operator == "Verizon"
    # The other member's answer came after at most the flooder's one lookup in flight (and the
    # few more their minute allows), never after the 120 they queued.
    assert xo.calls("lookupMobileNumber") - before <= 1 + 10

    # The flooder gets an answer for what they typed last; the numbers typed over are dropped.
    last = flood[-1]
    assert last is not None and isinstance(last.result(timeout=HANG_S), MobileOperator)
    # One in flight per member: the last was asked only after every earlier one was settled.
    # Typed over before it was asked: None. One whose turn came first (on a loaded machine the
    # 120 presses outlast a lookup) was asked, within the member's minute.
    superseded = [f for f in flood[1:-1] if f is not None]
    assert all(f.done() for f in superseded)
    asked = [f for f in superseded if f.result() is not None]
    assert all(isinstance(f.result(), MobileOperator) for f in asked)
    assert len(asked) <= 10 - 2  # the first and the last were asked too
    assert xo.calls("lookupMobileNumber") - before <= 10 + 1  # 10 a minute for UFLOOD


def test_a_number_is_asked_once_a_day_and_ten_a_minute_per_member(
    xo: SimControl, client: XoxodayClient
) -> None:
    now = [1000.0]
    check = OperatorCheck(client, clock=lambda: now[0])
    before = xo.calls("lookupMobileNumber")
    for _ in range(30):
        pending = check.lookup_later("+919857535678", member="UANA")
        assert pending is not None
        assert isinstance(pending.result(timeout=HANG_S), MobileOperator)
    assert xo.calls("lookupMobileNumber") - before == 1  # cached per number
    assert check.known("+919857535678") is not None

    # Ten different numbers one after the other: all asked; the eleventh waits for the minute.
    answers: list[Future[MobileOperator | None]] = []
    for number in numbers(12)[1:]:
        pending = check.lookup_later(number, member="UBEN")
        assert pending is not None
        answers.append(pending)
        if len(answers) <= 10:
            assert isinstance(pending.result(timeout=HANG_S), MobileOperator)
    assert xo.calls("lookupMobileNumber") - before == 1 + 10
    assert not answers[-1].done()  # the eleventh of the minute: not asked yet…
    check.lookup_later("+919857535678", member="UCHO").result(timeout=HANG_S)  # …others are
    now[0] += 61  # a minute later the waiting one goes out
    check.run_due()
    assert isinstance(answers[-1].result(timeout=HANG_S), MobileOperator)

    now[0] += 86_400 + 1  # a day later the first number is asked again
    assert check.known("+919857535678") is None
    again = check.lookup_later("+919857535678", member="UANA")
    assert again is not None and again.result(timeout=HANG_S) is not None
    assert xo.calls("lookupMobileNumber") - before == 1 + 11 + 1
