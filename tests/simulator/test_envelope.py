"""The envelope variants of reference §1 and the auth/error shapes of §2.6 and §6.1."""

from __future__ import annotations

import json
from decimal import Decimal

from plumbing.jsonutil import loads
from tests.simulator.conftest import API, Api


def test_virtual_suffixes_and_trailing_slash_reach_the_same_endpoint(api: Api) -> None:
    for path in (API, API + "/", API + "/getBalance", API + "/giftcard/getVouchers"):
        data = api.ok("getBalance", {}, verb="query", path=path)
        assert data == {"points": 10000, "value": 10000, "currency": "USD"}


def test_flat_variables_are_read_like_variables_data(api: Api) -> None:
    body = {
        "query": "plumProAPI.mutation.getFilters",
        "tag": "plumProAPI",
        "variables": {"filterGroupCode": "country", "includeFilters": "india,usa"},
    }
    response = api.post(API + "/getFilters", body)
    assert response.status_code == 200
    groups = loads(response.content)["data"]["getFilters"]["data"]
    assert [g["filterGroupCode"] for g in groups] == ["country"]
    assert [f["filterValueCode"] for f in groups[0]["filters"]] == ["india", "usa"]


def test_get_balance_from_the_url_query_string_without_a_body(api: Api) -> None:
    params = {
        "query": "plumProAPI.query.getBalance",
        "tag": "plumProAPI",
        "variables": json.dumps({"data": {}}),
    }
    response = api.http.post(API, params=params, headers={"Authorization": f"Bearer {api.token}"})
    assert response.status_code == 200
    assert loads(response.content) == {
        "data": {
            "getBalance": {
                "status": 1,
                "data": {"points": 10000, "value": 10000, "currency": "USD"},
            }
        }
    }


def test_payment_history_with_data_data_flat_data_and_the_mcp_query_name(api: Api) -> None:
    api.order(denomination=25, poNumber="PH-1")
    window = {"startDate": "2000-01-01", "endDate": "2100-12-31", "limit": 10, "page": 1}
    bodies = [
        {
            "query": "plumProAPI.mutation.paymentHistory",
            "tag": "plumProAPI",
            "data": {"data": window},
        },
        {"query": "plumProAPI.mutation.paymentHistory", "tag": "plumProAPI", "data": window},
        {"query": "plumProAPI.mutation.getPaymentReport", "tag": "plumProAPI", "data": window},
    ]
    for body in bodies:
        response = api.post(API, body)
        assert response.status_code == 200, response.text
        rows = loads(response.content)["data"]["getPaymentReport"]["data"]
        assert [r["reason"] for r in rows] == ["Brand Voucher(s) Issued", "Funds added"]
        assert rows[0]["adjusted_amount"] == Decimal("24.5")  # 25 less the 2 % discount
        assert rows[0]["closing_balance"] == Decimal("9975.5")


def test_numeric_fields_as_strings_are_accepted(api: Api) -> None:
    data = api.order(productId="27222", quantity="2", denomination="25", poNumber="STR-1")
    assert data["quantity"] == 2
    assert data["orderTotal"] == 50
    assert len(data["vouchers"]) == 2


def test_unknown_query_and_unparseable_body_are_application_errors(api: Api) -> None:
    unknown = api.post(API, {"query": "plumProAPI.mutation.sendLinks", "tag": "plumProAPI"})
    assert unknown.status_code == 400
    assert loads(unknown.content)["errorId"] == "PLE10033"
    garbage = api.post(
        API, None, content=b"{not json", headers={"Content-Type": "application/json"}
    )
    assert garbage.status_code == 400
    assert set(loads(garbage.content)) == {"code", "errorId", "errorInfo", "error"}


def test_missing_or_malformed_authorization_is_invalid_request(api: Api) -> None:
    body = {"query": "plumProAPI.query.getBalance", "tag": "plumProAPI", "variables": {"data": {}}}
    expected = {
        "error": "invalid_request",
        "error_description": "missing/invalid parameters authorization header",
    }
    no_header = api.http.post(API, json=body)
    assert no_header.status_code == 401
    assert no_header.json() == expected
    basic = api.http.post(API, json=body, headers={"Authorization": "Basic abc"})
    assert basic.status_code == 401
    assert basic.json() == expected


def test_unknown_token_is_invalid_token(api: Api) -> None:
    response = api.call("getBalance", {}, verb="query", token="not-a-token")
    assert response.status_code == 401
    assert response.json() == {
        "error": "invalid_token",
        "error_description": "invalid/expired token",
    }


def test_unknown_route_is_404(api: Api) -> None:
    assert api.http.get("/chef/v1/nothing").status_code == 404
    assert api.http.get("/_sim/nothing").status_code == 404
