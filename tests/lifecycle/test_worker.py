"""Placement: exactly once whatever Xoxoday answers, reconciled by poNumber, failures explained."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from bot.runtime import Runtime
from services import errors as domain
from services.order_work import OrderWork
from services.worker import Worker
from storage import events, ledger
from storage import orders as order_store
from storage.models import OrderRow
from tests.lifecycle.conftest import (
    APPROVER,
    REQUESTER,
    charity,
    gift,
    miles,
    sim_po_counts,
    states,
    topup,
)
from tests.support import HANG_S, SimControl, wait_for


def approved(runtime: Runtime, *specs: object) -> int:
    decision = runtime.rewards.create(REQUESTER, list(specs))  # type: ignore[arg-type]
    runtime.rewards.approve(decision.request.id, APPROVER)
    return decision.request.id


def kinds(runtime: Runtime, request_id: int) -> list[str]:
    return [e.kind for e in events.for_request(runtime.database, request_id)]


def test_each_reward_type_is_placed_once(runtime: Runtime, xo: SimControl) -> None:
    request_id = approved(runtime, gift(), miles(), charity(), topup())
    runtime.worker.run(until_idle=True)
    assert states(runtime, request_id) == ["delivered", "placed", "delivered", "placed"]
    orders = order_store.for_request(runtime.database, request_id)
    assert sim_po_counts(xo) == {o.po_number: 1 for o in orders}
    gift_order = orders[0]
    assert gift_order.xoxoday_order_id and gift_order.amount_charged == Decimal("24.50")
    # the request log holds the placeOrder exchange, with the voucher code redacted
    logged = runtime.database.query(
        "SELECT * FROM api_calls WHERE po_number = ?", [gift_order.po_number]
    )
    assert [c["op"] for c in logged] == ["placeOrder"]
    assert "[redacted]" in logged[0]["response"] and "DEMO-" not in logged[0]["response"]


def test_ten_approvers_at_once_place_one_order(runtime: Runtime, xo: SimControl) -> None:
    decision = runtime.rewards.create(REQUESTER, [gift()])
    barrier = threading.Barrier(10)
    outcomes: list[str] = []

    def approve(user: str) -> None:
        barrier.wait()
        try:
            runtime.rewards.approve(decision.request.id, user)
            outcomes.append("approved")
        except domain.RequestNotPending:
            outcomes.append("already decided")

    threads = [
        threading.Thread(target=approve, args=("UAPPROVER" if i % 2 else "UAPPROVER2",))
        for i in range(10)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["already decided"] * 9 + ["approved"]
    runtime.worker.run(until_idle=True)
    assert len(xo.orders()) == 1
    assert kinds(runtime, decision.request.id).count("request.approved") == 1


@pytest.mark.parametrize("kind", ["http_500_after_commit", "malformed_json"])
def test_lost_answer_after_commit_adopts_the_existing_order(
    runtime: Runtime, xo: SimControl, kind: str
) -> None:
    request_id = approved(runtime, gift())
    xo.fault("placeOrder", kind)
    runtime.worker.run(until_idle=True)
    assert states(runtime, request_id) == ["delivered"]
    assert len(xo.orders()) == 1
    assert xo.calls("placeOrder") == 1  # looked up, not placed again
    history = kinds(runtime, request_id)
    assert history.index("order.unknown") < history.index("order.placed")
    [order] = order_store.for_request(runtime.database, request_id)
    assert [
        c["op"]
        for c in runtime.database.query(
            "SELECT op FROM api_calls WHERE po_number = ?", [order.po_number]
        )
    ] == [
        "placeOrder",
        "getOrderDetails",
    ]


def test_an_order_whose_task_failed_is_looked_up_not_left_placing(
    runtime: Runtime, xo: SimControl, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The answer is lost after Xoxoday committed, and recording that fails too (the database
    locked past its busy timeout, twice): the task ends in an exception with the order still
    `placing`. The worker takes it as it takes a crash: unknown, looked up, adopted, once;
    `until_idle` ends instead of waiting for ever."""
    request_id = approved(runtime, gift())
    xo.fault("placeOrder", "http_500_after_commit")
    real, locked = OrderWork._to_unknown, iter([True, True])

    def database_locked(self: OrderWork, *args: object, **kwargs: object) -> None:
        if next(locked, False):
            raise sqlite3.OperationalError("database is locked")
        real(self, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(OrderWork, "_to_unknown", database_locked)
    done = threading.Thread(target=runtime.worker.run, kwargs={"until_idle": True}, daemon=True)
    done.start()
    done.join(timeout=30)
    assert not done.is_alive(), "the worker waited for ever on an order left placing"
    assert states(runtime, request_id) == ["delivered"]
    assert len(xo.orders()) == 1 and xo.calls("placeOrder") == 1
    assert "order.recovered" in kinds(runtime, request_id)


def test_lost_answer_before_commit_places_again_with_the_same_po_number(
    runtime: Runtime, xo: SimControl
) -> None:
    request_id = approved(runtime, gift())
    xo.fault("placeOrder", "http_500_before_commit")
    runtime.worker.run(until_idle=True)
    assert states(runtime, request_id) == ["delivered"]
    [order] = order_store.for_request(runtime.database, request_id)
    assert sim_po_counts(xo) == {order.po_number: 1}
    assert xo.calls("placeOrder") == 2
    assert "order.requeued" in kinds(runtime, request_id)


def test_timeout_after_commit_is_reconciled(
    make_runtime: Callable[..., Runtime], xo: SimControl
) -> None:
    runtime = make_runtime(xoxoday_place_order_timeout_s=1)
    request_id = approved(runtime, gift())
    xo.fault("placeOrder", "timeout_after_commit", delay_s=2)
    runtime.worker.run(until_idle=True)
    assert states(runtime, request_id) == ["delivered"]
    assert len(xo.orders()) == 1


def test_rate_limit_waits_and_does_not_count_as_an_attempt(
    runtime: Runtime, xo: SimControl
) -> None:
    request_id = approved(runtime, gift())
    xo.fault("placeOrder", "rate_limit", penalty_seconds=1)
    runtime.worker.run(until_idle=True)
    [order] = order_store.for_request(runtime.database, request_id)
    assert order.state == "delivered"
    assert order.attempts == 1
    assert len(xo.orders()) == 1


def test_invalid_token_refreshes_and_places(runtime: Runtime, xo: SimControl) -> None:
    request_id = approved(runtime, gift())
    xo.fault("placeOrder", "invalid_token")
    runtime.worker.run(until_idle=True)
    assert states(runtime, request_id) == ["delivered"]
    stored = runtime.database.one("SELECT refresh_token FROM tokens")
    assert stored and stored["refresh_token"] != "demo-refresh-token"  # the rotated pair is kept


def test_out_of_stock_once_is_retried(runtime: Runtime, xo: SimControl) -> None:
    request_id = approved(runtime, gift())
    xo.fault("placeOrder", "out_of_stock")
    runtime.worker.run(until_idle=True)
    assert states(runtime, request_id) == ["delivered"]
    assert len(xo.orders()) == 1


def test_out_of_stock_every_time_fails_with_a_reason_and_releases_the_budget(
    runtime: Runtime, xo: SimControl
) -> None:
    runtime.worker.max_attempts = 3
    request_id = approved(runtime, gift())
    xo.fault("placeOrder", "out_of_stock", times=10)
    runtime.worker.run(until_idle=True)
    [order] = order_store.for_request(runtime.database, request_id)
    assert order.state == "failed"
    assert order.failure_reason == "the product is out of stock (tried 3 times)"
    assert xo.orders() == []
    assert ledger.spent(runtime.database, REQUESTER, runtime.rewards._month()) == 0


@pytest.mark.parametrize(
    ("setup", "spec", "reason"),
    [
        ("balance", gift(), "the Xoxoday wallet does not have enough balance"),
        (
            None,
            gift(product=31006, amount="500"),
            "the account's KYC for this brand is not approved",
        ),
        (None, gift(product=31007, amount="10"), "the product is not available for this account"),
    ],
)
def test_business_refusals_end_in_failed_with_a_reason(
    runtime: Runtime, xo: SimControl, setup: str | None, spec: object, reason: str
) -> None:
    request_id = approved(runtime, spec)
    if setup == "balance":
        xo.config(balance="1")  # spent elsewhere after the approval
    runtime.worker.run(until_idle=True)
    [order] = order_store.for_request(runtime.database, request_id)
    assert order.state == "failed"
    assert order.failure_reason == reason
    assert order.attempts == 1  # not retried: it cannot succeed as asked
    assert xo.orders() == []


def test_stale_catalog_denomination_fails_with_a_reason(runtime: Runtime, xo: SimControl) -> None:
    request_id = approved(runtime, gift(amount="25"))
    # Xoxoday changed the product after the request was checked: its catalog no longer has 25.
    runtime.database.execute(
        'UPDATE catalog SET data = replace(data, \'"valueDenominations":["10","25",\', \'"valueDenominations":["10",\') WHERE product_id = 27222'
    )
    runtime.worker.run(until_idle=True)
    [order] = order_store.for_request(runtime.database, request_id)
    assert order.state == "failed"
    assert "not 25" in (order.failure_reason or "")
    assert xo.calls("placeOrder") == 0


def test_unknown_outcome_is_never_failed_while_the_lookup_fails(
    runtime: Runtime, xo: SimControl
) -> None:
    request_id = approved(runtime, gift())
    xo.fault("placeOrder", "http_500_after_commit")
    xo.fault("getOrderDetails", "http_502", times=2)
    runtime.worker.run(until_idle=True)
    assert states(runtime, request_id) == ["delivered"]
    assert len(xo.orders()) == 1


def alerts(runtime: Runtime) -> list[str]:
    rows = runtime.database.query("SELECT reason FROM events WHERE kind = 'system.alert'")
    return [row["reason"] for row in rows]


def lost_order(runtime: Runtime, xo: SimControl) -> OrderRow:
    """An order whose placeOrder answer was lost, while getOrderDetails keeps failing."""
    request_id = approved(runtime, gift())
    xo.fault("placeOrder", "http_500_after_commit")
    xo.fault("getOrderDetails", "http_500_before_commit", times=10_000)
    runtime.worker.step()
    runtime.worker.drain()
    [order] = order_store.for_request(runtime.database, request_id)
    assert order.state == "unknown"
    return order


def test_failed_lookups_back_off_to_a_cap_and_alert_once_naming_the_po_number(
    runtime: Runtime, xo: SimControl
) -> None:
    order = lost_order(runtime, xo)
    now = 1_000_000.0
    worker = Worker(
        runtime.database,
        runtime.client,
        runtime.catalog,
        runtime.delivery,
        backoff_first_s=5,
        lookup_alert_after=6,
        clock=lambda: now,
    )
    delays = []
    try:
        for _ in range(10):
            worker.recover()  # one lookup of every unknown order
            current = order_store.get(runtime.database, order.id)
            assert current is not None and current.state == "unknown"  # maybe paid: never failed
            delays.append(current.next_attempt_at - now)
            now += delays[-1]
    finally:
        worker.stop()
    assert delays == [5, 10, 20, 40, 80, 160, 320, 600, 600, 600]  # capped at 10 minutes
    assert current.lookup_failures == 10  # persisted: a restart does not start over
    [alert] = alerts(runtime)  # once, at the 6th failure, not once per lookup
    assert order.po_number in alert and "6 failed lookups" in alert
    assert xo.calls("placeOrder") == 1


def test_failed_lookups_alert_after_a_while_even_when_few(runtime: Runtime, xo: SimControl) -> None:
    order = lost_order(runtime, xo)
    now = 1_000_000.0
    worker = Worker(
        runtime.database,
        runtime.client,
        runtime.catalog,
        runtime.delivery,
        lookup_alert_after=100,
        lookup_alert_after_s=900,
        clock=lambda: now,
    )
    try:
        worker.recover()
        assert alerts(runtime) == []
        now += 901  # e.g. Xoxoday's rate limit asked for long waits
        worker.recover()
    finally:
        worker.stop()
    [alert] = alerts(runtime)
    assert order.po_number in alert and "2 failed lookups in 15 min" in alert


def test_an_unknown_order_is_alerted_then_adopted_once_lookups_work(
    runtime: Runtime, xo: SimControl
) -> None:
    """The reviewer's case end to end: the worker thread, getOrderDetails failing six times."""
    request_id = approved(runtime, gift())
    xo.fault("placeOrder", "http_500_after_commit")
    xo.fault("getOrderDetails", "http_500_before_commit", times=6)
    runtime.worker.start()
    [alert] = wait_for(lambda: alerts(runtime))
    [order] = order_store.for_request(runtime.database, request_id)
    assert order.po_number in alert
    wait_for(lambda: states(runtime, request_id) == ["delivered"])
    assert len(alerts(runtime)) == 1 and len(xo.orders()) == 1


def test_a_worker_stopped_while_waiting_for_the_lease_touches_nothing(
    runtime: Runtime, xo: SimControl
) -> None:
    from services.lease import Lease

    request_id = approved(runtime, gift())
    other = Lease(runtime.database, "the-other-worker")
    assert other.try_acquire()  # a live worker (this very process) holds the lease
    claimed = order_store.claim_next(runtime.database, "the-other-worker", 1e12)
    assert claimed is not None
    waiting = threading.Thread(target=runtime.worker.run)
    waiting.start()
    wait_for(lambda: runtime.worker.standby)  # it found the lease held and waits for it
    runtime.worker._stop.set()  # SIGTERM while it waits
    waiting.join(timeout=HANG_S)
    assert not waiting.is_alive()
    assert states(runtime, request_id) == ["placing"]  # not "recovered" from under the other worker
    assert xo.calls("getOrderDetails") == 0


def test_the_worker_survives_a_failing_round(
    runtime: Runtime, xo: SimControl, caplog: pytest.LogCaptureFixture
) -> None:
    request_id = approved(runtime, gift())
    broken = {"rounds": 2}
    recover = runtime.worker._recover_orphans

    def failing() -> None:  # a round that raises (a bug, a locked database), twice
        if broken["rounds"]:
            broken["rounds"] -= 1
            raise RuntimeError("a round that fails")
        recover()

    runtime.worker._recover_orphans = failing  # type: ignore[method-assign]
    runtime.worker.start()
    wait_for(lambda: "worker round failed" in caplog.text)
    assert runtime.worker._thread is not None and runtime.worker._thread.is_alive()
    wait_for(lambda: states(runtime, request_id) == ["delivered"])


def test_the_loop_does_not_spin_while_a_lookup_is_slow(runtime: Runtime, xo: SimControl) -> None:
    """While the only work is a lookup still waiting for Xoxoday's answer, each round finds
    that order busy and starts nothing, so the loop sleeps (0.05 s at least) instead of going
    round again at once. The lookup is held until the rounds are counted, not timed."""
    request_id = approved(runtime, gift())
    xo.fault("placeOrder", "http_500_after_commit")
    asking, answered = threading.Event(), threading.Event()
    lookup = runtime.client.get_order_details

    def held_lookup(*args: Any, **kwargs: Any) -> Any:
        asking.set()
        assert answered.wait(HANG_S)
        return lookup(*args, **kwargs)

    runtime.client.get_order_details = held_lookup  # type: ignore[method-assign]
    step, held_rounds = runtime.worker.step, []

    def counted_step() -> bool:
        held = asking.is_set() and not answered.is_set()  # the whole round, lookup held
        busy = step()
        if held:
            held_rounds.append((busy, time.monotonic()))
        return busy

    runtime.worker.step = counted_step  # type: ignore[method-assign]
    runtime.worker.start()
    wait_for(lambda: len(held_rounds) >= 10)
    answered.set()
    rounds = held_rounds[:10]
    assert [busy for busy, _ in rounds] == [False] * 10  # nothing started: the loop sleeps
    # Sleeps, not spins: a bound a loaded machine can only meet more easily.
    assert rounds[-1][1] - rounds[0][1] >= 9 * 0.04
    wait_for(lambda: states(runtime, request_id) == ["delivered"])


def test_placed_orders_are_taken_off_the_cached_balance(runtime: Runtime, xo: SimControl) -> None:
    xo.config(balance="150")
    runtime.wallet.invalidate()
    first = approved(runtime, gift(amount="100"))  # 98.00
    runtime.worker.run(until_idle=True)
    assert states(runtime, first) == ["delivered"]
    second = runtime.rewards.create(REQUESTER, [gift(amount="100")])
    asked = xo.calls("getBalance")
    with pytest.raises(domain.InsufficientFunds, match="52 USD available"):
        runtime.rewards.approve(second.request.id, APPROVER)  # without asking Xoxoday again
    assert xo.calls("getBalance") == asked


def test_a_charge_is_recorded_while_a_balance_fetch_waits_on_xoxoday(
    runtime: Runtime, xo: SimControl
) -> None:
    """A placement records its charge on the cached balance from inside its database
    transaction; the wallet must not keep that lock (or the database) while getBalance waits on
    Xoxoday (slow, or held back by its 10-a-minute limit). Holding it stalled every writer past
    SQLite's busy timeout in the 1,000-order soak ("database is locked")."""
    wallet = runtime.wallet
    wallet.balance(max_age_s=0)
    xo.config(latency_ms=1500)  # Xoxoday answers slowly from now on
    before = xo.calls("getBalance")
    outcome: list[object] = []

    def fetch_balance() -> None:
        try:
            outcome.append(wallet.balance(max_age_s=0))
        except Exception as exc:  # the assertion below says what it was
            outcome.append(exc)

    fetch = threading.Thread(target=fetch_balance, daemon=True)
    fetch.start()
    wait_for(lambda: xo.calls("getBalance") > before)  # the call is out, its answer held
    with runtime.database.tx():  # as Delivery.adopt records a placement
        wallet.record_charge(Decimal(1))
        runtime.database.execute("UPDATE kv SET value = value WHERE key = 'none'")
        charged_while_fetching = fetch.is_alive()
    fetch.join(timeout=30)
    xo.config(latency_ms=0)
    assert charged_while_fetching, "the charge waited for Xoxoday's answer"
    assert outcome and isinstance(outcome[0], tuple), outcome  # the fetch was not starved
