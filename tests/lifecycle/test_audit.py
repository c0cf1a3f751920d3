"""The daily audit against the simulator's books (issue 19): each kind of finding found and
alerted once, a clean day reported clean, the command line, and the schedule."""

from __future__ import annotations

import re
import threading
import time
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.runtime import Runtime
from services.audit import ALERT_LINES, Auditor, audited_day, compare, movements
from services.audit_schedule import RECHECK_S, DailyAudit
from services.xoxoday.models import HistoryOrder, PaymentRow
from storage import audit as audit_store
from storage import orders as order_store
from storage.models import OrderRow
from tests.lifecycle.conftest import APPROVER, REQUESTER, gift, sim_po_counts
from tests.support import SimControl, cli_env, rewards_bot, wait_for

DAY = date(2026, 12, 5)  # the comparison's data tests


@pytest.fixture
def today() -> date:
    """The simulator dates orders in UTC, today (a test running across midnight fails)."""
    return datetime.now(UTC).date()


def placed(runtime: Runtime, *specs: Any, settled: bool = True) -> list[OrderRow]:
    decision = runtime.rewards.create(REQUESTER, list(specs))
    runtime.rewards.approve(decision.request.id, APPROVER)
    runtime.worker.run(until_settled=settled, until_idle=not settled)
    return order_store.for_request(runtime.database, decision.request.id)


def alerts(runtime: Runtime) -> list[str]:
    rows = runtime.database.query("SELECT reason FROM events WHERE kind = 'system.alert'")
    return [row["reason"] for row in rows]


def sim(xo: SimControl, route: str, **body: Any) -> dict:
    response = httpx.post(f"{xo.running.url}/_sim/{route}", json=body)
    assert response.status_code == 200, response.text
    return response.json()


def test_a_clean_day_is_reported_clean(today: date, runtime: Runtime, xo: SimControl) -> None:
    orders = placed(runtime, gift(), gift("b@example.com", "50"), gift("c@example.com"))
    assert {o.state for o in orders} == {"delivered"}
    report = runtime.auditor.run(today, actor="test")
    assert report.clean and report.findings == []
    assert (report.xoxoday_orders, report.our_orders, report.payment_rows) == (3, 3, 3)
    assert report.lines()[-1] == "the books match"
    assert alerts(runtime) == []


def test_each_kind_of_difference_is_found_once_and_alerted_once(
    today: date, runtime: Runtime, xo: SimControl
) -> None:
    kept, lost, recharged = placed(
        runtime, gift(), gift("b@example.com"), gift("c@example.com", "50")
    )
    sim(xo, "orphan", productId=27222, denomination=100, poNumber="BY-HAND-7")
    sim(xo, "forget", poNumber=lost.po_number)
    sim(xo, "charge", poNumber=recharged.po_number, amountCharged="51.00")
    sim(xo, "topup", amount=5000)

    report = runtime.auditor.run(today, actor="test")
    by_kind = {f.kind: f for f in report.findings}
    assert sorted(by_kind) == ["charge_mismatch", "missing", "orphan", "topup"]
    assert len(report.findings) == 4 and not report.clean and report.new == 4
    orphan = by_kind["orphan"]
    assert orphan.po_number == "BY-HAND-7" and "is not in the bot's record" in orphan.message
    assert "Amazon.com eGift Card 100 USD" in orphan.message and "charged 98 USD" in orphan.message
    missing = by_kind["missing"]
    assert missing.po_number == lost.po_number and missing.order and missing.order.id == lost.id
    assert "does not have it" in missing.message
    mismatch = by_kind["charge_mismatch"]
    assert mismatch.po_number == recharged.po_number
    assert "Xoxoday charged 51 USD, the record says 49 USD" in mismatch.message
    assert by_kind["topup"].message.startswith("the wallet was topped up by 5,000 USD")
    assert kept.po_number not in " ".join(f.message for f in report.findings)

    [told] = alerts(runtime)  # the run's findings in one alert
    assert told.startswith(f"audit of {today}: 4 new findings (1 orphan, 1 missing, ")
    assert all(f.message in told for f in report.findings)
    lines = report.lines()
    assert lines[0].startswith(f"Audit of {today} (UTC) against Xoxoday: 3 order(s)")
    assert lines[-1] == "3 difference(s) and 1 wallet movement(s); 4 new, sent to the approvers"

    again = runtime.auditor.run(today, actor="test")  # found again, alerted once
    assert sorted(f.kind for f in again.findings) == sorted(by_kind) and again.new == 0
    assert again.lines()[-1].endswith("; all sent to the approvers before")
    assert len(alerts(runtime)) == 1
    assert audit_store.counts_for(runtime.database, today.isoformat()) == {
        "charge_mismatch": 1,
        "missing": 1,
        "orphan": 1,
        "topup": 1,
    }


def test_a_late_commit_after_our_re_placement_is_an_orphan(
    today: date, runtime: Runtime, xo: SimControl
) -> None:
    """The issue's first case: Xoxoday commits an order after the bot, sure after two
    lookups that it had none, placed it again with the same poNumber (the window is 1 s)."""
    # Committed right after the bot places it again, however long a loaded machine takes.
    xo.fault("placeOrder", "late_commit", commit_after_placed_again=True)
    [order] = placed(runtime, gift())
    assert order.state == "delivered" and order.attempts == 2
    assert sim_po_counts(xo) == {order.po_number: 2}
    report = runtime.auditor.run(today, actor="test")
    [orphan] = report.findings
    assert orphan.kind == "orphan" and orphan.po_number == order.po_number
    assert orphan.xoxoday_order_id != order.xoxoday_order_id
    assert "is a second order under the bot's poNumber" in orphan.message


def test_a_refund_is_posted_and_a_cancelled_order_is_no_difference(
    today: date, runtime: Runtime, xo: SimControl
) -> None:
    [order] = placed(runtime, gift(product=31002, amount="25"), settled=False)  # delayed
    assert order.state == "placed"
    xo.deliver(order.po_number, "canceled")
    runtime.worker.run(until_settled=True)
    report = runtime.auditor.run(today, actor="test")
    [refund] = report.findings
    assert refund.kind == "refund" and report.clean
    assert refund.message.startswith("Xoxoday refunded 27 USD to the wallet (Refunded, ")
    assert report.lines()[-1] == "the books match; 1 wallet movement(s) posted to the approvers"


def test_a_day_whose_history_answers_empty_is_one_alert_not_one_per_order(
    today: date, runtime: Runtime, xo: SimControl
) -> None:
    """Xoxoday may answer an empty history (PLE10022 "Failed to find order history" is read
    as none) while every order of the day is there: each order is then "missing". The
    approvers get one alert for the run, its first findings listed and the rest counted."""
    orders = placed(runtime, *(gift(f"p{n}@example.com") for n in range(ALERT_LINES + 2)))
    for order in orders:
        sim(xo, "forget", poNumber=order.po_number)
    report = runtime.auditor.run(today, actor="test")
    assert [f.kind for f in report.findings] == ["missing"] * len(orders)
    [told] = alerts(runtime)
    assert told.startswith(f"audit of {today}: {len(orders)} new findings ({len(orders)} missing)")
    assert sum(o.po_number in told for o in orders) == ALERT_LINES
    assert told.endswith(f"and 2 more: `rewards-bot audit --day {today}` lists them all")


def test_a_day_with_an_order_still_in_flight_is_audited_again_once_it_settles(
    today: date, runtime: Runtime, xo: SimControl
) -> None:
    """Xoxoday's orders under a poNumber the worker is still placing or looking up are the
    worker's, not findings; but the day is not done while there are such: the schedule
    audits it again later, and what the worker did not adopt is found then."""
    # A second order, committed late: right after the bot places it again.
    xo.fault("placeOrder", "late_commit", commit_after_placed_again=True)
    [order] = placed(runtime, gift())
    assert sim_po_counts(xo) == {order.po_number: 2}
    runtime.database.execute("UPDATE orders SET state = 'unknown' WHERE id = ?", [order.id])
    clock = Clock(midnight(today + timedelta(days=1)) + timedelta(hours=3))
    auditor = Auditor(runtime.database, runtime.client, clock=clock)
    daily = DailyAudit(runtime.database, auditor, retry_first_s=60, clock=clock)
    assert daily.tick()
    daily.wait(30)
    row = audit_store.get(runtime.database, today.isoformat())
    assert row is not None and row["state"] == "waiting", row
    assert alerts(runtime) == [] and not daily.tick()  # waits for its recheck
    assert "still being placed or looked up" in row["error"]

    runtime.database.execute("UPDATE orders SET state = 'delivered' WHERE id = ?", [order.id])
    clock.now = row["next_attempt_at"]
    assert daily.tick()
    daily.wait(30)
    assert audit_store.get(runtime.database, today.isoformat())["state"] == "done"
    [told] = alerts(runtime)
    assert "is a second order under the bot's poNumber" in told and order.po_number in told


def refund_alerts(runtime: Runtime) -> list[str]:
    return [a for a in alerts(runtime) if "refunded" in a]


def test_a_refund_already_alerted_is_not_alerted_again_with_the_next_one(
    today: date, runtime: Runtime, xo: SimControl
) -> None:
    """An operator audits the day during it (the demo does), the schedule once it is over:
    each refund reaches the approvers once (a key per day's list of refunds, refund:A then
    refund:A,B, told 81 USD refunded for 54)."""
    [first] = placed(runtime, gift(product=31002, amount="25"), settled=False)  # delayed
    xo.deliver(first.po_number, "canceled")
    runtime.worker.run(until_settled=True)
    runtime.auditor.run(today, actor="operator")  # during the day
    assert len(refund_alerts(runtime)) == 1

    [second] = placed(runtime, gift("b@example.com", product=31002, amount="25"), settled=False)
    xo.deliver(second.po_number, "canceled")
    runtime.worker.run(until_settled=True)
    runtime.auditor.run(today, actor="audit")  # the scheduled run, once the day is over

    told = refund_alerts(runtime)
    amounts = [Decimal(re.search(r"refunded ([\d.,]+) USD", a).group(1)) for a in told]  # type: ignore[union-attr]
    assert sum(amounts) == Decimal(54), told  # two refunds of 27 USD each, each told once


def test_a_refund_row_in_the_documented_shape_is_posted(
    today: date, runtime: Runtime, xo: SimControl
) -> None:
    """xoxoday-api.md §4: a cancelled delivery is refunded with a payment-report "Refunded"
    row, transaction_status "Cancelled" (§3.8: Complete or Cancelled); the simulator writes
    it so by default (refund_status)."""
    [order] = placed(runtime, gift(product=31002, amount="25"), settled=False)  # delayed
    xo.deliver(order.po_number, "canceled")
    runtime.worker.run(until_settled=True)
    rows = runtime.client.payment_history(today, today)
    assert [r.transaction_status for r in rows if r.reason == "Refunded"] == ["canceled"]
    [refund] = runtime.auditor.run(today, actor="test").findings
    assert refund.kind == "refund" and refund.message.startswith("Xoxoday refunded 27 USD")


def test_the_command_line_prints_each_finding_and_exits_1_then_0_when_clean(
    today: date, runtime: Runtime, xo: SimControl, tmp_path: Path
) -> None:
    db = Path(runtime.settings.rewards_db)
    [order] = placed(runtime, gift())
    env = cli_env(xo.base_url, db)
    clean = rewards_bot(env, "audit", "--day", today.isoformat())
    assert clean.returncode == 0, clean.stderr
    assert clean.stdout.splitlines()[-1] == "the books match"
    sim(xo, "charge", poNumber=order.po_number, amountCharged="20")
    differs = rewards_bot(env, "audit", "--day", today.isoformat())
    assert differs.returncode == 1, differs.stderr
    [line] = [x for x in differs.stdout.splitlines() if x.startswith("  charge_mismatch")]
    assert "Xoxoday charged 20 USD, the record says 24.50 USD" in line
    for bad in ("2026-13-01", "yesterday", (today + timedelta(days=1)).isoformat()):
        refused = rewards_bot(env, "audit", "--day", bad)
        assert refused.returncode == 2 and refused.stderr.count("\n") == 1
    assert "Traceback" not in refused.stderr


# --- the schedule ------------------------------------------------------------------------------


class Clock:
    def __init__(self, at: datetime) -> None:
        self.now = at.timestamp()

    def __call__(self) -> float:
        return self.now


def schedule(runtime: Runtime, clock: Clock, name: str = "audit") -> DailyAudit:
    return DailyAudit(runtime.database, runtime.auditor, name=name, retry_first_s=60, clock=clock)


def midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


def test_each_day_is_audited_once_two_hours_after_it_ends(
    today: date, runtime: Runtime, xo: SimControl
) -> None:
    clock = Clock(midnight(today + timedelta(days=1)) + timedelta(hours=1))
    daily = schedule(runtime, clock)
    assert daily.due_day(clock.now) == today - timedelta(days=1)  # today is not over yet
    clock.now += 3600  # 02:00 the next day: today is due
    other = schedule(runtime, clock, name="another-process")
    assert daily.tick()
    assert not other.tick()  # claimed by the first
    daily.wait(30)
    row = audit_store.get(runtime.database, today.isoformat())
    assert row is not None and row["state"] == "done"
    assert not daily.tick() and not other.tick()
    tomorrow_due = (midnight(today + timedelta(days=2)) + timedelta(hours=2)).timestamp()
    assert daily.next_due() == min(tomorrow_due, clock.now + RECHECK_S)  # tick reads nothing before
    # Down for three days: the days missed are audited one after the other, then none.
    clock.now += 3 * 86400
    days = []
    while daily.tick():
        daily.wait(30)
        days.append(audit_store.get(runtime.database, max_day(runtime))["day"])
    assert days == [(today + timedelta(days=n)).isoformat() for n in (1, 2, 3)]


def max_day(runtime: Runtime) -> str:
    return runtime.database.scalar("SELECT MAX(day) FROM audits WHERE state = 'done'")


def test_a_failed_audit_is_tried_again_and_alerted_after_three_failures(
    today: date, runtime: Runtime, xo: SimControl
) -> None:
    clock = Clock(midnight(today + timedelta(days=1)) + timedelta(hours=3))
    daily = schedule(runtime, clock)
    xo.fault("getOrderHistory", "http_502", times=3)
    for attempt in (1, 2, 3):
        assert daily.tick(), attempt
        daily.wait(30)
        row = audit_store.get(runtime.database, today.isoformat())
        assert row is not None and (row["state"], row["attempts"]) == ("failed", attempt)
        assert not daily.tick()  # waits for its retry
        clock.now = row["next_attempt_at"]
    [alert] = alerts(runtime)
    assert f"the audit of {today}" in alert and "failed 3 times" in alert
    assert daily.tick()
    daily.wait(30)
    assert audit_store.get(runtime.database, today.isoformat())["state"] == "done"


def test_the_running_worker_audits_the_last_complete_day_and_placement_goes_on(
    runtime: Runtime, xo: SimControl
) -> None:
    runtime.worker.idle_sleep_s = 0.05
    # Yesterday is due at once, whatever the hour (with the 2 h delay it is not until 02:00 UTC).
    assert runtime.worker.audit is not None
    runtime.worker.audit.run_after = timedelta(0)
    thread = threading.Thread(target=runtime.worker.run, daemon=True)
    thread.start()
    due = audited_day(time.time(), run_after=timedelta(0)).isoformat()  # yesterday
    wait_for(lambda: (audit_store.get(runtime.database, due) or {}).get("state") == "done")
    decision = runtime.rewards.create(REQUESTER, [gift()])
    runtime.rewards.approve(decision.request.id, APPROVER)
    wait_for(
        lambda: (
            order_store.for_request(runtime.database, decision.request.id)[0].state == "delivered"
        )
    )
    runtime.worker.stop()
    thread.join(10)
    assert xo.calls("getOrderHistory") == 1 and xo.calls("paymentHistory") == 1


def test_findings_amounts_are_exact(today: date, runtime: Runtime, xo: SimControl) -> None:
    [order] = placed(runtime, gift(amount="10"))  # 9.80 charged
    sim(xo, "charge", poNumber=order.po_number, amountCharged="9.8")  # the same amount
    assert runtime.auditor.run(today, actor="test").clean
    assert order.amount_charged == Decimal("9.80")


# --- the comparison, as data -----------------------------------------------------------------


def ours(state: str, **extra: Any) -> OrderRow:
    fields: dict[str, Any] = {
        "id": 7,
        "request_id": 3,
        "po_number": "PO-7",
        "state": state,
        "reward_type": "gift_card",
        "product_id": 27222,
        "product_name": "Amazon.com eGift Card",
        "denomination": "25",
        "product_currency": "USD",
        "xoxoday_order_id": 900,
        "amount_charged": "24.50",
        "wallet_currency": "USD",
        "created_at": f"{DAY}T10:00:00.000+00:00",
        "updated_at": f"{DAY}T10:00:00.000+00:00",
        "placed_at": f"{DAY}T10:00:01.000+00:00",
        **extra,
    }
    return OrderRow.model_validate(fields)


def theirs(status: str = "delivered", **extra: Any) -> HistoryOrder:
    fields: dict[str, Any] = {
        "orderId": 900,
        "orderDate": f"{DAY} 10:00:01",
        "poNumber": "PO-7",
        "deliveryStatus": status,
        "amountCharged": 24.5,
        "currencyCode": "USD",
        "products": [{"productName": "Amazon.com eGift Card", "price": 25, "currency": "USD"}],
        **extra,
    }
    return HistoryOrder.model_validate(fields)


@pytest.mark.parametrize(
    ("record", "xoxoday", "kinds", "says"),
    [
        (ours("delivered"), theirs(), [], ""),
        (ours("canceled"), theirs("Cancelled"), [], ""),
        (ours("delivered"), theirs("cancelled"), ["charge_mismatch"], "Xoxoday gave the money"),
        (ours("canceled"), theirs(), ["charge_mismatch"], "the record gave the money back"),
        (ours("placed"), theirs("cancelled"), [], ""),  # not final here yet: the worker's
        (ours("delivered"), theirs(currencyCode="INR"), ["charge_mismatch"], "charged in INR"),
        (ours("delivered", amount_charged=None), theirs(), ["charge_mismatch"], "says no charge"),
        (ours("failed", xoxoday_order_id=None), theirs(), ["orphan"], "is failed in the bot's"),
        (ours("unknown", xoxoday_order_id=None), theirs(), [], ""),  # being looked up
        (ours("withdrawn", xoxoday_order_id=None), theirs(), ["orphan"], "withdrawn"),
    ],
)
def test_compare(record: OrderRow, xoxoday: HistoryOrder, kinds: list[str], says: str) -> None:
    placed_today = [record] if record.xoxoday_order_id else []
    found = compare(DAY, [xoxoday], placed_today, {record.po_number: record})
    assert [f.kind for f in found] == kinds
    assert all(says in f.message for f in found)


def test_an_order_dated_another_day_is_that_days_but_still_matches_ours() -> None:
    """Xoxoday may date an order in its own time zone: a neighbour day's entry matches ours,
    and its orphans are that day's."""
    late = theirs(orderDate=f"{DAY + timedelta(days=1)} 04:00:00")
    assert compare(DAY, [late], [ours("delivered")], {"PO-7": ours("delivered")}) == []
    stranger = theirs(orderId=901, poNumber="HAND", orderDate=f"{DAY + timedelta(days=1)} 04:00")
    assert compare(DAY, [stranger], [], {}) == []
    assert [f.kind for f in compare(DAY + timedelta(days=1), [stranger], [], {})] == ["orphan"]


def test_wallet_movements() -> None:
    rows = [
        PaymentRow(
            reason="Brand Voucher(s) Issued", adjusted_amount=Decimal(25), invoice_number="A"
        ),
        PaymentRow(reason="Funds added", adjusted_amount=Decimal(5000), invoice_number="B"),
        PaymentRow(
            reason="Funds added", adjusted_amount=Decimal(1), transaction_status="Cancelled"
        ),
        PaymentRow(reason="Refunded", adjusted_amount=Decimal("24.50"), invoice_number="C"),
        # The documented shape (xoxoday-api.md §4): the refund of a cancelled delivery.
        PaymentRow(
            reason="Refunded",
            adjusted_amount=Decimal(10),
            invoice_number="D",
            transaction_status="Cancelled",
        ),
        PaymentRow(reason="Funds adjusted", adjusted_amount=Decimal(100), invoice_number="E"),
    ]
    found = movements(rows, "USD")
    assert [(f.kind, f.key) for f in found] == [
        ("topup", "topup:B"),
        ("refund", "refund:C"),
        ("refund", "refund:D"),
        ("adjustment", "adjustment:E"),
    ]
    assert found[0].message.startswith("the wallet was topped up by 5,000 USD")
    assert found[1].message == (
        f"Xoxoday refunded 24.50 USD to the wallet (Refunded, {rows[3].date}, invoice C)"
    )
    assert found[2].message.startswith("Xoxoday refunded 10 USD to the wallet")
