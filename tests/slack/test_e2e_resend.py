"""'Email my code again' end to end (issue 19): the recipient's button in their reward DM and
on their Home tab has Xoxoday email the code again (getOrderDetails sendMailToReceiver: 1),
once an hour per order, only for the recipient; anyone else, or a forged value, is refused."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bot.local import LocalStack
from handlers.metadata import OrderRef
from storage import events
from storage import orders as order_store
from tests.slack.test_e2e_home import open_home
from tests.support import SimControl, wait_for


def delivered(stack: LocalStack, *recipients: str) -> list[Any]:
    assert stack.request("UREQUESTER", list(recipients)).text == ""
    stack.driver.click("UAPPROVER", "approve_request", message=stack.approval_message("R-1"))
    database = stack.bot.runtime.database
    wait_for(lambda: {o.state for o in order_store.for_request(database, 1)} == {"delivered"})
    return order_store.for_request(database, 1)


def reward_dm(stack: LocalStack, user: str) -> dict[str, Any]:
    return wait_for(
        lambda: next(
            (m for m in stack.slack.dms(user) if "resend_code" in str(m.get("blocks"))), None
        )
    )


def answers(stack: LocalStack, user: str) -> list[str]:
    """What only `user` was told: ephemerals, and DMs without blocks (answers to a Home)."""
    said = [e["text"] for e in stack.slack.ephemerals(user)]
    return said + [m["text"] for m in stack.slack.dms(user) if not m.get("blocks")]


def emails_resent(xo: SimControl, po_number: str) -> int:
    [order] = [o for o in xo.orders() if o["poNumber"] == po_number]
    return int(order["emailsResent"])


def test_the_recipient_has_the_code_emailed_again_once_an_hour_from_the_dm(
    make_stack: Callable[..., LocalStack], xo: SimControl
) -> None:
    stack = make_stack()
    ana, ben = delivered(stack, "UANA", "UBEN")
    message = reward_dm(stack, "UANA")
    assert "Email my code again" in str(message["blocks"])

    stack.driver.click("UANA", "resend_code", message=message)
    wait_for(lambda: any("is emailing your code to" in a for a in answers(stack, "UANA")))
    assert emails_resent(xo, ana.po_number) == 1
    assert f"to {ana.email} again" in answers(stack, "UANA")[-1]

    stack.driver.click("UANA", "resend_code", message=message)  # again, at once
    wait_for(lambda: any("less than an hour ago" in a for a in answers(stack, "UANA")))
    assert emails_resent(xo, ana.po_number) == 1

    # Ben presses his own button with Ana's order in its value: refused, nothing sent.
    forged = OrderRef.of(ana).dump()
    stack.driver.click("UBEN", "resend_code", message=reward_dm(stack, "UBEN"), value=forged)
    wait_for(lambda: any("Only the person who received" in a for a in answers(stack, "UBEN")))
    assert emails_resent(xo, ana.po_number) == 1 and emails_resent(xo, ben.po_number) == 0
    stack.driver.click("UBEN", "resend_code", message=reward_dm(stack, "UBEN"), value="{}")
    wait_for(lambda: any("no longer exists" in a for a in answers(stack, "UBEN")))

    kinds = [e.kind for e in events.for_order(stack.bot.runtime.database, ana.id)]
    assert kinds.count("order.voucher_resent") == 1


def test_the_recipient_presses_it_on_the_home_tab(
    make_stack: Callable[..., LocalStack], xo: SimControl
) -> None:
    stack = make_stack()
    [ana] = delivered(stack, "UANA")
    open_home(stack, "UANA")
    wait_for(lambda: "Email my code again" in str((stack.slack.home("UANA") or {}).get("blocks")))
    requester_home = open_home(stack, "UREQUESTER")
    assert "resend_code" not in str(requester_home["blocks"])  # not theirs to press
    stack.driver.click_home("UANA", "resend_code", block_id=f"received:{ana.id}")
    wait_for(lambda: any("is emailing your code to" in a for a in answers(stack, "UANA")))
    assert emails_resent(xo, ana.po_number) == 1
