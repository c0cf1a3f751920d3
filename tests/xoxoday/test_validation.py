"""Bad input for each reward type is refused with a clear error before anything is sent."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from services.reward_types import build_order
from services.xoxoday import XoxodayClient
from services.xoxoday import errors as E
from services.xoxoday.models import Product
from tests.support import SimControl


@pytest.fixture
def catalog(client: XoxodayClient) -> dict[int, Product]:
    products = {p.product_id: p for p in client.all_vouchers()}
    for category in ("miles", "charity"):
        products.update({p.product_id: p for p in client.all_vouchers(category_type=category)})
    products.update(
        {
            p.product_id: p
            for p in client.get_vouchers(category_type="topup", parent_product_id=55132)
        }
    )
    return products


BASE: dict[str, Any] = {"po_number": "PO-BAD", "email": "x@example.com"}

# (reward type, fields, the field named in the error, words of the message)
TYPED_ERRORS = [
    ("gift_card", {"product_id": 27222, "denomination": "-5"}, "denomination", "positive"),
    ("gift_card", {"product_id": 27222, "denomination": "10.005"}, "denomination", "two decimal"),
    ("gift_card", {"product_id": 27222, "denomination": "ten"}, "denomination", "not a number"),
    ("gift_card", {"product_id": 27222, "denomination": 10.0}, "denomination", "not float"),
    (
        "gift_card",
        {"product_id": 27222, "denomination": "10", "email": "not-an-email"},
        "email",
        "email",
    ),
    (
        "gift_card",
        {"product_id": 27222, "denomination": "10", "po_number": "x" * 101},
        "po_number",
        "100",
    ),
    (
        "gift_card",
        {"product_id": 27222, "denomination": "10", "quantity": 0},
        "quantity",
        "greater",
    ),
    (
        "gift_card",
        {"product_id": 31003, "denomination": "15", "contact": "4705000000"},
        "contact",
        "international",
    ),
    ("airmiles", {"product_id": 15365, "denomination": "50"}, "loyalty_member_id", "required"),
    (
        "airmiles",
        {"product_id": 15365, "denomination": "50", "loyalty_member_id": "  "},
        "loyalty_member_id",
        "at least 1",
    ),
    (
        "airmiles",
        {"product_id": 15365, "denomination": "50", "loyalty_member_id": "EK 12;3"},
        "loyalty_member_id",
        "pattern",
    ),
    ("topup", {"product_id": 55133, "denomination": "199"}, "phone", "required"),
    (
        "topup",
        {"product_id": 55133, "denomination": "199", "phone": "9857535678"},
        "phone",
        "international",
    ),
    (
        "topup",
        {"product_id": 55133, "denomination": "199", "phone": "+91123"},
        "phone",
        "not a valid",
    ),
    (
        "charity",
        {"product_id": 40001, "denomination": "20", "loyalty_member_id": "X"},
        "loyalty_member_id",
        "not permitted",
    ),
]


@pytest.mark.parametrize(("reward_type", "fields", "field", "words"), TYPED_ERRORS)
def test_typed_order_refuses_bad_fields(
    reward_type: str, fields: dict[str, Any], field: str, words: str
) -> None:
    with pytest.raises(E.InvalidOrder) as info:
        build_order(reward_type, **{**BASE, **fields})
    assert info.value.field == field
    assert words in str(info.value)


# (product, fields, the field named, words): fine on their own, wrong for the product.
PRODUCT_ERRORS = [
    (27222, {"denomination": "30"}, "denomination", "comes in 10, 25, 50, 100 USD, not 30"),
    (29877, {"denomination": "501"}, "denomination", "from 5 to 500 USD, not 501"),
    (29877, {"denomination": "4.99"}, "denomination", "from 5 to 500"),
    (27222, {"denomination": "10", "quantity": 11}, "quantity", "at most 10 per order"),
    (31003, {"denomination": "15"}, "contact", "needs the recipient's phone number"),
    (
        15365,
        {"denomination": "50", "quantity": 2, "loyalty_member_id": "EK1"},
        "quantity",
        "at most 1",
    ),
    (40001, {"denomination": "1000.01"}, "denomination", "from 1 to 1,000"),
    (55133, {"denomination": "499", "phone": "+919857535678"}, "denomination", "comes in 199 INR"),
]


@pytest.mark.parametrize(("product_id", "fields", "field", "words"), PRODUCT_ERRORS)
def test_order_that_does_not_fit_the_product_is_never_sent(
    client: XoxodayClient,
    xo: SimControl,
    catalog: dict[int, Product],
    product_id: int,
    fields: dict[str, Any],
    field: str,
    words: str,
) -> None:
    product = catalog[product_id]
    reward_type = {15365: "airmiles", 40001: "charity", 55133: "topup"}.get(product_id, "gift_card")
    order = build_order(reward_type, product_id=product_id, **{**BASE, **fields})
    with pytest.raises(E.InvalidOrder) as info:
        client.place_order(order, product)
    assert info.value.field == field
    assert words in str(info.value).replace("1000", "1,000")
    assert xo.calls("placeOrder") == 0  # nothing left the process
    assert xo.orders() == []


def test_order_for_another_product_is_refused(
    client: XoxodayClient, catalog: dict[int, Product], xo: SimControl
) -> None:
    order = build_order("gift_card", product_id=27222, denomination="10", **BASE)
    with pytest.raises(E.InvalidOrder, match="not 29877"):
        client.place_order(order, catalog[29877])
    assert xo.calls("placeOrder") == 0


def test_amounts_stay_decimal(catalog: dict[int, Product]) -> None:
    order = build_order("gift_card", product_id=29877, denomination="0.1", **BASE)
    assert order.payload()["denomination"] == Decimal("0.1")
    assert catalog[29877].wallet_cost(Decimal("0.1"), 3) == Decimal("0.30")
