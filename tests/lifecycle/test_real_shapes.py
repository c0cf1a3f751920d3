"""One test (or more) per row of xoxoday-api.md §12: the client, the services and the worker
against the simulator in real-shapes mode, with real SQLite files.

The random shares of the real shapes are set to 0 here and each quirk is triggered on purpose
(faults, /_sim/deliver, /_sim/status), so every test is deterministic. The window of the
worker is XOXODAY_PLACE_ORDER_TIMEOUT_S = 1 s (tests/lifecycle/conftest.py).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest

from bot.runtime import Runtime
from handlers import dm_messages, messages
from services import errors as domain
from services.notify import NOTIFIED_KINDS
from services.operators import OperatorCheck
from services.rewards import order_request, spec_from_order
from services.xoxoday import errors as xe
from simulator.xoxoday import DEMO_CREDENTIALS
from storage import events, ledger
from storage import orders as order_store
from storage import requests as request_store
from storage.models import OrderRow
from tests.lifecycle.conftest import APPROVER, REQUESTER, gift, sim_po_counts, topup
from tests.support import SimControl

REAL = {
    "real_shapes": True,
    # Every quirk on, none at random: each test triggers the one it shows. Every realtime
    # order answers processing first here (the real shapes: a share of them).
    "processing_share": 1,
    "refund_share": 0,
    "fail_share": 0,
    "partial_cancel_share": 0,
    "late_commit_share": 0,
    "redeem_failed_share": 0,
    "status_delay_s": 0.2,
}


@pytest.fixture
def real(make_runtime: Callable[..., Runtime], xo: SimControl) -> Runtime:
    xo.config(**REAL)
    return make_runtime()


def approved(runtime: Runtime, *specs: Any) -> list[OrderRow]:
    decision = runtime.rewards.create(REQUESTER, list(specs))
    runtime.rewards.approve(decision.request.id, APPROVER)
    return order_store.for_request(runtime.database, decision.request.id)


def fresh(runtime: Runtime, order: OrderRow) -> OrderRow:
    current = order_store.get(runtime.database, order.id)
    assert current is not None
    return current


def kinds(runtime: Runtime, order: OrderRow) -> list[str]:
    return [e.kind for e in events.for_order(runtime.database, order.id)]


def reasons(runtime: Runtime, order: OrderRow, kind: str) -> list[str | None]:
    return [e.reason for e in events.for_order(runtime.database, order.id) if e.kind == kind]


def alerts(runtime: Runtime) -> list[str]:
    rows = runtime.database.query("SELECT reason FROM events WHERE kind = 'system.alert'")
    return [row["reason"] for row in rows]


def spent(runtime: Runtime) -> Decimal:
    return ledger.spent(runtime.database, REQUESTER, runtime.rewards._month())


# --- row 1: exchangeRateRule is not the wallet rate; the rate comes when asked (§13 row 1) --------


def test_row01_the_rate_asked_for_prices_orders_never_the_inr_rule(
    real: Runtime, xo: SimControl
) -> None:
    amazon = real.catalog.product(27222)[1]
    flipkart = real.catalog.product(31001)[1]
    assert amazon.exchange_rate == 1 and amazon.exchange_rate_rule == Decimal("0.012")
    assert flipkart.exchange_rate == Decimal("0.012")  # other currency: its rate, as asked
    orders = approved(real, gift(amount="25"), gift("b@example.com", "500", product=31001))
    assert [o.cost_estimate for o in orders] == [Decimal("24.50"), Decimal("6.00")]
    real.worker.run(until_settled=True)
    placed = [fresh(real, o) for o in orders]
    assert [o.state for o in placed] == ["delivered", "delivered"]
    assert [o.amount_charged for o in placed] == [o.cost_estimate for o in orders]
    assert sim_po_counts(xo) == {o.po_number: 1 for o in orders}


# --- row 2: the balance is points, not value ---------------------------------------------------


def test_row02_the_wallet_balance_is_points_not_the_inr_value(
    real: Runtime, xo: SimControl
) -> None:
    xo.config(balance="100")
    real.wallet.invalidate()
    raw = real.client.get_balance()
    assert (raw.points, raw.value) == (Decimal(100), Decimal(8333))
    assert real.wallet.balance() == (Decimal(100), "USD")
    too_much = real.rewards.create(REQUESTER, [gift(amount="100"), gift("b@example.com", "100")])
    with pytest.raises(domain.InsufficientFunds, match="100 USD available"):
        real.rewards.approve(too_much.request.id, APPROVER)  # 196 > 100 (not > 8,333)
    assert xo.orders() == []
    assert alerts(real) == []  # 8,333 rupees for 100 USD: the catalog's rupee rate


def test_row02_points_and_value_no_rupee_rate_explains_raise_one_alert(
    real: Runtime, xo: SimControl
) -> None:
    """§13 row 5: both fields come and value / points matches no rupee rate of the wallet's
    currency (the catalog implies 83.33 per USD): the balance is still points, and the
    approvers hear of it once, not at every fetch."""
    xo.config(balance_inr_rate="0.5")  # value 5,000 for 10,000 USD
    assert real.wallet.balance(max_age_s=0) == (Decimal(10000), "USD")
    assert real.wallet.balance(max_age_s=0) == (Decimal(10000), "USD")
    [alert] = alerts(real)
    assert "points 10000" in alert and "value 5000" in alert and "83.33" in alert
    xo.config(balance_inr_rate="83.33")  # agrees again
    real.wallet.balance(max_age_s=0)
    xo.config(balance_inr_rate="1")  # value = points for a USD wallet: agrees (one amount)
    real.wallet.balance(max_age_s=0)
    assert len(alerts(real)) == 1
    xo.config(balance_inr_rate="200")  # disagrees again: told again
    real.wallet.balance(max_age_s=0)
    assert len(alerts(real)) == 2


# --- row 3: statuses beyond complete ------------------------------------------------------------


def test_row03_most_realtime_orders_are_delivered_in_the_answer_with_their_codes(
    real: Runtime, xo: SimControl
) -> None:
    """§13 row 3: every captured realtime answer is complete with its codes; the real shapes
    answer processing first for a share only (here none)."""
    xo.config(processing_share=0)
    orders = approved(real, gift(), gift("b@example.com"), gift("c@example.com"))
    real.worker.run(until_idle=True)  # no polling needed
    done = [fresh(real, o) for o in orders]
    assert [o.state for o in done] == ["delivered"] * 3
    assert all(o.polls == 0 for o in done)
    assert xo.calls("getOrderDetails") == 0  # nothing looked up: the answers were whole
    assert all(len(o["vouchers"]) == 1 for o in xo.orders())
    assert sim_po_counts(xo) == {o.po_number: 1 for o in orders}


def test_row03_processing_with_an_empty_delivery_status_waits_then_is_delivered(
    real: Runtime, xo: SimControl
) -> None:
    # Processing until the test settles it, and no poll before the check: however slow the
    # machine, nothing can complete between the placement and the assertions.
    xo.config(status_delay_s=3600)
    real.delivery.poll_first_s = 3600
    [order] = approved(real, gift())
    real.worker.run(until_idle=True)
    placed = fresh(real, order)
    assert (placed.state, placed.delivery_status) == ("placed", "pending")  # processing, ""
    assert xo.orders()[0]["orderStatus"] == "processing"
    xo.deliver(placed.po_number)  # Xoxoday completes it
    real.delivery.poll_first_s = 0.05
    real.worker.orders.poll(placed)  # the poll that was an hour away, now
    real.worker.run(until_settled=True)
    assert fresh(real, order).state == "delivered"
    assert kinds(real, order)[-2:] == ["order.placed", "order.delivered"]


@pytest.mark.parametrize(
    ("outcome", "reason"),
    [
        ("refunded", "Xoxoday refunded the order"),
        ("failed", "Xoxoday reports the order as failed"),
        ("canceled", "Xoxoday cancelled the delivery"),
    ],
)
def test_row03_refunded_failed_or_cancelled_at_xoxoday_ends_the_order_budget_released(
    real: Runtime, xo: SimControl, outcome: str, reason: str
) -> None:
    xo.config(status_delay_s=-1)  # settled by hand below
    [order] = approved(real, gift())
    real.worker.run(until_idle=True)
    assert spent(real) == Decimal("24.50")
    xo.deliver(order.po_number, outcome)
    real.worker.run(until_settled=True)
    ended = fresh(real, order)
    assert ended.state == "canceled" and ended.next_poll_at is None
    assert spent(real) == 0  # the budget is released
    assert reasons(real, order, "order.canceled") == [reason]
    assert "order.canceled" in NOTIFIED_KINDS  # the requester and the channel are told
    request = request_store.get(real.database, order.request_id)
    assert request is not None
    told = dm_messages.requester_update("order.canceled", request, ended, reason)
    assert told and "went back to your budget" in told


@pytest.mark.parametrize("shown_only_in_product_status", [False, True])
def test_row03_a_partial_cancel_gives_back_that_share_and_the_rest_is_delivered(
    real: Runtime, xo: SimControl, shown_only_in_product_status: bool
) -> None:
    """With cancelledQuantity, or (§13 row 4) only in productStatus: a row per unit, the
    cancelled ones "Cancelled", no cancelledQuantity; read alike."""
    xo.config(status_delay_s=-1, cancel_in_product_status=shown_only_in_product_status)
    [order] = approved(real, gift(amount="10", quantity=3))  # 3 × 10 USD, 2 % off: 29.40
    real.worker.run(until_idle=True)
    response = httpx.post(
        f"{xo.running.url}/_sim/deliver",
        json={"poNumber": order.po_number, "status": "delivered", "cancelledQuantity": 1},
    )
    assert response.status_code == 200, response.text
    real.worker.run(until_settled=True)
    ended = fresh(real, order)
    assert (ended.state, ended.cancelled_quantity) == ("delivered", 1)
    assert spent(real) == Decimal("19.60")  # 29.40 less one third
    [event] = [
        e for e in events.for_order(real.database, order.id) if e.kind == "order.partially_canceled"
    ]
    assert Decimal(str(event.data["refund"])) == Decimal("9.80")
    assert "order.partially_canceled" in NOTIFIED_KINDS
    request = request_store.get(real.database, order.request_id)
    assert request is not None
    line = messages.event_line("order.partially_canceled", ended, request, event.reason)
    assert line and "cancelled 1 of 3" in line
    real.worker.run(until_settled=True)  # a repeated answer gives nothing back twice
    assert spent(real) == Decimal("19.60")


def test_row03_an_unknown_status_is_polled_with_a_cap_then_alerted_never_forever(
    real: Runtime, xo: SimControl
) -> None:
    xo.config(status_delay_s=-1)
    real.delivery.max_odd_polls = 3
    [order] = approved(real, gift())
    real.worker.run(until_idle=True)
    httpx.post(
        f"{xo.running.url}/_sim/status",
        json={"poNumber": order.po_number, "orderStatus": "on_hold"},
    ).raise_for_status()
    before = xo.calls("getOrderDetails")
    real.worker.run(until_settled=True)  # returns: polling stopped
    stopped = fresh(real, order)
    assert (stopped.state, stopped.odd_status_polls, stopped.next_poll_at) == ("placed", 3, None)
    assert xo.calls("getOrderDetails") - before == 3
    [alert] = alerts(real)
    assert "orderStatus=on_hold" in alert and order.po_number in alert


def test_row03_a_delivery_pending_too_long_is_alerted_and_no_longer_polled(
    real: Runtime, xo: SimControl
) -> None:
    xo.config(status_delay_s=-1)  # stays processing
    real.delivery.max_pending_s = 0.3
    [order] = approved(real, gift())
    real.worker.run(until_settled=True)
    stopped = fresh(real, order)
    assert (stopped.state, stopped.next_poll_at) == ("placed", None)
    [alert] = alerts(real)
    assert "still pending" in alert


# --- row 4: the operator lookup in both shapes ---------------------------------------------------


def test_row04_operator_lookup_field_table_shape(real: Runtime, xo: SimControl) -> None:
    found = real.client.lookup_mobile_number("+919857535678")
    assert (found.operator, found.parent_product_id) == ("Airtel", 55132)
    with pytest.raises(xe.MobileLookupFailed):
        real.client.lookup_mobile_number("+442071234567")
    check = OperatorCheck(real.client)
    future = check.lookup_later("+919857535678")
    assert future is not None and future.result(timeout=10) is not None
    verizon = real.catalog.product(55141)[1]
    assert "is on Airtel, not Verizon" in (
        check.mismatch("+919857535678", verizon, "Verizon") or ""
    )
    xo.config(operator_shape="spec")
    assert real.client.lookup_mobile_number("+12125551234").parent_product_id == 55140
    [order] = approved(real, topup())
    real.worker.run(until_idle=True)
    assert fresh(real, order).state == "placed" and len(xo.orders()) == 1


# --- row 5: an expired or revoked token, in either shape ----------------------------------------


def test_row05_auth_token_error_refreshes_once_and_the_order_is_placed_once(
    real: Runtime, xo: SimControl
) -> None:
    [order] = approved(real, gift())
    xo.expire_tokens()  # now answered 401 {"success":0,"error_message_id":"auth.token_error"}
    real.worker.run(until_settled=True)
    assert fresh(real, order).state == "delivered"
    assert sim_po_counts(xo) == {order.po_number: 1}
    stored = real.database.one("SELECT refresh_token FROM tokens")
    assert stored and stored["refresh_token"] != DEMO_CREDENTIALS["refresh_token"]
    assert alerts(real) == []


def test_row05_token_error_fault_on_a_lookup(real: Runtime, xo: SimControl) -> None:
    xo.fault("placeOrder", "http_500_after_commit")
    xo.fault("getOrderDetails", "token_error")
    [order] = approved(real, gift())
    real.worker.run(until_settled=True)
    assert fresh(real, order).state == "delivered"
    assert sim_po_counts(xo) == {order.po_number: 1}


# --- row 6: the refresh rate limit is a wait -----------------------------------------------------


def test_row06_refresh_rate_limit_waits_and_is_never_reported_as_bad_credentials(
    real: Runtime, xo: SimControl
) -> None:
    real.client.default_penalty_s = 0.3  # the answer has no penaltySeconds: 60 s in production
    [order] = approved(real, gift())
    xo.expire_tokens()
    xo.fault("refreshToken", "rate_limit", http_status=400)
    real.worker.run(until_settled=True)
    ended = fresh(real, order)
    assert ended.state == "delivered" and ended.attempts == 1  # the wait was not an attempt
    assert any("rate limited" in (r or "") for r in reasons(real, order, "order.retry"))
    assert alerts(real) == []  # no "Xoxoday refused the bot's credentials"
    assert sim_po_counts(xo) == {order.po_number: 1}


# --- row 7: PLE10010 is looked up and retried ---------------------------------------------------


def test_row07_ple10010_is_looked_up_then_placed_again_with_the_same_po_number(
    real: Runtime, xo: SimControl
) -> None:
    xo.fault("placeOrder", "redeem_failed")
    [order] = approved(real, gift())
    real.worker.run(until_settled=True)
    ended = fresh(real, order)
    assert (ended.state, ended.attempts) == ("delivered", 2)
    assert sim_po_counts(xo) == {order.po_number: 1}
    history = kinds(real, order)
    assert history.index("order.unknown") < history.index("order.requeued")
    assert history.count("order.not_found") >= 2  # within the window, then two that agree


def test_row07_ple10010_fails_at_once_when_a_fresh_balance_cannot_pay(
    real: Runtime, xo: SimControl
) -> None:
    [order] = approved(real, gift())
    xo.config(balance="5")  # spent elsewhere after the approval: Xoxoday answers PLE10010
    real.worker.run(until_idle=True)
    ended = fresh(real, order)
    assert (ended.state, ended.attempts) == ("failed", 1)
    assert ended.failure_reason == "the Xoxoday wallet does not have enough balance"
    assert xo.orders() == [] and spent(real) == 0


def test_row07_ple10010_fails_only_after_the_retries(real: Runtime, xo: SimControl) -> None:
    real.worker.max_attempts = 2
    xo.fault("placeOrder", "redeem_failed", times=5)
    [order] = approved(real, gift())
    real.worker.run(until_idle=True)
    ended = fresh(real, order)
    assert (ended.state, ended.attempts) == ("failed", 2)
    assert "PLE10010" in (ended.failure_reason or "") and "tried 2 times" in (
        ended.failure_reason or ""
    )
    assert xo.orders() == [] and spent(real) == 0


# --- row 8: a 504 while Xoxoday is still placing the order --------------------------------------


def look_up_now(runtime: Runtime, order: OrderRow) -> None:
    """One lookup of an unknown order, now: the worker's round, not a wait for its timer."""
    runtime.database.execute("UPDATE orders SET next_attempt_at = 0 WHERE id = ?", [order.id])
    runtime.worker.step()
    runtime.worker.drain()


def not_found_actions(runtime: Runtime, order: OrderRow) -> list[str]:
    found = events.for_order(runtime.database, order.id)
    return [e.data["action"] for e in found if e.kind == "order.not_found"]


@pytest.mark.parametrize("not_found_answers", [1, 2])
def test_row08_a_late_commit_is_adopted_never_placed_twice(
    make_runtime: Callable[..., Runtime], xo: SimControl, not_found_answers: int
) -> None:
    """Xoxoday commits the order after 1 "not found" (inside the in-flight window), or after 2
    (the first trusted one, before the second lookup that would have to agree). The commit
    waits for those lookups rather than a timer, and the window is stepped through the stored
    times, so however slowly a loaded machine looks the order up, each lookup falls where the
    test says."""
    xo.config(**REAL)
    real = make_runtime(xoxoday_place_order_timeout_s=60)
    xo.fault("placeOrder", "late_commit", commit_after_lookups=not_found_answers)
    [order] = approved(real, gift())
    real.worker.step()
    real.worker.drain()  # placeOrder answered by a gateway's 504
    assert fresh(real, order).state == "unknown"
    look_up_now(real, order)  # inside the window: not trusted
    assert (fresh(real, order).state, not_found_actions(real, order)) == ("unknown", ["wait"])
    if not_found_answers == 2:
        real.database.execute("UPDATE orders SET sent_at = sent_at - 61 WHERE id = ?", [order.id])
        look_up_now(real, order)  # the window is over: the first trusted "not found"
        assert not_found_actions(real, order) == ["wait", "confirm"]
    look_up_now(real, order)  # committed meanwhile: found and adopted
    real.worker.run(until_settled=True)
    assert fresh(real, order).state == "delivered"
    assert sim_po_counts(xo) == {order.po_number: 1}
    assert xo.calls("placeOrder") == 1
    history = kinds(real, order)
    assert history.index("order.unknown") < history.index("order.not_found")
    assert "order.requeued" not in history
    calls = real.database.query(
        "SELECT op, status FROM api_calls WHERE po_number = ? ORDER BY id", [order.po_number]
    )
    assert calls[0] == {"op": "placeOrder", "status": 504}
    assert calls[-1] == {"op": "getOrderDetails", "status": 200}


def test_row08_an_order_recovered_after_a_crash_obeys_the_window_too(
    real: Runtime, xo: SimControl
) -> None:
    [order] = approved(real, gift())
    claimed = order_store.claim_next(real.database, "a-worker-that-died", time.time())
    assert claimed is not None  # sent_at is stored at the claim, before any call
    # Committed after the recovering worker's first lookup, wherever it falls in the window.
    xo.fault("placeOrder", "late_commit", commit_after_lookups=1)
    product = real.catalog.product(27222)[1]
    with pytest.raises(xe.OutcomeUnknown):  # the dead worker's request, answered by a 504
        real.client.place_order(
            order_request("gift_card", spec_from_order(claimed), claimed.po_number), product
        )
    real.worker.run(until_settled=True)  # recovers it: placing -> unknown -> lookups
    assert fresh(real, order).state == "delivered"
    assert sim_po_counts(xo) == {order.po_number: 1}


# --- row 9: an answer under another key is an error ---------------------------------------------


def test_row09_an_answer_under_another_key_is_a_typed_error_never_a_row(
    real: Runtime, xo: SimControl
) -> None:
    [order] = approved(real, gift())
    real.worker.run(until_settled=True)
    today = datetime.now(UTC).date()  # the simulator dates orders in UTC
    xo.fault("getOrderHistory", "wrong_key")
    with pytest.raises(xe.MalformedResponse):
        real.client.get_order_history(today, today)
    history = real.client.get_order_history(today, today)
    assert [h.po_number for h in history] == [order.po_number]


def test_row09_a_mislabelled_lookup_answer_keeps_the_order_unknown_until_a_real_one(
    real: Runtime, xo: SimControl
) -> None:
    xo.fault("placeOrder", "http_500_after_commit")
    xo.fault("getOrderDetails", "wrong_key")
    [order] = approved(real, gift())
    real.worker.run(until_settled=True)
    assert fresh(real, order).state == "delivered"
    assert sim_po_counts(xo) == {order.po_number: 1}


# --- row 10: no grace for a rotated-out refresh token -------------------------------------------


def test_row10_the_rotated_refresh_token_is_saved_before_use_and_survives_a_restart(
    make_runtime: Callable[..., Runtime], xo: SimControl
) -> None:
    xo.config(**REAL)  # token_grace_s 0: the old refresh token dies at once
    first = make_runtime()
    [one] = approved(first, gift())
    xo.expire_tokens()
    first.worker.run(until_settled=True)
    assert fresh(first, one).state == "delivered"
    old = httpx.post(
        f"{xo.base_url}/v1/oauth/token/user",
        json={
            "grant_type": "refresh_token",
            "refresh_token": DEMO_CREDENTIALS["refresh_token"],
            "client_id": DEMO_CREDENTIALS["client_id"],
            "client_secret": DEMO_CREDENTIALS["client_secret"],
        },
    )
    assert old.status_code == 400 and old.json()["error"] == "invalid_grant"
    first.worker.stop()
    first.close()
    restarted = make_runtime()  # same database: the stored, rotated pair wins
    [two] = approved(restarted, gift("b@example.com"))
    xo.expire_tokens()
    restarted.worker.run(until_settled=True)
    assert fresh(restarted, two).state == "delivered"
    assert sim_po_counts(xo) == {one.po_number: 1, two.po_number: 1}


# --- §13 row 6: products asking for checkout fields the bot does not collect -------------------


def test_products_needing_checkout_fields_we_do_not_collect_are_left_out_logged_once(
    make_runtime: Callable[..., Runtime], xo: SimControl, caplog: pytest.LogCaptureFixture
) -> None:
    """The simulator's Airbnb card's productMeta asks for dateOfBirth, which no form asks
    for: offered, it would fail at placeOrder (PLE10001). It is left out of the catalog, with
    the reason logged once for the database, however often the catalog is refreshed and by
    however many processes."""
    caplog.set_level(logging.INFO, logger="services.catalog")
    xo.config(**REAL)
    real = make_runtime()  # refreshes the catalog
    with pytest.raises(domain.InvalidReward, match="not in the Xoxoday catalog"):
        real.catalog.product(31008)
    assert real.catalog.search("gift_card", "airbnb") == []
    real.catalog.refresh()
    make_runtime().catalog.refresh()  # another process on the same database
    [line] = [r.getMessage() for r in caplog.records if "31008" in r.getMessage()]
    assert "dateOfBirth" in line and "left out" in line
    assert real.catalog.product(27222)[1].name  # products asking nothing stay
    placed = httpx.post(  # what offering it would have led to
        f"{xo.base_url}/v1/oauth/api",
        headers={"Authorization": f"Bearer {DEMO_CREDENTIALS['access_token']}"},
        json={
            "query": "plumProAPI.mutation.placeOrder",
            "tag": "plumProAPI",
            "variables": {
                "data": {"productId": 31008, "quantity": 1, "denomination": 25, "poNumber": "M-1"}
            },
        },
    )
    assert (placed.status_code, placed.json()["errorId"]) == (400, "PLE10001")
    assert "dateOfBirth" in placed.json()["error"]
