"""placeOrder: the seed requests, each check in Xoxoday's order, cost and the wallet."""

from __future__ import annotations

import re
from decimal import Decimal

from simulator.xoxoday import catalog
from tests.simulator.conftest import API, Api

AIRMILES_SEED = {  # seeds/000: the airmiles example, verbatim
    "productId": catalog.EMIRATES_MILES,
    "quantity": 1,
    "denomination": 50,
    "email": "your.email@example.com",
    "contact": "+1-4705000000",
    "tag": "Rewarding",
    "poNumber": "PO12662",
    "notifyReceiverEmail": 1,
    "notifyAdminEmail": 0,
    "userMeta": {"loyaltyMemberId": "324523423"},
}
CHARITY_SEED = {  # seeds/001-002, with our charity product id
    "productId": catalog.GLOBALGIVING,
    "quantity": 1,
    "denomination": 20,
    "email": "your.email@example.com",
    "contact": "+1-4705000000",
    "tag": "Rewarding",
    "poNumber": "PO12663",
    "notifyReceiverEmail": 0,
    "notifyAdminEmail": 0,
}
TOPUP_SEED = {  # seeds/003, with an Airtel plan
    "productId": catalog.AIRTEL_199,
    "quantity": 1,
    "denomination": 199,
    "email": "your.email@example.com",
    "tag": "Rewarding",
    "poNumber": "PO12664",
    "notifyReceiverEmail": 1,
    "notifyAdminEmail": 0,
    "performOperatorValidation": 0,
    "userMeta": {"topupPhoneCode": "+91", "topupPhoneNumber": "9857535678"},
}


def place(api: Api, path: str = API, **fields: object):
    data = {"productId": catalog.AMAZON_US, "quantity": 1, "denomination": 10, "poNumber": "PO-X"}
    return api.call("placeOrder", {**data, **fields}, path=path)


def error_id(response) -> str:
    return response.json()["errorId"]


# ---- seed requests -----------------------------------------------------------------------


def test_airmiles_seed_request_is_pending_without_vouchers(api: Api) -> None:
    response = api.call("placeOrder", AIRMILES_SEED, path=API + "/placeOrder")
    assert response.status_code == 200, response.text
    data = response.json()["data"]["placeOrder"]["data"]
    assert (data["orderStatus"], data["deliveryStatus"]) == ("complete", "pending")
    assert data["vouchers"] == []
    assert data["voucherDetails"][0]["productStatus"] == "pending"
    assert data["voucherDetails"][0]["productName"] == "Emirates Skywards Miles"
    assert data["tag"] == "Rewarding"
    (order,) = api.sim_get("orders")["orders"]
    assert order["userMeta"] == {"loyaltyMemberId": "324523423"}
    assert (order["poNumber"], order["orderId"], order["productId"]) == (
        "PO12662",
        data["orderId"],
        catalog.EMIRATES_MILES,
    )
    assert (order["denomination"], order["quantity"], order["amountCharged"]) == (50, 1, 50)
    assert (order["deliveryStatus"], order["email"]) == ("pending", "your.email@example.com")
    assert len(order["createdAt"]) == 19


def test_charity_seed_request_is_delivered_without_vouchers(api: Api) -> None:
    data = api.ok("placeOrder", CHARITY_SEED, path=API + "/placeOrder")
    assert (data["deliveryStatus"], data["vouchers"]) == ("delivered", [])
    assert data["amountCharged"] == 20
    assert api.balance() == 9980


def test_topup_seed_request_with_user_meta_and_with_topup_data(api: Api) -> None:
    data = api.ok("placeOrder", TOPUP_SEED, path=API + "/placeOrder")
    assert (data["deliveryStatus"], data["vouchers"]) == ("pending", [])
    assert data["amountCharged"] == Decimal("2.39")  # ₹199 × 0.012 = 2.388
    assert data["orderTotal"] == Decimal("2.39")
    assert data["rawOrderTotal"] == Decimal("2.388")
    # The top-up md page names the phone object topupData; it is accepted too.
    alt = {k: v for k, v in TOPUP_SEED.items() if k != "userMeta"}
    alt |= {"poNumber": "PO12665", "topupData": TOPUP_SEED["userMeta"]}
    assert api.ok("placeOrder", alt)["deliveryStatus"] == "pending"
    stored = {o["poNumber"]: o["userMeta"] for o in api.sim_get("orders")["orders"]}
    assert stored["PO12665"] == TOPUP_SEED["userMeta"]


# ---- the checks, in order: each test breaks two rules and expects the earlier one ---------


def test_auth_comes_before_validation(api: Api) -> None:
    response = api.call("placeOrder", {"productId": "x"}, token="bogus")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_token"


def test_rate_limit_comes_before_validation(api: Api) -> None:
    api.sim_post("config", {"rate_scale": 0.01})  # placeOrder: 1 call a minute
    assert api.call("placeOrder", {"productId": "x"}).status_code == 400
    limited = api.call("placeOrder", {"productId": "x"})
    assert limited.status_code == 429
    penalty = limited.json()["errors"][0]["penaltySeconds"]
    assert 55 <= penalty <= 60


def test_validation_comes_before_product_lookup(api: Api) -> None:
    cases = [
        {"productId": None},
        {"productId": 999999, "quantity": 0},
        {"productId": 999999, "quantity": "two"},
        {"productId": 999999, "denomination": None},
        {"productId": 999999, "denomination": "-5"},
        {"productId": 999999, "poNumber": "P" * 101},
        {"productId": 999999, "email": "not-an-email"},
    ]
    for fields in cases:
        response = place(api, **fields)
        assert response.status_code == 400, fields
        assert error_id(response) == "PLE10001", fields


def test_category_fields_are_validation_errors(api: Api) -> None:
    no_member = {**AIRMILES_SEED, "userMeta": {}, "denomination": 7}
    response = api.call("placeOrder", no_member)
    assert (response.status_code, error_id(response)) == (400, "PLE10001")
    assert "loyaltyMemberId" in response.json()["error"]
    no_phone = {**TOPUP_SEED, "userMeta": {"topupPhoneCode": "+91"}, "denomination": 7}
    response = api.call("placeOrder", no_phone)
    assert (response.status_code, error_id(response)) == (400, "PLE10001")
    assert api.sim_get("orders")["orders"] == []


def test_unknown_product_comes_before_denomination(api: Api) -> None:
    response = place(api, productId=999999, denomination=7)
    assert (response.status_code, error_id(response)) == (404, "PLE10017")


def test_inactive_product_comes_before_denomination(api: Api) -> None:
    response = place(api, productId=catalog.LEGACY_BRAND, denomination=7)
    assert (response.status_code, error_id(response)) == (404, "PLE10042")


def test_kyc_comes_before_denomination(api: Api) -> None:
    response = place(api, productId=catalog.AMAZON_IN_KYC, denomination=7)
    assert (response.status_code, error_id(response)) == (400, "PLE10015")


def test_denomination_comes_before_quantity(api: Api) -> None:
    response = place(api, denomination=7, quantity=11)
    assert (response.status_code, error_id(response)) == (400, "PLE10018")
    for value in (4, 501, "10.001"):  # open value: 5..500, whole cents
        response = place(api, productId=catalog.VISA_PREPAID, denomination=value)
        assert (response.status_code, error_id(response)) == (400, "PLE10018"), value
    assert place(api, productId=catalog.VISA_PREPAID, denomination="12.34").status_code == 200


def test_quantity_limit_comes_before_contact(api: Api) -> None:
    response = place(api, productId=catalog.UBER_US, denomination=15, quantity=11)
    assert (response.status_code, error_id(response)) == (409, "PLE10041")
    miles = api.call("placeOrder", {**AIRMILES_SEED, "quantity": 2})
    assert (miles.status_code, error_id(miles)) == (409, "PLE10041")


def test_contact_comes_before_duplicate_po(api: Api) -> None:
    api.order(poNumber="USED")
    response = place(api, productId=catalog.UBER_US, denomination=15, poNumber="USED")
    assert (response.status_code, error_id(response)) == (400, "PLE10001")
    assert "contact" in response.json()["error"]
    ok = place(api, productId=catalog.UBER_US, denomination=15, poNumber="U1", contact="+1-555")
    assert ok.status_code == 200


def test_operator_validation_comes_before_duplicate_po(api: Api) -> None:
    api.order(poNumber="USED")
    us_number = {"topupPhoneCode": "+1", "topupPhoneNumber": "2125551234"}
    mismatch = {**TOPUP_SEED, "poNumber": "USED", "userMeta": us_number}
    response = api.call("placeOrder", {**mismatch, "performOperatorValidation": 1})
    assert (response.status_code, error_id(response)) == (400, "PLE10001")
    assert response.json()["error"] == "operator validation failed"
    # Without validation the order is attempted anyway (and the matching number passes it).
    unchecked = {**mismatch, "poNumber": "T1", "performOperatorValidation": 0}
    assert api.call("placeOrder", unchecked).status_code == 200
    checked = {**TOPUP_SEED, "poNumber": "T2", "performOperatorValidation": True}
    assert api.call("placeOrder", checked).status_code == 200


def test_duplicate_po_comes_before_balance(api: Api) -> None:
    api.order(poNumber="DUP")
    api.sim_post("config", {"balance": 0})
    response = place(api, poNumber="DUP")
    assert (response.status_code, error_id(response)) == (422, "PLE10004")


def test_insufficient_balance_commits_nothing(api: Api) -> None:
    api.sim_post("config", {"balance": "9.79"})
    response = place(api, denomination=10)  # costs 9.80 after the 2 % discount
    assert (response.status_code, error_id(response)) == (422, "PLE10010")
    assert api.balance() == Decimal("9.79")
    assert api.sim_get("orders")["orders"] == []
    assert place(api, productId=catalog.GLOBALGIVING, denomination="9.79").status_code == 200
    assert api.balance() == 0


# ---- results, cost and the wallet ----------------------------------------------------------


def test_realtime_vouchers_in_each_type(api: Api) -> None:
    amazon = api.order(poNumber="A", quantity=3)
    assert len(amazon["vouchers"]) == 3
    assert len({v["voucherCode"] for v in amazon["vouchers"]}) == 3
    for voucher in amazon["vouchers"]:
        assert re.fullmatch(r"DEMO-\d{13}-[a-z0-9]{6}", voucher["voucherCode"])
        assert (voucher["pin"], voucher["type"], voucher["amount"]) == ("DEMO-PIN", "codePin", 10)
    visa = api.order(productId=catalog.VISA_PREPAID, denomination=30, poNumber="V")
    assert re.fullmatch(
        r"https://stagingstores\.plum\.gift/[A-Za-z0-9]{16}", visa["vouchers"][0]["voucherCode"]
    )
    assert visa["vouchers"][0]["type"] == "url"
    flipkart = api.order(productId=catalog.FLIPKART_IN, denomination=500, poNumber="F")
    assert (flipkart["vouchers"][0]["type"], flipkart["vouchers"][0]["pin"]) == ("code", "")
    assert flipkart["vouchers"][0]["currency"] == "INR"


def test_cost_fx_discount_and_payment_rows(api: Api) -> None:
    amazon = api.order(denomination=25, quantity=3, poNumber="COST-1")
    assert amazon["orderTotal"] == 75
    assert amazon["amountCharged"] == Decimal("73.5")
    assert (amazon["orderDiscount"], amazon["discountPercent"]) == ("1.5", "2")
    assert amazon["currencyValue"] == 1
    flipkart = api.order(
        productId=catalog.FLIPKART_IN, denomination=1000, quantity=2, poNumber="C2"
    )
    assert (flipkart["amountCharged"], flipkart["currencyValue"]) == (24, Decimal("0.012"))
    assert (flipkart["orderDiscount"], flipkart["discountPercent"], flipkart["currencyCode"]) == (
        "",
        "",
        "USD",
    )
    zalando = api.order(productId=catalog.ZALANDO_DE, denomination=25, poNumber="C3")
    assert zalando["amountCharged"] == 27
    assert api.balance() == Decimal("9875.5")
    window = {"startDate": "2000-01-01", "endDate": "2100-01-01"}
    rows = api.ok("paymentHistory", window)
    assert [(r["reason"], r["adjusted_amount"], r["closing_balance"]) for r in rows] == [
        ("Brand Voucher(s) Issued", 27, Decimal("9875.5")),
        ("Brand Voucher(s) Issued", 24, Decimal("9902.5")),
        ("Brand Voucher(s) Issued", Decimal("73.5"), Decimal("9926.5")),
        ("Funds added", 10000, 10000),
    ]
    assert all(r["transaction_status"] == "Complete" for r in rows)


def test_duplicate_po_then_cancelled_po_then_empty_po(api: Api) -> None:
    api.order(poNumber="SAME")
    duplicate = place(api, poNumber="SAME")
    assert (duplicate.status_code, error_id(duplicate)) == (422, "PLE10004")
    api.order(productId=catalog.ZALANDO_DE, denomination=25, poNumber="CANCEL-ME")
    api.sim_post("deliver", {"poNumber": "CANCEL-ME", "status": "canceled"})
    reused = place(api, poNumber="CANCEL-ME")
    assert (reused.status_code, error_id(reused)) == (404, "PLE10036")
    # An empty poNumber (the sandbox quick-start sends one) is never de-duplicated.
    assert api.order(poNumber="")["orderId"] != api.order(poNumber="")["orderId"]
    assert len(api.sim_get("orders")["orders"]) == 4
