"""getFilters, getVouchers (gift cards, miles, charity, top-up) and lookupMobileNumber."""

from __future__ import annotations

import json
from decimal import Decimal

from simulator.xoxoday import catalog
from tests.simulator.conftest import Api


def ids(products: list[dict]) -> list[int]:
    return [p["productId"] for p in products]


def test_gift_card_catalog_lists_gift_cards_only_with_the_full_field_set(api: Api) -> None:
    products = api.ok("getVouchers", {"limit": 50, "page": 1})
    assert ids(products) == [
        catalog.AMAZON_US,
        catalog.VISA_PREPAID,
        catalog.FLIPKART_IN,
        catalog.ZALANDO_DE,
        catalog.UBER_US,
        catalog.AMAZON_IN_KYC,
        catalog.LEGACY_BRAND,
        catalog.AIRBNB_US,
    ]
    amazon, visa, _, zalando, uber = products[:5]
    assert amazon["valueType"] == "fixed_denomination"
    assert amazon["valueDenominations"] == "10,25,50,100"
    assert amazon["discount"] == 2
    assert amazon["orderQuantityLimit"] == 10
    assert amazon["exchangeRate"] is None
    assert amazon["tatInDays"] == 0
    assert (visa["valueType"], visa["minValue"], visa["maxValue"]) == ("open_value", 5, 500)
    assert zalando["deliveryType"] == "delayed"
    assert zalando["tatInDays"] == "1 - 7"
    assert zalando["currencyCode"] == "EUR"
    assert uber["isPhoneNumberMandatory"] is True
    for field in ("parentProductId", "loyaltyName", "fee", "usageType", "countries", "imageUrl"):
        assert field in amazon
    assert amazon["productMeta"] == "{}"
    airbnb = products[-1]  # productMeta asks for a checkout field placeOrder requires
    assert json.loads(airbnb["productMeta"])["fields"][0]["name"] == "dateOfBirth"
    order = {"productId": catalog.AIRBNB_US, "quantity": 1, "denomination": 25, "poNumber": "A"}
    assert "dateOfBirth" in api.error("placeOrder", order, 400, "PLE10001")["error"]
    api.ok("placeOrder", {**order, "dateOfBirth": "1990-01-31"})


def test_exchange_rate_is_filled_only_when_asked(api: Api) -> None:
    data = {"exchangeRate": 1, "includeProducts": f"{catalog.FLIPKART_IN},{catalog.ZALANDO_DE}"}
    products = api.ok("getVouchers", data)
    assert {p["productId"]: Decimal(p["exchangeRate"]) for p in products} == {
        catalog.FLIPKART_IN: Decimal("0.012"),
        catalog.ZALANDO_DE: Decimal("1.08"),
    }


def test_filters_combine_with_and(api: Api) -> None:
    usa_usd = [{"key": "country", "value": "usa"}, {"key": "currencyCode", "value": "USD"}]
    assert ids(api.ok("getVouchers", {"filters": usa_usd})) == [
        catalog.AMAZON_US,
        catalog.VISA_PREPAID,
        catalog.UBER_US,
        catalog.LEGACY_BRAND,
        catalog.AIRBNB_US,
    ]
    india = api.ok("getVouchers", {"filters": [{"key": "country", "value": "india"}]})
    assert ids(india) == [catalog.FLIPKART_IN, catalog.AMAZON_IN_KYC]
    by_name = [{"key": "productName", "value": "Uber Gift Card"}]
    assert ids(api.ok("getVouchers", {"filters": by_name})) == [catalog.UBER_US]
    delayed = [{"key": "deliveryType", "value": "delayed"}]
    assert ids(api.ok("getVouchers", {"filters": delayed})) == [catalog.ZALANDO_DE]
    cheap = [{"key": "currencyCode", "value": "USD"}, {"key": "maxPrice", "value": "12"}]
    assert ids(api.ok("getVouchers", {"filters": cheap})) == [
        catalog.AMAZON_US,
        catalog.VISA_PREPAID,
        catalog.LEGACY_BRAND,
    ]


def test_include_exclude_sort_and_paging(api: Api) -> None:
    data = {
        "excludeProducts": f"{catalog.LEGACY_BRAND},{catalog.AMAZON_IN_KYC}",
        "sort": {"field": "name", "order": "DESC"},
        "limit": 2,
        "page": 2,
    }
    names = [p["name"] for p in api.ok("getVouchers", data)]
    # DESC by name: Zalando, Visa, Uber, Flipkart, Amazon.com -> page 2 of 2 per page.
    assert names == ["Uber Gift Card", "Flipkart Gift Card"]


def test_no_vouchers_and_bad_filter_value_errors(api: Api) -> None:
    uk = {"filters": [{"key": "country", "value": "united_kingdom"}]}
    body = api.error("getVouchers", uk, 404, "PLE10030")
    assert body["error"] == "No Vouchers Found"
    api.error(
        "getVouchers", {"filters": [{"key": "country", "value": "atlantis"}]}, 400, "PLE10031"
    )
    api.error("getVouchers", {"filters": [{"key": "deliveryType", "value": "x"}]}, 400, "PLE10031")


def test_airmiles_and_charity_catalogs(api: Api) -> None:
    miles = api.ok("getVouchers", {"categoryType": "miles"})
    assert ids(miles) == [catalog.EMIRATES_MILES]
    assert miles[0]["loyaltyName"] == "Emirates Skywards"
    assert miles[0]["orderQuantityLimit"] == 1
    charity = api.ok("getVouchers", {"categoryType": "charity"})
    assert ids(charity) == [catalog.GLOBALGIVING]
    assert (charity[0]["minValue"], charity[0]["maxValue"]) == (1, 1000)


def test_topup_operators_then_plans(api: Api) -> None:
    operators = api.ok("getVouchers", {"categoryType": "topup"})
    assert ids(operators) == [catalog.AIRTEL_IN, catalog.VERIZON_US]
    assert all(p["parentProductId"] is None for p in operators)
    in_only = {"categoryType": "topup", "filters": [{"key": "country", "value": "IN"}]}
    assert ids(api.ok("getVouchers", in_only)) == [catalog.AIRTEL_IN]
    plans = api.ok("getVouchers", {"categoryType": "topup", "parentProductId": catalog.AIRTEL_IN})
    assert ids(plans) == [catalog.AIRTEL_199, catalog.AIRTEL_499]
    assert {p["parentProductId"] for p in plans} == {catalog.AIRTEL_IN}
    assert [p["valueDenominations"] for p in plans] == ["199", "499"]


def test_get_filters_groups_include_exclude_and_unknown_group(api: Api) -> None:
    groups = api.ok(
        "getFilters", {"filterGroupCode": "", "includeFilters": "", "excludeFilters": ""}
    )
    assert [g["filterGroupCode"] for g in groups] == [
        "country",
        "currency",
        "voucher_category",
        "product_category",
        "price",
    ]
    currencies = [f["filterValueCode"] for f in groups[1]["filters"]]
    assert {"USD", "INR", "EUR"} <= set(currencies)
    countries = api.ok("getFilters", {"filterGroupCode": "Country", "excludeFilters": "uae"})
    codes = [f["filterValueCode"] for f in countries[0]["filters"]]
    assert "uae" not in codes
    assert {"usa", "india", "germany"} <= set(codes)
    usa = next(f for f in countries[0]["filters"] if f["filterValueCode"] == "usa")
    assert usa == {"filterValue": "USA", "isoCode": "US", "filterValueCode": "usa"}
    body = api.error("getFilters", {"filterGroupCode": "planets"}, 404, "PLE10029")
    assert body["errorInfo"] == "Failed to find filters for filterGroupCode"


def test_lookup_mobile_number(api: Api) -> None:
    response = api.call("lookupMobileNumber", {"mobile_number": "+919857535678"})
    assert response.status_code == 200
    body = response.json()["data"]["lookupMobileNumber"]
    assert body["status"] == 1
    assert (body["operator"], body["countryCode"], body["productId"]) == ("Airtel", "IN", 55132)
    assert body["data"]["network_operator"] == "Airtel"
    assert body["data"]["parentProductId"] == catalog.AIRTEL_IN
    assert body["data"]["is_active"] is True
    us = api.call("lookupMobileNumber", {"mobileNumber": "+12125551234"}).json()
    assert us["data"]["lookupMobileNumber"]["productId"] == catalog.VERIZON_US
    api.error("lookupMobileNumber", {"mobile_number": "+442071234567"}, 404, "PLE10017")
