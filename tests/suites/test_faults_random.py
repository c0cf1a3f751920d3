"""Orders placed while the simulator fails at random (seeded): each exactly once, or failed
with a reason; none lost, none twice, checked against the simulator's own order book."""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Callable

import pytest

from bot.runtime import Runtime
from services.bulk import import_csv
from storage import orders as order_store
from tests.support import SimControl

SEED = 20261122
KINDS = [
    "http_500_after_commit",
    "http_500_before_commit",
    "timeout_after_commit",
    "rate_limit",
    "invalid_token",
    "malformed_json",
    "out_of_stock",
    "http_502",
    "status_zero",
]
ROWS = [
    "27222,10,p{i}@example.com,,",
    "29877,12.50,p{i}@example.com,,",
    "31001,500,p{i}@example.com,,",
    "40001,5,p{i}@example.com,,",
    "15365,25,p{i}@example.com,,EK-{i}",
]


def csv_of(n: int) -> str:
    lines = ["productId,denomination,email,contact,loyaltyMemberId"]
    lines += [ROWS[i % len(ROWS)].format(i=i) for i in range(n)]
    return "\n".join(lines) + "\n"


def check_exactly_once(runtime: Runtime, xo: SimControl, n: int) -> Counter[str]:
    orders = list(order_store.iter_all(runtime.database))
    assert len(orders) == n  # none lost from our record
    at_xoxoday = Counter(o["poNumber"] for o in xo.orders())
    assert all(count == 1 for count in at_xoxoday.values()), "an order was placed twice"
    states: Counter[str] = Counter()
    for order in orders:
        states[order.state] += 1
        if order.state in ("placed", "delivered"):
            assert at_xoxoday[order.po_number] == 1, order.po_number
            assert order.xoxoday_order_id
        else:
            assert order.state == "failed", (order.po_number, order.state)
            assert order.failure_reason, order.po_number
            assert order.po_number not in at_xoxoday, "failed here but placed at Xoxoday"
    assert sum(at_xoxoday.values()) == states["placed"] + states["delivered"]
    return states


def run_with_random_faults(runtime: Runtime, xo: SimControl, n: int, seed: int) -> Counter[str]:
    rng = random.Random(seed)
    xo.config(balance=str(n * 20))  # the wallet must cover the whole file, as the import checks
    runtime.wallet.invalidate()
    import_csv(runtime.rewards, csv_of(n), "faults-suite")
    done = threading.Event()

    def inject() -> None:
        # About one fault for every two orders, spread over the run; then Xoxoday recovers
        # (as it does) and every order must still end placed once or failed with a reason.
        for _ in range(n // 2):
            if done.wait(rng.uniform(0.005, 0.03)):
                return
            op = rng.choice(["placeOrder", "placeOrder", "placeOrder", "getOrderDetails"])
            xo.fault(op, rng.choice(KINDS), times=rng.randint(1, 2), delay_s=1.2, penalty_seconds=1)

    injector = threading.Thread(target=inject, daemon=True)
    injector.start()
    try:
        runtime.worker.run(until_idle=True)
    finally:
        done.set()
        injector.join()
    return check_exactly_once(runtime, xo, n)


def test_random_faults_quick(
    make_runtime: Callable[..., Runtime], xo: SimControl, soak: bool
) -> None:
    runtime = make_runtime(
        xoxoday_place_order_timeout_s=1, xoxoday_timeout_s=1, rewards_worker_concurrency=4
    )
    states = run_with_random_faults(runtime, xo, 1000 if soak else 120, SEED)
    assert states["placed"] + states["delivered"] > 0


@pytest.mark.soak
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_random_faults_thousand_orders(
    make_runtime: Callable[..., Runtime], xo: SimControl, seed: int
) -> None:
    runtime = make_runtime(
        xoxoday_place_order_timeout_s=1, xoxoday_timeout_s=1, rewards_worker_concurrency=8
    )
    states = run_with_random_faults(runtime, xo, 1000, seed)
    print(f"seed {seed}: {dict(states)}")
