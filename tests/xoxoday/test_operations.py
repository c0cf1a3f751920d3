"""Every Plum Pro operation the bot uses, through the real client, against the simulator."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from services.reward_types import build_order
from services.xoxoday import XoxodayClient
from services.xoxoday import errors as E
from tests.support import SimControl

TODAY = datetime.now(UTC).date()


def product(client: XoxodayClient, product_id: int, **query: object):
    found = client.get_vouchers(include_products=[product_id], **query)  # type: ignore[arg-type]
    assert [p.product_id for p in found] == [product_id]
    return found[0]


def test_get_filters_returns_groups_with_values(client: XoxodayClient) -> None:
    groups = client.get_filters("country")
    assert [g.filter_group_code for g in groups] == ["country"]
    codes = {f.filter_value_code for f in groups[0].filters}
    assert {"usa", "india"} <= codes


def test_get_filters_unknown_group_is_a_typed_error(client: XoxodayClient) -> None:
    with pytest.raises(E.ApiError) as info:
        client.get_filters("no_such_group")
    assert info.value.error_id == "PLE10029"
    assert info.value.http_status == 404


def test_get_vouchers_gift_cards_parse_to_typed_products(client: XoxodayClient) -> None:
    products = {p.product_id: p for p in client.all_vouchers()}
    amazon, visa = products[27222], products[29877]
    assert amazon.value_type == "fixed_denomination"
    assert amazon.value_denominations == [Decimal(v) for v in ("10", "25", "50", "100")]
    assert amazon.exchange_rate == Decimal(1)
    assert visa.is_open_value and (visa.min_value, visa.max_value) == (Decimal(5), Decimal(500))
    assert products[31002].is_delayed
    assert products[31003].is_phone_number_mandatory
    assert {p.currency_code for p in products.values()} >= {"USD", "INR", "EUR"}
    assert 15365 not in products  # miles are their own category


def test_get_vouchers_filters_and_paging(client: XoxodayClient) -> None:
    india = client.get_vouchers(filters={"country": "india"})
    assert india and all("IN" in p.countries for p in india)
    assert {p.country_code for p in india} == {"IN", "US"}  # Google Play: also sold in India
    first = client.get_vouchers(limit=2, page=1)
    second = client.get_vouchers(limit=2, page=2)
    assert len(first) == 2 and len(second) == 2
    assert not {p.product_id for p in first} & {p.product_id for p in second}
    assert client.get_vouchers(filters={"productName": "No Such Brand"}) == []


@pytest.mark.parametrize(
    ("category", "expected"),
    [("miles", {15365}), ("charity", {40001}), ("topup", {55132, 55140})],
)
def test_get_vouchers_by_category_type(
    client: XoxodayClient, category: str, expected: set[int]
) -> None:
    assert {p.product_id for p in client.all_vouchers(category_type=category)} == expected


def test_topup_plans_by_parent_product(client: XoxodayClient) -> None:
    plans = client.get_vouchers(category_type="topup", parent_product_id=55132)
    assert {p.product_id for p in plans} == {55133, 55134}
    assert all(p.parent_product_id == 55132 and p.order_quantity_limit == 1 for p in plans)


def test_lookup_mobile_number(client: XoxodayClient) -> None:
    airtel = client.lookup_mobile_number("+91 98765 43210")
    assert (airtel.operator, airtel.country_code, airtel.parent_product_id) == (
        "Airtel",
        "IN",
        55132,
    )
    assert client.lookup_mobile_number("+12125551234").parent_product_id == 55140
    with pytest.raises(E.InvalidOrder):
        client.lookup_mobile_number("98765")


def test_get_balance_is_decimal(client: XoxodayClient) -> None:
    balance = client.get_balance()
    assert balance.value == Decimal("10000.00")
    assert balance.currency == "USD"


def test_place_gift_card_order_with_code_and_pin(client: XoxodayClient, xo: SimControl) -> None:
    amazon = product(client, 27222)
    order = client.place_order(
        build_order(
            "gift_card",
            product_id=27222,
            denomination="25",
            quantity=2,
            po_number="PO-GC-1",
            email="ana@example.com",
        ),
        amazon,
    )
    assert order.delivery == "delivered"
    assert order.amount_charged == Decimal("49.00")  # 2 x 25 with the product's 2% discount
    assert len(order.vouchers) == 2
    voucher = order.vouchers[0]
    assert voucher.type == "codePin"
    assert voucher.voucher_code.get_secret_value().startswith("DEMO-")
    assert voucher.pin.get_secret_value() == "DEMO-PIN"
    assert "DEMO-" not in repr(order)  # codes never show in a repr or a log line
    assert client.get_balance().value == Decimal("10000.00") - Decimal("49.00")
    assert [o["poNumber"] for o in xo.orders()] == ["PO-GC-1"]


def test_place_open_value_order_gets_a_url_voucher(client: XoxodayClient) -> None:
    visa = product(client, 29877)
    order = client.place_order(
        build_order(
            "gift_card",
            product_id=29877,
            denomination="42.50",
            po_number="PO-GC-2",
            email="b@example.com",
        ),
        visa,
    )
    assert order.vouchers[0].is_link
    assert order.vouchers[0].voucher_code.get_secret_value().startswith("https://")
    assert order.amount_charged == Decimal("42.50")


def test_place_cross_currency_order_charges_in_wallet_currency(client: XoxodayClient) -> None:
    flipkart = product(client, 31001)
    order = client.place_order(
        build_order(
            "gift_card",
            product_id=31001,
            denomination="1000",
            po_number="PO-INR",
            email="c@example.com",
        ),
        flipkart,
    )
    assert order.currency_code == "USD"
    assert order.amount_charged == Decimal("12.00")  # 1000 INR at 0.012
    assert flipkart.wallet_cost(Decimal(1000)) == order.amount_charged


def test_place_delayed_gift_card_is_pending_until_delivered(
    client: XoxodayClient, xo: SimControl
) -> None:
    zalando = product(client, 31002)
    order = client.place_order(
        build_order(
            "gift_card",
            product_id=31002,
            denomination="25",
            po_number="PO-DELAY",
            email="d@example.com",
        ),
        zalando,
    )
    assert order.delivery == "pending" and order.vouchers == []
    xo.deliver("PO-DELAY", "delivered")
    details = client.get_order_details(po_number="PO-DELAY")
    assert details.delivery == "delivered"
    assert details.vouchers and details.vouchers[0].voucher_code.get_secret_value()


def test_place_airmiles_order(client: XoxodayClient, xo: SimControl) -> None:
    miles = product(client, 15365, category_type="miles")
    order = client.place_order(
        build_order(
            "airmiles",
            product_id=15365,
            denomination="50",
            po_number="PO-MILES",
            email="e@example.com",
            loyalty_member_id="EK-324523423",
        ),
        miles,
    )
    assert order.delivery == "pending" and order.vouchers == []
    assert order.voucher_details[0].product_name == "Emirates Skywards Miles"
    [placed] = xo.orders()
    assert placed["userMeta"] == {"loyaltyMemberId": "EK-324523423"}


def test_place_charity_order(client: XoxodayClient) -> None:
    charity = product(client, 40001, category_type="charity")
    order = client.place_order(
        build_order(
            "charity",
            product_id=40001,
            denomination="20",
            po_number="PO-CHARITY",
            email="f@example.com",
        ),
        charity,
    )
    assert order.delivery == "delivered"
    assert order.vouchers == []


def test_place_topup_order_splits_the_phone_number(client: XoxodayClient, xo: SimControl) -> None:
    [plan] = [
        p
        for p in client.get_vouchers(category_type="topup", parent_product_id=55132)
        if p.product_id == 55133
    ]
    order = client.place_order(
        build_order(
            "topup",
            product_id=55133,
            denomination="199",
            po_number="PO-TOPUP",
            email="g@example.com",
            phone="+919857535678",
        ),
        plan,
    )
    assert order.delivery == "pending"
    [placed] = xo.orders()
    assert placed["userMeta"] == {"topupPhoneCode": "+91", "topupPhoneNumber": "9857535678"}


def test_phone_mandatory_product_sends_contact(client: XoxodayClient) -> None:
    uber = product(client, 31003)
    order = client.place_order(
        build_order(
            "gift_card",
            product_id=31003,
            denomination="15",
            po_number="PO-UBER",
            email="h@example.com",
            contact="+1 470 500 0000",
        ),
        uber,
    )
    assert order.delivery == "delivered"


def test_get_order_details_by_po_number_and_by_order_id(client: XoxodayClient) -> None:
    amazon = product(client, 27222)
    placed = client.place_order(
        build_order(
            "gift_card",
            product_id=27222,
            denomination="10",
            po_number="PO-DETAILS",
            email="i@example.com",
        ),
        amazon,
    )
    by_po = client.get_order_details(po_number="PO-DETAILS")
    by_id = client.get_order_details(order_id=placed.order_id)
    assert by_po.order_id == by_id.order_id == placed.order_id
    assert by_po.vouchers[0].amount == Decimal(10)  # sent as the string "10"
    with pytest.raises(E.OrderNotFound):
        client.get_order_details(po_number="PO-NEVER")
    with pytest.raises(ValueError, match="po_number or an order_id"):
        client.get_order_details()


def test_get_order_history_and_payment_history(client: XoxodayClient) -> None:
    amazon = product(client, 27222)
    client.place_order(
        build_order(
            "gift_card",
            product_id=27222,
            denomination="10",
            po_number="PO-HIST",
            email="j@example.com",
        ),
        amazon,
    )
    history = client.get_order_history(TODAY - timedelta(days=1), TODAY + timedelta(days=1))
    assert [h.po_number for h in history] == ["PO-HIST"]
    assert history[0].amount_charged == Decimal("9.80")
    assert client.get_order_history(date(2001, 1, 1), date(2001, 1, 2)) == []
    payments = client.payment_history(TODAY - timedelta(days=31), TODAY + timedelta(days=1))
    reasons = [p.reason for p in payments]  # the opening funds are 30 days old
    assert "Funds added" in reasons and any("Issued" in r for r in reasons)
    issued = next(p for p in payments if "Issued" in p.reason)
    assert issued.adjusted_amount == Decimal("9.80")
    assert issued.closing_balance == Decimal("9990.20")


def test_validate_token(client: XoxodayClient) -> None:
    info = client.validate_token()
    assert info.expires_in_s is not None or info.access_expires_at is not None
