"""getOrderDetails (both lookups) and getOrderHistory."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from simulator.xoxoday import catalog
from tests.simulator.conftest import Api


def test_order_details_by_po_number_with_each_empty_order_id(api: Api) -> None:
    placed = api.order(poNumber="D-1", email="ann@example.com", tag="kudos")
    for empty in (None, 0, "0"):
        details = api.ok("getOrderDetails", {"poNumber": "D-1", "orderId": empty})
        assert details["orderId"] == placed["orderId"]
    assert details["deliveryStatus"] == "delivered"
    assert details["orderStatus"] == "complete"
    assert details["tag"] == "kudos"
    assert details["orderMeta"]["email"] == "ann@example.com"
    assert details["orderDate"] == details["deliveryDate"]
    assert len(details["orderDate"]) == 19
    assert details["shippingDetails"]["shippingCity"] == ""
    voucher = details["vouchers"][0]
    assert voucher["amount"] == "10"  # a string here, as in Xoxoday's example
    assert voucher["voucherCode"] == placed["vouchers"][0]["voucherCode"]
    assert details["voucherDetails"][0]["cancelledQuantity"] == 0


def test_order_details_by_order_id(api: Api) -> None:
    placed = api.order(poNumber="D-2")
    order_id = placed["orderId"]
    for po_number in ("", None):
        details = api.ok("getOrderDetails", {"poNumber": po_number, "orderId": order_id})
        assert details["poNumber"] == "D-2"
    assert api.ok("getOrderDetails", {"orderId": str(order_id)})["orderId"] == order_id


def test_order_details_errors(api: Api) -> None:
    body = api.error("getOrderDetails", {"poNumber": "", "orderId": 0}, 400, "PLE10002")
    assert body["errorInfo"] == "Validation error in get order details"
    api.error("getOrderDetails", {"orderId": "abc"}, 400, "PLE10002")
    body = api.error("getOrderDetails", {"poNumber": "NOPE", "orderId": None}, 404, "PLE10016")
    assert body["errorInfo"] == "Failed to get Order details"
    api.error("getOrderDetails", {"orderId": 1}, 404, "PLE10016")


def test_pending_order_details_then_delivered_vouchers(api: Api) -> None:
    api.order(productId=catalog.ZALANDO_DE, denomination=50, poNumber="Z-1")
    pending = api.ok("getOrderDetails", {"poNumber": "Z-1"})
    assert (pending["deliveryStatus"], pending["vouchers"], pending["deliveryDate"]) == (
        "pending",
        [],
        "",
    )
    api.sim_post("deliver", {"poNumber": "Z-1"})
    delivered = api.ok("getOrderDetails", {"poNumber": "Z-1"})
    assert delivered["deliveryStatus"] == "delivered"
    assert delivered["voucherDetails"][0]["productStatus"] == "delivered"
    assert delivered["vouchers"][0]["voucherCode"].startswith("https://stagingstores.plum.gift/")
    assert delivered["vouchers"][0]["amount"] == "50"


def test_order_history_items_and_filters(api: Api) -> None:
    api.order(poNumber="H-1", email="a@example.com", tag="q1")
    api.order(productId=catalog.FLIPKART_IN, denomination=500, poNumber="H-2")
    today = datetime.now(UTC).strftime("%Y-%m-%d")
    items = api.ok(
        "getOrderHistory", {"startDate": today, "endDate": today, "limit": 10, "page": 1}
    )
    assert [i["poNumber"] for i in items] == ["H-2", "H-1"]  # newest first
    flipkart = items[0]
    assert flipkart["amountCharged"] == 6
    assert flipkart["currencyValue"] == Decimal("0.012")
    assert flipkart["discountPercent"] == 0  # a number in history, unlike getOrderDetails
    assert flipkart["products"][0]["orderProductStatus"] == "delivered"
    assert flipkart["products"][0]["price"] == 500
    assert flipkart["voucherDetails"][0]["productName"] == "Flipkart Gift Card"
    tagged = api.ok("getOrderHistory", {"startDate": today, "endDate": today, "tag": "q1"})
    assert [i["poNumber"] for i in tagged] == ["H-1"]
    page_two = {"startDate": today, "endDate": today, "limit": 1, "page": 2}
    assert [i["poNumber"] for i in api.ok("getOrderHistory", page_two)] == ["H-1"]


def test_order_history_errors(api: Api) -> None:
    api.order(poNumber="H-3")
    api.error("getOrderHistory", {}, 400, "PLE10032")
    api.error(
        "getOrderHistory", {"startDate": "01/02/2026", "endDate": "2026-02-02"}, 400, "PLE10032"
    )
    api.error(
        "getOrderHistory", {"startDate": "2026-03-01", "endDate": "2026-02-01"}, 400, "PLE10032"
    )
    body = api.error(
        "getOrderHistory", {"startDate": "1999-01-01", "endDate": "1999-12-31"}, 404, "PLE10022"
    )
    assert body["errorInfo"] == "Failed to find order history"
