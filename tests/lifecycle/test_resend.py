"""The recipient's "email my code again" decided in the service (services/resend.py): only the
recipient, only a delivered code with an email, once an hour per order; an answer that says
nothing was sent gives the hour back, one lost after the work does not. Against the simulator, which counts the emails it re-sent."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bot.runtime import Runtime
from services.resend import ResendRefused, VoucherResend
from storage import events
from storage import orders as order_store
from storage.models import OrderRow
from tests.lifecycle.conftest import APPROVER, REQUESTER, charity, gift
from tests.support import SimControl, cli_env, rewards_bot


class Clock:
    def __init__(self) -> None:
        self.now = 1_800_000_000.0

    def __call__(self) -> float:
        return self.now


def placed(runtime: Runtime, *specs: Any, settled: bool = True) -> list[OrderRow]:
    decision = runtime.rewards.create(REQUESTER, list(specs))
    runtime.rewards.approve(decision.request.id, APPROVER)
    runtime.worker.run(until_settled=settled, until_idle=not settled)
    return order_store.for_request(runtime.database, decision.request.id)


def resent(xo: SimControl, order: OrderRow) -> int:
    [found] = [o for o in xo.orders() if o["poNumber"] == order.po_number]
    return int(found["emailsResent"])


def test_once_an_hour_for_the_recipient_only(runtime: Runtime, xo: SimControl) -> None:
    clock = Clock()
    service = VoucherResend(runtime.database, runtime.client, clock=clock)
    [order] = placed(runtime, gift(recipient_id="UANA"))
    assert order.state == "delivered" and order.email == "ana@example.com"

    with pytest.raises(ResendRefused, match="Only the person who received"):
        service.resend(order.id, order.po_number, "UBEN")
    with pytest.raises(ResendRefused, match="no longer exists"):
        service.resend(order.id, "RB-SOME-OTHER-PO", "UANA")  # a button of another order
    assert resent(xo, order) == 0

    service.resend(order.id, order.po_number, "UANA")
    assert resent(xo, order) == 1
    clock.now += 3599
    with pytest.raises(ResendRefused, match="less than an hour ago"):
        service.resend(order.id, order.po_number, "UANA")
    clock.now += 1
    service.resend(order.id, order.po_number, "UANA")
    assert resent(xo, order) == 2


def test_a_failure_at_xoxoday_gives_the_hour_back(runtime: Runtime, xo: SimControl) -> None:
    service = VoucherResend(runtime.database, runtime.client, clock=Clock())
    [order] = placed(runtime, gift(recipient_id="UANA"))
    xo.fault("getOrderDetails", "http_502")
    with pytest.raises(ResendRefused, match="could not email your code just now"):
        service.resend(order.id, order.po_number, "UANA")
    assert resent(xo, order) == 0
    service.resend(order.id, order.po_number, "UANA")  # at once: nothing was sent before
    assert resent(xo, order) == 1


def test_an_answer_lost_after_the_email_went_does_not_give_the_hour_back(
    runtime: Runtime, xo: SimControl
) -> None:
    """Xoxoday sends the email, then its answer is lost (a 500 after the work): the hour is
    kept, or five presses inside a minute send five emails. Only an answer that says it was
    not sent (PLE10034, a refusal before the work) gives the hour back."""
    clock = Clock()
    service = VoucherResend(runtime.database, runtime.client, clock=clock)
    [order] = placed(runtime, gift(recipient_id="UANA"))
    xo.fault("getOrderDetails", "http_500_after_commit", times=5)
    with pytest.raises(ResendRefused, match="may have emailed your code") as lost:
        service.resend(order.id, order.po_number, "UANA")
    assert "Check your inbox and spam folder" in lost.value.message
    for _ in range(4):
        clock.now += 10
        with pytest.raises(ResendRefused, match="less than an hour ago"):
            service.resend(order.id, order.po_number, "UANA")
    assert resent(xo, order) == 1  # one email within the minute for one order


def test_a_refusal_that_says_nothing_was_sent_gives_the_hour_back(
    runtime: Runtime, xo: SimControl
) -> None:
    """PLE10034 ("Failed to process resendVoucher"): Xoxoday says it sent nothing, so the
    recipient may ask again at once. (The record says delivered while Xoxoday still has the
    delivery pending: it refuses to email a code it has not delivered.)"""
    service = VoucherResend(runtime.database, runtime.client, clock=Clock())
    [order] = placed(runtime, gift(recipient_id="UANA", product=31002), settled=False)
    runtime.database.execute("UPDATE orders SET state = 'delivered' WHERE id = ?", [order.id])
    with pytest.raises(ResendRefused, match="could not email your code just now"):
        service.resend(order.id, order.po_number, "UANA")
    assert resent(xo, order) == 0
    xo.deliver(order.po_number)
    service.resend(order.id, order.po_number, "UANA")  # at once: nothing was sent before
    assert resent(xo, order) == 1


def test_only_a_delivered_code_with_an_email(runtime: Runtime, xo: SimControl) -> None:
    service = VoucherResend(runtime.database, runtime.client, clock=Clock())
    [pending] = placed(runtime, gift(recipient_id="UANA", product=31002), settled=False)
    assert pending.state == "placed"
    with pytest.raises(ResendRefused, match="not delivered yet"):
        service.resend(pending.id, pending.po_number, "UANA")
    [donation] = placed(runtime, charity(), settled=False)  # delivered in the answer
    runtime.database.execute("UPDATE orders SET recipient_id = 'UCHO' WHERE id = ?", [donation.id])
    with pytest.raises(ResendRefused, match="no code"):
        service.resend(donation.id, donation.po_number, "UCHO")
    assert donation.state == "delivered"
    assert all(o["emailsResent"] == 0 for o in xo.orders())


def test_the_operators_command_keeps_the_same_hour(runtime: Runtime, xo: SimControl) -> None:
    """`rewards-bot orders resend PO` (its own process, on the same SQLite file) goes through
    the same service: once an hour per order, shared with the recipient's button, refused in
    one line that says when it may go again; each email sent is on record."""
    [order] = placed(runtime, gift(recipient_id="UANA"))
    env = cli_env(xo.base_url, Path(runtime.settings.rewards_db))
    first = rewards_bot(env, "orders", "resend", order.po_number)
    assert first.returncode == 0, first.stderr
    assert f"to {order.email} again" in first.stdout
    assert resent(xo, order) == 1

    again = rewards_bot(env, "orders", "resend", order.po_number)
    assert again.returncode == 1
    [line] = again.stderr.strip().splitlines()
    assert "less than an hour ago" in line and order.po_number in line and "UTC" in line
    assert resent(xo, order) == 1
    with pytest.raises(ResendRefused, match="less than an hour ago"):  # the button: same hour
        VoucherResend(runtime.database, runtime.client).resend(order.id, order.po_number, "UANA")
    assert resent(xo, order) == 1
    kinds = [e.kind for e in events.for_order(runtime.database, order.id)]
    assert kinds.count("order.voucher_resent") == 1

    missing = rewards_bot(env, "orders", "resend", "RB-NO-SUCH-ORDER")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == ["no order with poNumber RB-NO-SUCH-ORDER"]
