"""GET /metrics after a run of orders with faults: every family there, with the right values,
parsed with prometheus_client's own parser; nothing about a person in it."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from bot.local import LocalStack, start_local_stack
from services.inflight import confirm_delay
from services.rewards import RewardSpec
from services.xoxoday.ratelimit import RateLimiter
from storage import orders as order_store
from tests.support import HANG_S, SimControl, make_client, wait_for

REQUESTER = "UREQUESTER"
APPROVER = "UAPPROVER"


def scrape(url: str) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """Every sample of /metrics: {sample name: {sorted labels: value}}."""
    response = httpx.get(f"{url}/metrics", timeout=10)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def value(samples: dict[str, Any], name: str, **labels: str) -> float:
    return samples[name][tuple(sorted(labels.items()))]


def gifts(prefix: str, n: int) -> list[RewardSpec]:
    return [
        RewardSpec(product_id=27222, denomination=Decimal(25), email=f"{prefix}{i}@example.com")
        for i in range(n)
    ]


@pytest.fixture
def stack(xo: SimControl, tmp_path: Path) -> Iterator[LocalStack]:
    running = start_local_stack(
        tmp_path / "metrics.db",
        sim=xo.running,
        # Never met (a hang guard): a test that needs a short in-flight window sets it.
        xoxoday_place_order_timeout_s=HANG_S,
    )
    yield running
    running.stop()


class WaitedClock:
    """A rate limiter's clock in which time passes only while a caller waits (its sleep):
    Xoxoday's penalty is met by the next call after it, however late a busy machine makes
    that call, and the wait is counted the same on any machine."""

    def __init__(self) -> None:
        self._now = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        with self._lock:
            return self._now

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self._now += seconds


def test_metrics_after_a_run_of_orders_with_faults(xo: SimControl, stack: LocalStack) -> None:
    runtime = stack.bot.runtime
    rewards = runtime.rewards
    # Only the faults below make an outcome unknown: the client's placeOrder timeout is a
    # hang guard here, so a placement a loaded machine slows past 1 s is not one more unknown.
    # The in-flight window (that timeout in production) is 1 s: a "not found" is trusted soon.
    # Shorter than the timeout is safe here only: the faults' orders never commit later.
    runtime.worker.orders.inflight_window_s = 1.0
    runtime.worker.orders.confirm_after_s = confirm_delay(1.0)
    clock = WaitedClock()
    runtime.client.limiter = RateLimiter(
        scale=stack.settings.xoxoday_rate_scale,
        clock=clock,
        sleep=clock.sleep,
        on_wait=runtime.metrics.rate_limit_wait,
    )
    xo.config(latency_ms=100)  # in the call-duration histogram below
    # The first placeOrder calls meet these, one each, whichever orders they are for.
    xo.fault("placeOrder", "http_500_after_commit", 1)  # the order exists: adopted
    xo.fault("placeOrder", "http_500_before_commit", 1)  # it does not: placed again
    # Tried again after the wait; the next placeOrder call after it (that one at the latest)
    # waits for the penalty on the limiter's clock.
    xo.fault("placeOrder", "rate_limit", 1, penalty_seconds=3)
    xo.fault("placeOrder", "out_of_stock", 1)  # a 502 (PLE10024): looked up, placed again
    # Slack refuses the first message about the requests (retried later by the notifier).
    stack.slack.fail_next("chat.postMessage", status=200, error="internal_error")

    approved = rewards.create(REQUESTER, gifts("a", 8), requester_name="Requester")
    rejected = rewards.create(REQUESTER, gifts("r", 1), requester_name="Requester")
    rewards.create(REQUESTER, gifts("p", 1), requester_name="Requester")  # left pending
    rewards.approve(approved.request.id, APPROVER)
    rewards.reject(rejected.request.id, APPROVER, "not this time")
    database = stack.bot.runtime.database
    wait_for(
        lambda: (
            order_store.count_by_state(database)
            == {
                "delivered": 8,
                "withdrawn": 1,
                "pending_approval": 1,
            }
        ),
    )
    wait_for(lambda: stack.slack.calls("chat.postMessage"))
    samples = scrape(stack.url)

    # read from the database at scrape time
    assert value(samples, "rewards_database_ok") == 1
    orders = {dict(k)["state"]: v for k, v in samples["rewards_orders"].items()}
    assert orders == {
        "pending_approval": 1,
        "choosing": 0,  # a recipient's choice still to make (issue 18)
        "queued": 0,
        "placing": 0,
        "unknown": 0,
        "placed": 0,
        "delivered": 8,
        "canceled": 0,
        "failed": 0,
        "withdrawn": 1,
    }
    requests = {dict(k)["state"]: v for k, v in samples["rewards_requests"].items()}
    assert requests == {
        "pending_approval": 1,
        "approved": 1,
        "rejected": 1,
        "cancelled": 0,
        "expired": 0,
    }
    worker = stack.bot.runtime.worker
    assert value(samples, "rewards_worker_lease_held") == 1
    [(holder_labels, held)] = samples["rewards_worker_lease_holder"].items()
    assert held == 1 and dict(holder_labels)["holder"] == worker.name
    assert 0 <= value(samples, "rewards_worker_last_round_age_seconds") < 60
    # The balance as last fetched, less what was charged since: what Xoxoday holds now.
    with make_client(xo.base_url) as client:
        actual = client.get_balance()
    assert value(samples, "rewards_wallet_balance", currency="USD") == float(actual.amount)
    assert value(samples, "rewards_wallet_balance_age_seconds") >= 0
    # the refused message waits for another try
    assert value(samples, "rewards_notification_backlog", consumer="slack") >= 1

    # counted in the process
    placed = xo.stats()["calls"]["placeOrder"]
    assert placed == 11  # 8 orders, two placed again, one tried again after the rate limit
    calls = {
        tuple(dict(k)[n] for n in ("op", "outcome")): v
        for k, v in samples["rewards_xoxoday_calls_total"].items()
    }
    assert calls[("placeOrder", "ok")] == 7
    assert calls[("placeOrder", "server_error")] == 3
    assert calls[("placeOrder", "rate_limited")] == 1
    assert ("placeOrder", "refused") not in calls
    lookups = sum(v for (op, _), v in calls.items() if op == "getOrderDetails")
    assert lookups == xo.stats()["calls"]["getOrderDetails"] >= 3
    assert value(samples, "rewards_xoxoday_call_seconds_count", op="placeOrder") == placed
    slowest = value(samples, "rewards_xoxoday_call_seconds_bucket", op="placeOrder", le="0.05")
    assert slowest < placed  # the simulator's 100 ms latency is in the histogram
    assert value(samples, "rewards_placements_total", outcome="placed") == 7
    assert value(samples, "rewards_placements_total", outcome="unknown") == 3
    assert value(samples, "rewards_placements_total", outcome="failed") == 0
    assert value(samples, "rewards_placements_total", outcome="retry") == 1
    assert value(samples, "rewards_reconciliations_total", result="adopted") == 1
    assert value(samples, "rewards_reconciliations_total", result="placed_again") == 2
    assert value(samples, "rewards_reconciliations_total", result="not_found") >= 1
    assert value(samples, "rewards_reconciliations_total", result="gave_up") == 0
    assert value(samples, "rewards_xoxoday_rate_limit_waits_total", op="placeOrder") >= 1
    assert value(samples, "rewards_xoxoday_rate_limit_wait_seconds_total", op="placeOrder") >= 3
    assert (
        value(
            samples,
            "rewards_slack_api_errors_total",
            method="chat.postMessage",
            error="internal_error",
        )
        == 1
    )

    # never people, codes, poNumbers or per-person amounts
    text = httpx.get(f"{stack.url}/metrics").text
    private = {REQUESTER, APPROVER, "Requester", "example.com"}
    private |= {o["poNumber"] for o in xo.orders()}
    private |= {code for o in xo.orders() for code in o["vouchers"]}
    assert [p for p in private if p in text] == []


def test_metrics_off_hides_the_route(xo: SimControl, tmp_path: Path) -> None:
    running = start_local_stack(tmp_path / "off.db", sim=xo.running, rewards_metrics="off")
    try:
        assert httpx.get(f"{running.url}/metrics").status_code == 404
        assert httpx.get(f"{running.url}/healthz").status_code == 200
    finally:
        running.stop()


def test_metrics_answer_this_machine_or_the_bearer_token_only(
    xo: SimControl, stack: LocalStack, tmp_path: Path
) -> None:
    """/metrics shows the wallet balance, and in HTTP mode its port faces the internet for
    Slack (review finding): another address gets 403 unless it brings REWARDS_METRICS_TOKEN.
    The bot's own WSGI app is called with the client address a socket would give it."""

    def get(running: LocalStack, address: str, **headers: str) -> httpx.Response:
        transport = httpx.WSGITransport(app=running.bot.wsgi(), remote_addr=address)
        with httpx.Client(transport=transport, base_url="http://bot") as client:
            return client.get("/metrics", headers=headers)

    assert get(stack, "127.0.0.1").status_code == 200
    assert get(stack, "::ffff:127.0.0.1").status_code == 200
    outside = get(stack, "203.0.113.9")
    assert outside.status_code == 403 and "rewards_wallet_balance" not in outside.text

    token = "metrics-token-0123456789"
    guarded = start_local_stack(tmp_path / "token.db", sim=xo.running, rewards_metrics_token=token)
    try:
        assert get(guarded, "203.0.113.9").status_code == 403
        assert get(guarded, "203.0.113.9", Authorization="Bearer wrong").status_code == 403
        answer = get(guarded, "203.0.113.9", Authorization=f"Bearer {token}")
        assert answer.status_code == 200 and "rewards_orders" in answer.text
        assert get(guarded, "127.0.0.1").status_code == 403  # with a token, everyone shows it
    finally:
        guarded.stop()


def test_audit_metrics_last_run_and_findings_by_kind(xo: SimControl, stack: LocalStack) -> None:
    """The running worker audits yesterday at once; an audit of today with an orphan and a
    top-up shows them by kind (every kind a series, at 0 when none)."""
    from datetime import UTC, datetime

    from storage import audit as audit_store

    database = stack.bot.runtime.database
    wait_for(lambda: audit_store.latest_done(database))
    samples = scrape(stack.url)
    ran = value(samples, "rewards_audit_last_run_timestamp_seconds")
    assert 0 <= time.time() - ran < 60
    kinds = ("orphan", "missing", "charge_mismatch", "topup", "refund", "adjustment")
    assert {
        dict(k)["kind"]: v for k, v in samples["rewards_audit_findings"].items()
    } == dict.fromkeys(kinds, 0)
    assert value(samples, "rewards_audit_failing_days") == 0

    today = datetime.now(UTC).date()
    orphan = {"productId": 27222, "denomination": 10, "poNumber": "HAND-M"}
    assert httpx.post(f"{xo.running.url}/_sim/orphan", json=orphan).status_code == 200
    assert httpx.post(f"{xo.running.url}/_sim/topup", json={"amount": 100}).status_code == 200
    stack.bot.runtime.auditor.run(today, actor="test", complete=True)
    found = {dict(k)["kind"]: v for k, v in scrape(stack.url)["rewards_audit_findings"].items()}
    assert found == {**dict.fromkeys(kinds, 0), "orphan": 1, "topup": 1}
