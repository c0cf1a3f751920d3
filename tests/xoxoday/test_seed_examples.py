"""The example requests of Xoxoday's own pages, sent as written, answered in the documented shape."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from plumbing.jsonutil import loads
from services.xoxoday.models import Order
from simulator.xoxoday import DEMO_CREDENTIALS
from tests.support import SimControl

SEEDS = Path(__file__).parent.parent / "fixtures" / "seeds"
# The vendor pages all use productId 15365; in the simulator's catalog that is the airmiles
# product, so the charity and top-up examples point at the simulator's own products.
PRODUCTS = {
    "airmiles_place_order": {},
    "charity_place_order": {"productId": 40001},
    "topup_place_order": {"productId": 55133, "denomination": 199},
}
DOCUMENTED_FIELDS = {
    "orderId",
    "orderTotal",
    "orderDiscount",
    "discountPercent",
    "currencyCode",
    "currencyValue",
    "amountCharged",
    "orderStatus",
    "deliveryStatus",
    "tag",
    "quantity",
    "vouchers",
    "voucherDetails",
}


def send(xo: SimControl, body: dict[str, Any]) -> Any:
    # The pages' curl commands use the playground's virtual suffix, /placeOrder.
    response = xo.http.post(
        "/chef/v1/oauth/api/placeOrder",
        json=body,
        headers={"Authorization": f"Bearer {DEMO_CREDENTIALS['access_token']}"},
    )
    assert response.status_code == 200, response.text
    return loads(response.content)


@pytest.mark.parametrize("name", sorted(PRODUCTS))
def test_seed_example_is_accepted_and_answered_as_documented(xo: SimControl, name: str) -> None:
    body = json.loads((SEEDS / f"{name}.json").read_text())
    body["variables"]["data"].update(PRODUCTS[name])
    answer = send(xo, body)
    result = answer["data"]["placeOrder"]
    assert result["status"] == 1
    data = result["data"]
    assert set(data) >= DOCUMENTED_FIELDS
    assert data["orderStatus"] == "complete"
    assert data["vouchers"] == []  # miles, charity and top-up carry voucherDetails only
    assert data["voucherDetails"][0]["productId"] == body["variables"]["data"]["productId"]
    assert data["tag"] == "Rewarding"
    order = Order.model_validate(data)  # and the client reads it
    assert order.order_id == data["orderId"]
    assert [o["poNumber"] for o in xo.orders()] == ["PO12662"]


def test_seed_example_po_number_is_unique(xo: SimControl) -> None:
    body = json.loads((SEEDS / "airmiles_place_order.json").read_text())
    send(xo, body)
    again = xo.http.post(
        "/chef/v1/oauth/api/placeOrder",
        json=body,
        headers={"Authorization": f"Bearer {DEMO_CREDENTIALS['access_token']}"},
    )
    assert again.status_code == 422
    assert again.json()["errorId"] == "PLE10004"
