"""Delivery tracking: Xoxoday's webhook (authenticated, deduplicated) and the polling fallback."""

from __future__ import annotations

import json
import time
from decimal import Decimal

from bot.runtime import Runtime
from services.delivery import poll_delay
from storage import events, ledger
from storage import orders as order_store
from tests.lifecycle.conftest import APPROVER, REQUESTER, WEBHOOK_KEY, gift, miles
from tests.support import SimControl, wait_for

KEY = WEBHOOK_KEY


def placed_pending(runtime: Runtime, *specs: object) -> list:
    decision = runtime.rewards.create(REQUESTER, list(specs) or [miles()])  # type: ignore[arg-type]
    runtime.rewards.approve(decision.request.id, APPROVER)
    runtime.worker.run(until_idle=True)
    orders = order_store.for_request(runtime.database, decision.request.id)
    assert all(o.state == "placed" for o in orders)
    return orders


def hook(order, status: str = "delivered", webhook_id: int = 1001) -> bytes:  # type: ignore[no-untyped-def]
    return json.dumps(
        {
            "id": webhook_id,
            "data": {
                "orderId": order.xoxoday_order_id,
                "poNumber": order.po_number,
                "orderDate": "2026-11-22 10:00:00",
                "deliveryStatus": status,
            },
            "createdAt": "2026-11-22 10:05:00",
        }
    ).encode()


def test_wrong_or_missing_key_is_refused_and_changes_nothing(runtime: Runtime) -> None:
    [order] = placed_pending(runtime)
    assert runtime.webhooks.handle({}, hook(order)) == (401, {"error": "invalid x-api-key"})
    assert runtime.webhooks.handle({"x-api-key": KEY + "x"}, hook(order))[0] == 401
    assert runtime.webhooks.handle({"x-api-key": KEY[:-1]}, hook(order))[0] == 401
    assert order_store.get(runtime.database, order.id).state == "placed"  # type: ignore[union-attr]
    assert runtime.database.scalar("SELECT COUNT(*) FROM webhooks") == 0


def test_webhook_delivers_and_a_repeat_is_applied_once(runtime: Runtime) -> None:
    [order] = placed_pending(runtime)
    assert runtime.webhooks.handle({"x-api-key": KEY}, hook(order, "Delivered")) == (
        200,
        {"status": "applied"},
    )
    assert runtime.webhooks.handle({"x-api-key": KEY}, hook(order, "Delivered")) == (
        200,
        {"status": "duplicate"},
    )
    assert order_store.get(runtime.database, order.id).state == "delivered"  # type: ignore[union-attr]
    delivered = [
        e for e in events.for_order(runtime.database, order.id) if e.kind == "order.delivered"
    ]
    assert len(delivered) == 1 and delivered[0].actor == "xoxoday-webhook"


def test_canceled_delivery_refunds_the_requesters_budget(runtime: Runtime, xo: SimControl) -> None:
    [order] = placed_pending(runtime)
    month = runtime.rewards._month()
    assert ledger.spent(runtime.database, REQUESTER, month) == Decimal("50")
    xo.deliver(order.po_number, "canceled")  # Xoxoday refunds the wallet…
    status, body = runtime.webhooks.handle({"x-api-key": KEY}, hook(order, "cancelled", 2002))
    assert (status, body) == (200, {"status": "applied"})
    assert order_store.get(runtime.database, order.id).state == "canceled"  # type: ignore[union-attr]
    assert ledger.spent(runtime.database, REQUESTER, month) == 0  # …and we refund the budget
    kinds = runtime.database.query(
        "SELECT kind FROM budget_ledger WHERE order_id = ? ORDER BY id", [order.id]
    )
    assert [k["kind"] for k in kinds] == ["reserve", "refund"]  # charged exactly the estimate


def test_webhook_body_errors_and_unknown_orders_are_answered_without_harm(runtime: Runtime) -> None:
    [order] = placed_pending(runtime)
    headers = {"x-api-key": KEY}
    assert runtime.webhooks.handle(headers, b"not json")[0] == 400
    assert runtime.webhooks.handle(headers, b'{"id": 5, "data": {}}')[0] == 400
    stranger = order.model_copy(update={"po_number": "PO-NOT-OURS", "xoxoday_order_id": 1})
    assert runtime.webhooks.handle(headers, hook(stranger, webhook_id=9)) == (
        200,
        {"status": "unknown_order"},
    )
    assert runtime.webhooks.handle(headers, hook(order, "pending", 10))[1]["status"] == "ignored"
    assert order_store.get(runtime.database, order.id).state == "placed"  # type: ignore[union-attr]


def test_webhook_before_our_record_is_applied_once_the_order_is_placed(runtime: Runtime) -> None:
    decision = runtime.rewards.create(REQUESTER, [miles()])
    runtime.rewards.approve(decision.request.id, APPROVER)
    [queued] = order_store.for_request(runtime.database, decision.request.id)
    early = queued.model_copy(update={"xoxoday_order_id": None})
    assert runtime.webhooks.handle({"x-api-key": KEY}, hook(early, "delivered", 3003)) == (
        200,
        {"status": "deferred"},
    )
    runtime.worker.run(until_idle=True)
    assert order_store.get(runtime.database, queued.id).state == "delivered"  # type: ignore[union-attr]


def test_polling_settles_an_order_whose_webhook_never_came(
    runtime: Runtime, xo: SimControl
) -> None:
    orders = placed_pending(runtime, miles("a@example.com"), gift("b@example.com", product=31002))
    xo.config(webhook_enabled=False)  # Xoxoday disabled our webhook
    for order in orders:
        xo.deliver(order.po_number, "delivered")

    def polled_until_delivered() -> bool:
        runtime.worker.step()
        runtime.worker.drain()
        return all(order_store.get(runtime.database, o.id).state == "delivered" for o in orders)  # type: ignore[union-attr]

    wait_for(polled_until_delivered, interval=0.05)  # rounds until the polls find both
    assert [order_store.get(runtime.database, o.id).state for o in orders] == [
        "delivered",
        "delivered",
    ]  # type: ignore[union-attr]
    polled = [
        e
        for o in orders
        for e in events.for_order(runtime.database, o.id)
        if e.kind == "order.delivered"
    ]
    assert all(e.actor and e.actor.endswith(":poll") for e in polled)


def test_polling_backs_off_while_still_pending(runtime: Runtime) -> None:
    """Each empty poll puts the next one further off: poll n waits poll_delay(n), which
    doubles (0.05 s first here). Checked between the clock readings either side of each poll,
    which hold however long a loaded machine takes over it (the old check compared two
    absolute times, true whatever the delays)."""
    [order] = placed_pending(runtime)
    runtime.worker.drain()  # a poll the placing rounds started has finished before this
    first = runtime.delivery.poll_first_s
    assert poll_delay(1, first) < poll_delay(2, first) < poll_delay(3, first)
    # On a busy machine the placing rounds can outlast the first poll's 0.05 s and poll once
    # already (a make test run met it): the three forced polls are counted from there.
    polled = order_store.get(runtime.database, order.id).polls  # type: ignore[union-attr]
    for n in range(polled + 1, polled + 4):
        runtime.database.execute("UPDATE orders SET next_poll_at = 0 WHERE id = ?", [order.id])
        began = time.time()
        runtime.worker.step()
        runtime.worker.drain()  # polls run on the worker's pool
        ended = time.time()
        after = order_store.get(runtime.database, order.id)
        assert after is not None and after.state == "placed" and after.polls == n
        assert after.next_poll_at is not None
        assert began + poll_delay(n, first) <= after.next_poll_at <= ended + poll_delay(n, first)


def test_a_webhook_for_an_order_marked_failed_raises_an_alert(runtime: Runtime) -> None:
    decision = runtime.rewards.create(REQUESTER, [gift(product=31006, amount="500")])  # KYC refusal
    runtime.rewards.approve(decision.request.id, APPROVER)
    runtime.worker.run(until_idle=True)
    [order] = order_store.for_request(runtime.database, decision.request.id)
    assert order.state == "failed"
    answer = runtime.webhooks.handle({"x-api-key": KEY}, hook(order, "delivered", 4004))
    assert answer == (200, {"status": "ignored"})
    alerts = runtime.database.query("SELECT reason FROM events WHERE kind = 'system.alert'")
    assert alerts and "marked it failed" in alerts[0]["reason"]
