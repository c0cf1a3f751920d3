"""Injected faults, rate limits and latency."""

from __future__ import annotations

import json
import time
from decimal import Decimal

import httpx
import pytest

from simulator.xoxoday import SimConfig, start
from simulator.xoxoday.ratelimit import RateLimiter
from tests.simulator.conftest import Api

ORDER = {"productId": 27222, "quantity": 1, "denomination": 10, "poNumber": "F-1"}


def fault(api: Api, kind: str, op: str = "placeOrder", times: int = 1, **extra: object) -> None:
    api.sim_post("faults", {"op": op, "kind": kind, "times": times, **extra})


def orders(api: Api) -> list[str]:
    return [o["poNumber"] for o in api.sim_get("orders")["orders"]]


def test_http_500_after_commit_leaves_an_order_to_reconcile(api: Api) -> None:
    fault(api, "http_500_after_commit")
    response = api.call("placeOrder", ORDER)
    assert response.status_code == 500
    assert response.json() == {"code": 500, "error": "Internal server error"}
    assert orders(api) == ["F-1"]
    assert api.balance() == Decimal("9990.2")
    assert api.ok("getOrderDetails", {"poNumber": "F-1"})["deliveryStatus"] == "delivered"
    assert api.call("placeOrder", ORDER).json()["errorId"] == "PLE10004"


def test_http_500_before_commit_leaves_nothing(api: Api) -> None:
    fault(api, "http_500_before_commit")
    assert api.call("placeOrder", ORDER).status_code == 500
    assert orders(api) == []
    assert api.balance() == 10000
    assert api.call("placeOrder", ORDER).status_code == 200


def test_timeout_after_commit(api: Api) -> None:
    fault(api, "timeout_after_commit", delay_s=0.4)
    with pytest.raises(httpx.ReadTimeout):
        api.call("placeOrder", ORDER, timeout=0.15)
    assert orders(api) == ["F-1"]
    assert api.balance() == Decimal("9990.2")


def test_malformed_json_commits_then_answers_truncated_json(api: Api) -> None:
    fault(api, "malformed_json")
    response = api.call("placeOrder", ORDER)
    assert response.status_code == 200
    assert response.text.startswith('{"data":{"placeOrder":')
    with pytest.raises(json.JSONDecodeError):
        json.loads(response.text)
    assert orders(api) == ["F-1"]


def test_rate_limit_fault_uses_the_given_penalty(api: Api) -> None:
    fault(api, "rate_limit", penalty_seconds=7)
    response = api.call("placeOrder", ORDER)
    assert response.status_code == 429
    assert response.json() == {
        "errors": [{"message": "auth.request_limit_exceeded", "penaltySeconds": 7}]
    }
    assert orders(api) == []
    assert api.sim_get("stats")["rate_limited"] == {"placeOrder": 1}


def test_invalid_token_fault_for_the_next_call_only(api: Api) -> None:
    fault(api, "invalid_token", op="getBalance")
    first = api.call("getBalance", {}, verb="query")
    assert first.status_code == 401
    assert first.json()["error"] == "invalid_token"
    assert api.call("getBalance", {}, verb="query").status_code == 200


@pytest.mark.parametrize(
    ("kind", "error_id"), [("out_of_stock", "PLE10024"), ("http_502", "PLE10025")]
)
def test_502_faults_commit_nothing(api: Api, kind: str, error_id: str) -> None:
    fault(api, kind)
    response = api.call("placeOrder", ORDER)
    assert response.status_code == 502
    assert response.json()["errorId"] == error_id
    assert response.json()["code"] == 502
    assert orders(api) == []
    assert api.balance() == 10000


def test_status_zero_is_a_200_failure(api: Api) -> None:
    fault(api, "status_zero")
    response = api.call("placeOrder", ORDER)
    assert response.status_code == 200
    body = response.json()["data"]["placeOrder"]
    assert body["status"] == 0
    assert body["message"]
    assert orders(api) == []


def test_times_and_wildcard_op(api: Api) -> None:
    fault(api, "http_500_before_commit", op="*", times=2)
    assert api.call("getVouchers", {}).status_code == 500
    assert api.call("getBalance", {}, verb="query").status_code == 500
    assert api.call("getBalance", {}, verb="query").status_code == 200
    assert api.sim_get("stats")["faults_applied"] == {"http_500_before_commit": 2}
    bad = api.http.post("/_sim/faults", json={"op": "placeOrder", "kind": "meteor"})
    assert bad.status_code == 400


def test_rate_limit_scaled_sliding_window(api: Api) -> None:
    api.sim_post("config", {"rate_scale": 0.1})  # getVouchers 50 -> 5 a minute
    codes = [api.call("getVouchers", {}).status_code for _ in range(6)]
    assert codes == [200] * 5 + [429]
    penalty = api.call("getVouchers", {}).json()["errors"][0]["penaltySeconds"]
    assert 55 <= penalty <= 60
    # Limits are per operation: placeOrder (100 -> 10) is untouched.
    assert api.call("placeOrder", ORDER).status_code == 200
    stats = api.sim_get("stats")
    assert stats["calls"]["getVouchers"] == 7
    assert stats["rate_limited"] == {"getVouchers": 2}
    assert stats["limits"]["getBalance"] == 1
    api.sim_post("config", {"rate_scale": 0})  # no limits at all
    assert all(api.call("getVouchers", {}).status_code == 200 for _ in range(60))


def test_window_frees_a_slot_sixty_seconds_after_the_oldest_call() -> None:
    limiter = RateLimiter()
    assert limiter.check("getBalance", 0.0, 0.2) is None  # limit 10 × 0.2 = 2
    assert limiter.check("getBalance", 30.0, 0.2) is None
    assert limiter.check("getBalance", 45.5, 0.2) == 15  # ceil(60 - 45.5)
    assert limiter.check("getBalance", 59.9, 0.2) == 1
    assert limiter.check("getBalance", 60.0, 0.2) is None
    assert limiter.check("getBalance", 61.0, 0.2) == 29


def test_startup_config_is_kept_across_reset_and_latency_applies() -> None:
    sim = start(SimConfig(rate_scale=0.2, latency_ms=150))
    try:
        api = Api(sim, httpx.Client(base_url=sim.url, timeout=5))
        codes = [api.call("getBalance", {}, verb="query").status_code for _ in range(3)]
        assert codes == [200, 200, 429]
        api.sim_post("reset")
        began = time.monotonic()
        assert api.call("getBalance", {}, verb="query").status_code == 200
        assert time.monotonic() - began >= 0.15
        api.http.close()
    finally:
        sim.stop()
