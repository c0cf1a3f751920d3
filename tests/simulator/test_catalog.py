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
        catalog.TESCO_UK,
        catalog.ARGOS_UK,
        catalog.GOOGLE_PLAY,
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
    airbnb = products[7]  # productMeta asks for a checkout field placeOrder requires
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
        catalog.GOOGLE_PLAY,
    ]
    india = api.ok("getVouchers", {"filters": [{"key": "country", "value": "india"}]})
    assert ids(india) == [catalog.FLIPKART_IN, catalog.AMAZON_IN_KYC, catalog.GOOGLE_PLAY]
    by_name = [{"key": "productName", "value": "Uber Gift Card"}]
    assert ids(api.ok("getVouchers", {"filters": by_name})) == [catalog.UBER_US]
    delayed = [{"key": "deliveryType", "value": "delayed"}]
    assert ids(api.ok("getVouchers", {"filters": delayed})) == [catalog.ZALANDO_DE]
    cheap = [{"key": "currencyCode", "value": "USD"}, {"key": "maxPrice", "value": "12"}]
    assert ids(api.ok("getVouchers", {"filters": cheap})) == [
        catalog.AMAZON_US,
        catalog.VISA_PREPAID,
        catalog.LEGACY_BRAND,
        catalog.GOOGLE_PLAY,
    ]


def test_include_exclude_sort_and_paging(api: Api) -> None:
    data = {
        "excludeProducts": f"{catalog.LEGACY_BRAND},{catalog.AMAZON_IN_KYC}",
        "sort": {"field": "name", "order": "DESC"},
        "limit": 2,
        "page": 2,
    }
    names = [p["name"] for p in api.ok("getVouchers", data)]
    # DESC by name: Zalando, Visa, Uber, Tesco, Google Play, Flipkart... -> page 2 of 2 per page.
    assert names == ["Uber Gift Card", "Tesco Gift Card"]


def test_no_vouchers_and_bad_filter_value_errors(api: Api) -> None:
    uae = {"filters": [{"key": "country", "value": "uae"}]}
    body = api.error("getVouchers", uae, 404, "PLE10030")
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
        "currencyCode",
        "voucher_category",
        "product_category",
        "price",
    ]
    currencies = [f["filterValueCode"] for f in groups[1]["filters"]]
    assert currencies == ["USD", "INR", "GBP", "EUR"]
    # The docs' group name `currency` answers the same group.
    assert api.ok("getFilters", {"filterGroupCode": "currency"}) == [groups[1]]
    countries = api.ok("getFilters", {"filterGroupCode": "Country", "excludeFilters": "uae"})
    codes = [f["filterValueCode"] for f in countries[0]["filters"]]
    assert "uae" not in codes
    assert {"usa", "india", "uk", "germany"} <= set(codes)
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


def test_products_sold_in_several_countries_and_both_country_value_forms(api: Api) -> None:
    """The country filter takes getFilters' filterValueCode (`uk`, as staging answers) and
    the ISO code (`GB`, as the docs' example shows); a product sold in two countries is in
    both catalogs and lists both in `countries`."""
    uk = api.ok("getVouchers", {"filters": [{"key": "country", "value": "uk"}]})
    assert ids(uk) == [catalog.TESCO_UK, catalog.ARGOS_UK]
    assert ids(api.ok("getVouchers", {"filters": [{"key": "country", "value": "GB"}]})) == ids(uk)
    assert uk[0]["currencyCode"] == "GBP"
    assert uk[0]["countries"] == [{"code": "GB", "name": "UK"}]
    usa = ids(api.ok("getVouchers", {"filters": [{"key": "country", "value": "usa"}]}))
    india = ids(api.ok("getVouchers", {"filters": [{"key": "country", "value": "IN"}]}))
    assert catalog.GOOGLE_PLAY in usa and catalog.GOOGLE_PLAY in india
    [play] = api.ok("getVouchers", {"includeProducts": str(catalog.GOOGLE_PLAY)})
    assert play["countries"] == [{"code": "US", "name": "USA"}, {"code": "IN", "name": "India"}]
    france = api.ok("getVouchers", {"filters": [{"key": "country", "value": "france"}]})
    assert ids(france) == [catalog.ZALANDO_DE]
    gbp = [{"key": "currencyCode", "value": "GBP"}]
    assert ids(api.ok("getVouchers", {"filters": gbp})) == [catalog.TESCO_UK, catalog.ARGOS_UK]


def test_the_days_rates_price_the_catalog_and_the_charge(api: Api) -> None:
    """exchangeRate is the rate locked for the day; a new day's lock (/_sim/rates) changes
    both what the catalog says and what placeOrder charges ("GBP 25 × 1.28 = USD 32.00")."""
    asked = {"exchangeRate": 1, "includeProducts": str(catalog.TESCO_UK)}
    assert api.ok("getVouchers", asked)[0]["exchangeRate"] == "1.28"
    order = {"productId": catalog.TESCO_UK, "quantity": 1, "denomination": 25, "poNumber": "T1"}
    placed = api.ok("placeOrder", order)
    assert (placed["amountCharged"], placed["currencyCode"]) == (32, "USD")
    assert placed["vouchers"][0]["currency"] == "GBP"
    response = api.http.post("/_sim/rates", json={"GBP": "1.30"})
    assert response.json()["rates"]["GBP"] == "1.30"
    assert api.ok("getVouchers", asked)[0]["exchangeRate"] == "1.3"
    placed = api.ok("placeOrder", {**order, "poNumber": "T2"})
    assert placed["amountCharged"] == Decimal("32.5")
    assert api.http.post("/_sim/rates", json={"XYZ": "1"}).status_code == 400
    assert api.http.post("/_sim/rates", json={"GBP": "-1"}).status_code == 400


def test_an_account_that_may_not_order_abroad_is_refused_with_ple10019(api: Api) -> None:
    assert api.http.post("/_sim/config", json={"domestic_only": True}).status_code == 200
    abroad = {"productId": catalog.TESCO_UK, "quantity": 1, "denomination": 10, "poNumber": "X"}
    body = api.error("placeOrder", abroad, 401, "PLE10019")
    assert body["errorInfo"] == "Clients are not allowed to place international orders"
    home = {"productId": catalog.GOOGLE_PLAY, "quantity": 1, "denomination": 10, "poNumber": "Y"}
    api.ok("placeOrder", home)  # sold in the USA (and India)
    api.http.post("/_sim/config", json={"account_country": "IN"})
    api.ok("placeOrder", {**home, "poNumber": "Z"})
    api.error("placeOrder", {**abroad, "poNumber": "W"}, 401, "PLE10019")
    assert api.http.post("/_sim/config", json={"account_country": "XX"}).status_code == 400


def test_a_synthetic_catalog_of_a_real_accounts_size(api: Api) -> None:
    response = api.http.post("/_sim/catalog", json={"synthetic": 2000})
    assert response.json()["products"] >= 2000
    page = api.ok("getVouchers", {"limit": 100, "page": 4, "filters": [
        {"key": "country", "value": "uk"}]})  # fmt: skip
    assert len(page) == 100 and all(p["currencyCode"] == "GBP" for p in page)
    assert api.http.post("/_sim/catalog", json={"synthetic": -1}).status_code == 400
    api.http.post("/_sim/reset")
    assert len(api.ok("getVouchers", {"limit": 100})) < 20
