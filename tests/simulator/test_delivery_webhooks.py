"""Settling pending orders and the delivery webhook, with its retries (reference §5)."""

from __future__ import annotations

from typing import Any

from simulator.xoxoday import catalog
from tests.simulator.conftest import Api, Receiver
from tests.support import HANG_S, wait_for


def pending_order(api: Api, po_number: str, **fields: Any) -> dict[str, Any]:
    data = {"productId": catalog.ZALANDO_DE, "denomination": 25, "poNumber": po_number}
    return api.order(**{**data, **fields})


def test_deliver_sends_the_webhook_with_the_api_key(api: Api, receiver: Receiver) -> None:
    api.sim_post("config", {"webhook_url": receiver.url, "webhook_key": "k" * 20})
    placed = pending_order(api, "W-1")
    result = api.sim_post("deliver", {"poNumber": "W-1", "status": "delivered"})
    assert (result["webhook"]["ok"], result["webhook"]["status"]) == (True, 200)
    assert result["order"]["deliveryStatus"] == "delivered"
    assert len(receiver.calls) == 1  # the first attempt is made before /_sim/deliver answers
    headers, payload = receiver.calls[0]
    assert headers["x-api-key"] == "k" * 20
    assert set(payload) == {"id", "data", "createdAt"}
    assert payload["data"]["orderId"] == placed["orderId"]
    assert payload["data"]["poNumber"] == "W-1"
    assert payload["data"]["deliveryStatus"] in ("delivered", "Delivered")
    assert len(payload["createdAt"]) == len(payload["data"]["orderDate"]) == 19
    # Not pending any more: a second settlement is refused.
    api.sim_post("deliver", {"poNumber": "W-1"}, expect=409)


def test_status_case_alternates_by_webhook_id(api: Api, receiver: Receiver) -> None:
    api.sim_post("config", {"webhook_url": receiver.url})
    for po_number in ("W-2", "W-3"):
        pending_order(api, po_number)
        api.sim_post("deliver", {"poNumber": po_number})
    (_, first), (_, second) = receiver.calls
    assert second["id"] == first["id"] + 1
    statuses = {p["data"]["deliveryStatus"] for p in (first, second)}
    assert statuses == {"delivered", "Delivered"}
    assert "x-api-key" not in receiver.calls[0][0]


def test_cancel_refunds_and_marks_the_order(api: Api, receiver: Receiver) -> None:
    api.sim_post("config", {"webhook_url": receiver.url})
    pending_order(api, "W-4")
    assert api.balance() == 9973
    result = api.sim_post("deliver", {"poNumber": "W-4", "status": "canceled"})
    assert result["webhook"]["payload"]["data"]["deliveryStatus"].lower() == "canceled"
    assert api.balance() == 10000
    details = api.ok("getOrderDetails", {"poNumber": "W-4"})
    assert details["deliveryStatus"] == "canceled"
    assert details["voucherDetails"][0]["productStatus"] == "Cancelled"
    assert details["voucherDetails"][0]["cancelledQuantity"] == 1
    rows = api.ok("paymentHistory", {})
    # xoxoday-api.md §4: a "Refunded" row, transaction_status "Cancelled".
    assert [(r["reason"], r["adjusted_amount"], r["transaction_status"]) for r in rows[:2]] == [
        ("Refunded", 27, "Cancelled"),
        ("Brand Voucher(s) Issued", 27, "Cancelled"),
    ]
    assert rows[0]["closing_balance"] == 10000


def test_refunded_rows_complete_when_the_switch_is_off(api: Api, receiver: Receiver) -> None:
    api.sim_post("config", {"refunds_cancelled": False})
    pending_order(api, "W-5")
    api.sim_post("deliver", {"poNumber": "W-5", "status": "canceled"})
    [refund] = [r for r in api.ok("paymentHistory", {}) if r["reason"] == "Refunded"]
    assert refund["transaction_status"] == "Complete"


def test_pending_orders_settle_by_themselves_after_the_delay(api: Api, receiver: Receiver) -> None:
    api.sim_post("config", {"webhook_url": receiver.url, "delivery_delay_s": 0.1})
    api.order(**{**{"productId": catalog.EMIRATES_MILES, "denomination": 25, "poNumber": "AUTO"},
                 "userMeta": {"loyaltyMemberId": "EK123"}})  # fmt: skip
    assert receiver.arrived.wait(HANG_S)
    _, payload = receiver.calls[0]
    assert payload["data"]["poNumber"] == "AUTO"
    details = api.ok("getOrderDetails", {"poNumber": "AUTO"})
    assert details["deliveryStatus"] == "delivered"
    assert details["vouchers"] == []  # miles carry no codes


def test_failed_webhook_is_retried_three_times_then_disabled(api: Api, receiver: Receiver) -> None:
    receiver.status = 500
    api.sim_post("config", {"webhook_url": receiver.url})
    pending_order(api, "R-1")
    first = api.sim_post("deliver", {"poNumber": "R-1"})["webhook"]
    assert (first["ok"], first["status"], first["attempt"]) == (False, 500, 1)
    log = wait_for(lambda: (w := api.sim_get("webhooks")) and not w["enabled"] and w["webhooks"])
    assert [(a["attempt"], a["status"]) for a in log] == [(n, 500) for n in (1, 2, 3, 4)]
    assert len({p["id"] for _, p in receiver.calls}) == 1  # every retry is the same event
    assert len(receiver.calls) == 4
    # Disabled: the next settlement is recorded but not sent.
    receiver.status = 200
    pending_order(api, "R-2")
    skipped = api.sim_post("deliver", {"poNumber": "R-2"})["webhook"]
    assert skipped["sent"] is False
    assert len(receiver.calls) == 4
    # Re-enabled through /_sim/config, deliveries resume.
    api.sim_post("config", {"webhook_enabled": True})
    pending_order(api, "R-3")
    assert api.sim_post("deliver", {"poNumber": "R-3"})["webhook"]["ok"] is True
    assert receiver.calls[-1][1]["data"]["poNumber"] == "R-3"


def test_unreachable_webhook_records_connection_errors(api: Api) -> None:
    api.sim_post("config", {"webhook_url": "http://127.0.0.1:9/hook"})
    pending_order(api, "R-4")
    first = api.sim_post("deliver", {"poNumber": "R-4"})["webhook"]
    assert first["ok"] is False
    assert first["status"] is None
    assert "ConnectError" in first["error"]
    wait_for(lambda: not api.sim_get("webhooks")["enabled"])


def test_reset_restores_webhook_and_config(api: Api, receiver: Receiver) -> None:
    api.sim_post("config", {"webhook_url": receiver.url, "webhook_enabled": False})
    api.sim_post("reset")
    config = api.sim_get("config")
    assert (config["webhook_url"], config["webhook_enabled"], config["delivery_delay_s"]) == (
        None,
        True,
        -1,
    )
