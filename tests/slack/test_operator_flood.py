"""Issue 16, finding 11, end to end: one member pressing Enter in the top-up phone field 120
times, then another member typing their number once. The second member's operator note must
not wait behind the first one's presses, and the company's Xoxoday account is asked a few
times, not 121."""

from __future__ import annotations

from bot.local import LocalStack
from tests.support import SimControl, wait_for

TOPUP_PLAN = 55133  # Airtel India Prepaid, ₹199


def topup_form(stack: LocalStack, user: str) -> str:
    view_id = stack.open_form(user)
    stack.choose(user, view_id, "topup", TOPUP_PLAN)
    return view_id


def test_one_members_enter_presses_never_delay_anothers_operator_check(
    stack: LocalStack, xo: SimControl
) -> None:
    flood_view = topup_form(stack, "UBEN")
    other_view = topup_form(stack, "UANA")
    xo.config(latency_ms=100)  # each lookup takes Xoxoday a moment
    before = xo.calls("lookupMobileNumber")
    for i in range(120):
        pressed = stack.driver.select("UBEN", flood_view, "phone", "phone", f"+9198575{i:05d}")
        assert pressed.status_code == 200

    stack.driver.select("UANA", other_view, "phone", "phone", "+12125551234")

    def noted() -> int | None:
        shown = str(stack.slack.view(other_view)["blocks"])
        return xo.calls("lookupMobileNumber") - before if "is on *Verizon*" in shown else None

    asked = wait_for(noted)
    assert asked <= 1 + 10 + 1, f"{asked} lookups went before UANA's"
    # UBEN's flood started at most 10 lookups this minute (the number typed last waits for
    # the next minute; the ones typed over are never asked), and UBEN sees what was found.
    assert xo.calls("lookupMobileNumber") - before <= 10 + 1
    wait_for(lambda: "is on *Airtel*" in str(stack.slack.view(flood_view)["blocks"]))
