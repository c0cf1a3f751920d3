"""The real-shapes switches (xoxoday-api.md §12): each answers as a real account was seen to."""

from __future__ import annotations

import dataclasses
import time
from decimal import Decimal

import httpx
import pytest

from bot.cli import build_parser
from plumbing.jsonutil import loads
from simulator.xoxoday import DEMO_CREDENTIALS, SimConfig, config_from_args
from simulator.xoxoday.config import REAL_SHAPES
from tests.simulator.conftest import Api
from tests.support import wait_for

ORDER = {"productId": 27222, "quantity": 1, "denomination": 10, "poNumber": "RS-1"}


def config(api: Api, **fields: object) -> dict:
    return api.sim_post("config", fields)


def sim_orders(api: Api) -> list[dict]:
    return api.sim_get("orders")["orders"]


def refresh(api: Api, refresh_token: str = DEMO_CREDENTIALS["refresh_token"]) -> httpx.Response:
    return api.http.post(
        "/chef/v1/oauth/token/user",
        json={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": DEMO_CREDENTIALS["client_id"],
            "client_secret": DEMO_CREDENTIALS["client_secret"],
        },
    )


def test_the_defaults_stay_friendly_and_real_shapes_turns_every_switch_on(api: Api) -> None:
    friendly = SimConfig()
    assert all(getattr(friendly, k) != v for k, v in REAL_SHAPES.items())
    on = config(api, real_shapes=True, refund_share=0.5)
    assert {k: str(on[k]) for k in REAL_SHAPES if k != "refund_share"} == {
        k: str(v) for k, v in REAL_SHAPES.items() if k != "refund_share"
    }
    assert on["refund_share"] == 0.5  # fields of the same body apply after the preset
    off = config(api, real_shapes=False)
    assert all(off[k] == getattr(friendly, k) for k in REAL_SHAPES if k != "balance_inr_rate")
    assert off["balance_inr_rate"] is None
    assert api.sim_post("config", {"real_shapes": "yes"}, expect=400)["error"]


def test_the_real_shapes_flag_of_rewards_bot_simulator() -> None:
    args = build_parser().parse_args(["simulator", "--real-shapes", "--late-commit-delay", "5"])
    made = config_from_args(args)
    expected = dataclasses.replace(SimConfig(), **{**REAL_SHAPES, "late_commit_s": 5.0})
    assert made == expected
    assert config_from_args(build_parser().parse_args(["simulator"])) == SimConfig()


def test_balance_points_is_the_balance_and_value_its_inr_value(api: Api) -> None:
    config(api, balance_inr_rate="70.98")
    balance = api.ok("getBalance", {}, verb="query")
    assert balance == {"points": 10000, "value": 709800, "currency": "USD"}


def test_orders_answer_processing_then_complete(api: Api) -> None:
    config(api, processing_share=1, status_delay_s=0.2)
    placed = api.order(**ORDER)
    assert (placed["orderStatus"], placed["deliveryStatus"], placed["vouchers"]) == (
        "processing",
        "",
        [],
    )
    details = api.ok("getOrderDetails", {"poNumber": "RS-1"})
    assert (
        details["orderStatus"] == "processing"
        and details["voucherDetails"][0]["productStatus"] == ""
    )

    def completed() -> dict | None:
        answer = api.ok("getOrderDetails", {"poNumber": "RS-1"})
        return answer if answer["orderStatus"] == "complete" else None

    done = wait_for(completed)
    assert done["deliveryStatus"] == "delivered" and len(done["vouchers"]) == 1


@pytest.mark.parametrize(
    ("status", "order_status", "delivery_status"),
    [("refunded", "refunded", "canceled"), ("failed", "failed", "failed")],
)
def test_refunded_and_failed_orders_give_the_money_back(
    api: Api, status: str, order_status: str, delivery_status: str
) -> None:
    config(api, processing_share=1, status_delay_s=-1)
    api.order(**ORDER)
    assert api.balance() == Decimal("9990.2")
    api.sim_post("deliver", {"poNumber": "RS-1", "status": status})
    details = api.ok("getOrderDetails", {"poNumber": "RS-1"})
    assert (details["orderStatus"], details["deliveryStatus"]) == (order_status, delivery_status)
    assert details["voucherDetails"][0]["cancelledQuantity"] == 1
    assert api.balance() == 10000


def test_partial_cancel_delivers_the_rest_and_refunds_the_share(api: Api) -> None:
    config(api, processing_share=1, status_delay_s=-1)
    api.order(**{**ORDER, "quantity": 3})  # 3 × 10 USD, 2 % off: 29.40
    api.sim_post("deliver", {"poNumber": "RS-1", "status": "delivered", "cancelledQuantity": 1})
    details = api.ok("getOrderDetails", {"poNumber": "RS-1"})
    assert (details["orderStatus"], details["deliveryStatus"]) == ("complete", "delivered")
    assert details["voucherDetails"][0]["cancelledQuantity"] == 1
    assert len(details["vouchers"]) == 2
    assert api.balance() == Decimal("9980.40")  # 10000 - 29.40 + 9.80
    api.sim_post("deliver", {"poNumber": "RS-1", "status": "canceled"}, expect=409)  # settled


def test_shares_decide_how_orders_settle_by_themselves(api: Api) -> None:
    config(api, processing_share=1, status_delay_s=0.05, refund_share=1.0)
    api.order(**ORDER)
    wait_for(lambda: sim_orders(api)[0]["orderStatus"] == "refunded")
    assert api.balance() == 10000


def test_raw_status_words_for_answers_nobody_documented(api: Api) -> None:
    api.order(**ORDER)
    api.sim_post("status", {"poNumber": "RS-1", "orderStatus": "on_hold"})
    assert api.ok("getOrderDetails", {"poNumber": "RS-1"})["orderStatus"] == "on_hold"
    api.sim_post("status", {"poNumber": "RS-1"}, expect=400)


def test_expired_tokens_answer_auth_token_error(api: Api) -> None:
    config(api, token_error_shape=True)
    api.sim_post("tokens/expire")
    response = api.call("getBalance", {}, verb="query")
    assert (response.status_code, response.json()) == (
        401,
        {"success": 0, "error_message_id": "auth.token_error"},
    )


def test_token_error_fault(api: Api) -> None:
    api.sim_post("faults", {"op": "placeOrder", "kind": "token_error"})
    response = api.call("placeOrder", ORDER)
    assert response.status_code == 401 and response.json()["error_message_id"] == "auth.token_error"
    assert sim_orders(api) == []


def test_late_commit_answers_a_gateway_504_and_commits_later_unseen_until_then(api: Api) -> None:
    api.sim_post("faults", {"op": "placeOrder", "kind": "late_commit", "commit_after_s": 0.6})
    sent = time.monotonic()
    response = api.call("placeOrder", ORDER)
    assert response.status_code == 504
    assert response.headers["content-type"] == "text/html"
    assert b"504 Gateway Time-out" in response.content
    lookup = api.call("getOrderDetails", {"poNumber": "RS-1"})
    if time.monotonic() - sent < 0.6:  # answered before the commit was due (a loaded machine
        # may be slower: then only the commit below is shown)
        assert (lookup.status_code, lookup.json()["errorId"]) == (404, "PLE10016")
    wait_for(lambda: sim_orders(api))
    assert api.ok("getOrderDetails", {"poNumber": "RS-1"})["deliveryStatus"] == "delivered"
    assert api.balance() == Decimal("9990.2")


def test_a_late_commit_can_wait_for_lookups_instead_of_a_timer(api: Api) -> None:
    """commit_after_lookups: the order commits right after the Nth "not found", however long
    the client takes to ask (tests on a loaded machine)."""
    fault = {"op": "placeOrder", "kind": "late_commit", "commit_after_lookups": 2}
    api.sim_post("faults", fault)
    assert api.call("placeOrder", ORDER).status_code == 504
    for _ in range(2):
        lookup = api.call("getOrderDetails", {"poNumber": "RS-1"})
        assert (lookup.status_code, lookup.json()["errorId"]) == (404, "PLE10016")
    assert [o["poNumber"] for o in sim_orders(api)] == ["RS-1"]
    assert api.ok("getOrderDetails", {"poNumber": "RS-1"})["deliveryStatus"] == "delivered"
    assert api.balance() == Decimal("9990.2")


def test_placing_again_during_a_late_commit_pays_twice(api: Api) -> None:
    """The stand-in is as unforgiving as the real thing: a client that trusts the early "not
    found" and places again gets two orders with one poNumber."""
    api.sim_post("faults", {"op": "placeOrder", "kind": "late_commit", "commit_after_s": 0.3})
    assert api.call("placeOrder", ORDER).status_code == 504
    assert api.call("placeOrder", ORDER).status_code == 200
    wait_for(lambda: len(sim_orders(api)) == 2)
    assert [o["poNumber"] for o in sim_orders(api)] == ["RS-1", "RS-1"]
    assert api.balance() == Decimal("9980.4")


def test_a_late_commit_can_wait_for_the_order_to_be_placed_again(api: Api) -> None:
    """commit_after_placed_again: the first attempt commits right after the client, sure
    there was none, places the poNumber again (tests that must not time the second try)."""
    fault = {"op": "placeOrder", "kind": "late_commit", "commit_after_placed_again": True}
    api.sim_post("faults", fault)
    assert api.call("placeOrder", ORDER).status_code == 504
    lookup = api.call("getOrderDetails", {"poNumber": "RS-1"})
    assert (lookup.status_code, lookup.json()["errorId"]) == (404, "PLE10016")
    assert sim_orders(api) == []
    assert api.call("placeOrder", ORDER).status_code == 200
    assert [o["poNumber"] for o in sim_orders(api)] == ["RS-1", "RS-1"]
    bad = {**fault, "commit_after_placed_again": "yes"}
    assert "true or false" in api.sim_post("faults", bad, expect=400)["error"]


def test_late_commit_of_a_refused_order_never_commits(api: Api) -> None:
    """Held until the lookup that would commit it (not a timer that a loaded machine may not
    have run yet when the test looks): after that lookup, still no order."""
    fault = {"op": "placeOrder", "kind": "late_commit", "commit_after_lookups": 1}
    api.sim_post("faults", fault)
    assert api.call("placeOrder", {**ORDER, "denomination": 11}).status_code == 504
    lookup = api.call("getOrderDetails", {"poNumber": "RS-1"})
    assert (lookup.status_code, lookup.json()["errorId"]) == (404, "PLE10016")
    assert sim_orders(api) == []
    assert api.call("getOrderDetails", {"poNumber": "RS-1"}).status_code == 404


def test_redeem_failed_is_ple10010_and_creates_nothing(api: Api) -> None:
    api.sim_post("faults", {"op": "placeOrder", "kind": "redeem_failed"})
    body = api.error("placeOrder", ORDER, 422, "PLE10010")
    assert body["errorInfo"] == "Failed to redeem points"
    assert sim_orders(api) == []
    assert api.call("placeOrder", ORDER).status_code == 200  # placing again works


def test_shares_of_late_commits_and_ple10010(api: Api) -> None:
    config(api, late_commit_share=1.0, late_commit_s=0.05)
    assert api.call("placeOrder", ORDER).status_code == 504
    config(api, late_commit_share=0.0, redeem_failed_share=1.0)
    api.error("placeOrder", {**ORDER, "poNumber": "RS-2"}, 422, "PLE10010")
    wait_for(lambda: [o["poNumber"] for o in sim_orders(api)] == ["RS-1"])


@pytest.mark.parametrize(
    ("shape", "expected"),
    [
        (
            "field_table",
            {
                "status": "success",
                "message": "Operator found",
                "phone": "+919857535678",
                "network_operator": "Airtel",
                "is_active": True,
                "parentProductId": 55132,
            },
        ),
        ("spec", {"status": 1, "operator": "Airtel", "countryCode": "IN", "productId": 55132}),
    ],
)
def test_operator_lookup_shapes(api: Api, shape: str, expected: dict) -> None:
    config(api, operator_shape=shape)
    response = api.call("lookupMobileNumber", {"mobile_number": "+919857535678"})
    assert response.json() == {"data": {"lookupMobileNumber": expected}}


def test_operator_field_table_failure_is_a_200_with_status_failure(api: Api) -> None:
    config(api, operator_shape="field_table")
    response = api.call("lookupMobileNumber", {"mobile_number": "+442071234567"})
    assert response.status_code == 200
    assert response.json()["data"]["lookupMobileNumber"]["status"] == "failure"
    assert api.sim_post("config", {"operator_shape": "other"}, expect=400)


def test_exchange_rate_comes_when_asked_and_the_rule_is_an_inr_rate(api: Api) -> None:
    """§13 row 1: asked with exchangeRate 1, the rate comes (as text), for a product in the
    wallet's currency too; exchangeRateRule is units of the product's currency per rupee."""
    config(api, inr_rate_rule=True)
    products = api.ok("getVouchers", {"exchangeRate": 1, "includeProducts": "27222,31001"})
    rates = {p["productId"]: (p["exchangeRate"], p["exchangeRateRule"]) for p in products}
    assert rates[27222] == ("1", Decimal("0.012"))  # USD product: rate 1; the rule is INR
    assert rates[31001] == ("0.012", Decimal(1))  # INR product: its rate
    unasked = api.ok("getVouchers", {"includeProducts": "27222"})
    assert unasked[0]["exchangeRate"] is None  # not asked: null


def test_a_share_of_realtime_orders_answers_processing_the_rest_complete_with_codes(
    api: Api,
) -> None:
    """§13 row 3: every captured realtime answer is complete with its codes; the real shapes
    answer `processing` first for a share only."""
    config(api, real_shapes=True, processing_share=0.3, status_delay_s=-1, late_commit_share=0,
           redeem_failed_share=0)  # fmt: skip
    answers = [api.order(poNumber=f"SH-{n}") for n in range(40)]
    processing = [a for a in answers if a["orderStatus"] == "processing"]
    complete = [a for a in answers if a["orderStatus"] == "complete"]
    assert len(processing) + len(complete) == 40
    assert 4 <= len(processing) <= 20  # about 12 of 40
    assert all(a["deliveryStatus"] == "delivered" and len(a["vouchers"]) == 1 for a in complete)
    assert all(a["deliveryStatus"] == "" and a["vouchers"] == [] for a in processing)
    assert SimConfig().processing_share == 0 and REAL_SHAPES["processing_share"] == 0.1


def test_token_expiries_in_the_past_as_in_the_auth_spec_example(api: Api) -> None:
    config(api, token_expiry_in_past=True)
    body = refresh(api).json()
    assert (body["access_token_expiry"], body["refresh_token_expiry"]) == (
        "1718000000000",
        "1720000000000",
    )
    assert body["expires_in"] == "1296000"


def test_a_partial_cancel_shown_only_in_product_status(api: Api) -> None:
    config(api, cancel_in_product_status=True, processing_share=1, status_delay_s=-1)
    api.order(**{**ORDER, "quantity": 3})
    api.sim_post("deliver", {"poNumber": "RS-1", "status": "delivered", "cancelledQuantity": 1})
    details = api.ok("getOrderDetails", {"poNumber": "RS-1"})
    assert (details["orderStatus"], details["deliveryStatus"]) == ("complete", "delivered")
    assert [d["productStatus"] for d in details["voucherDetails"]] == [
        "delivered",
        "delivered",
        "Cancelled",
    ]
    assert all("cancelledQuantity" not in d for d in details["voucherDetails"])
    assert len(details["vouchers"]) == 2


def test_refresh_rate_limit_fault_answers_at_the_status_asked(api: Api) -> None:
    api.sim_post(
        "faults", {"op": "refreshToken", "kind": "rate_limit", "times": 2, "http_status": 400}
    )
    for _ in range(2):
        response = refresh(api)
        assert (response.status_code, response.json()) == (
            400,
            {"message": "auth.request_limit_exceeded"},
        )
    assert refresh(api).status_code == 200
    api.sim_post("faults", {"op": "refreshToken", "kind": "late_commit"}, expect=400)


def test_refresh_limit_per_minute(api: Api) -> None:
    config(api, refresh_limit_per_min=1, token_grace_s=3600)
    first = refresh(api)
    assert first.status_code == 200
    second = refresh(api, loads(first.content)["refresh_token"])
    assert second.status_code == 429
    assert loads(second.content) == {"message": "auth.request_limit_exceeded"}


def test_no_refresh_grace_kills_the_old_refresh_token_at_once(api: Api) -> None:
    config(api, token_grace_s=0)
    assert refresh(api).status_code == 200
    again = refresh(api)
    assert again.status_code == 400 and loads(again.content)["error"] == "invalid_grant"


def test_wrong_key_relabels_an_answer(api: Api) -> None:
    api.order(**ORDER)
    api.sim_post("faults", {"op": "getOrderHistory", "kind": "wrong_key"})
    today = time.strftime("%Y-%m-%d")
    response = api.call("getOrderHistory", {"startDate": today, "endDate": today})
    result = response.json()["data"]["getOrderDetails"]
    assert result["status"] == 1 and result["data"]["poNumber"] == "RS-1"
