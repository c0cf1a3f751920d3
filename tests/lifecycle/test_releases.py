"""Reject, cancel and expire answer without giving back each order's budget (issue 20): the
decision withdraws the orders and queues their reserves in two statements, whatever the
request's size; the worker gives each reserve back after the answer, exactly once, even across
a crash; and no reader ever counts a withdrawn order's reserve in between."""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from collections.abc import Callable
from decimal import Decimal

from bot.runtime import Runtime
from services import failpoints
from services.releases import BudgetReleases
from storage import ledger
from storage.db import Database
from tests.lifecycle.conftest import APPROVER, REQUESTER, gift, states
from tests.plans import issued, reads


def spent(runtime: Runtime) -> Decimal:
    return ledger.spent(runtime.database, REQUESTER, runtime.rewards._month())


def ledger_rows(database: Database, request_id: int) -> list[tuple[int, str, Decimal]]:
    """(order, kind, amount) of the request's ledger rows, in the order they were written."""
    rows = database.query(
        "SELECT order_id, kind, amount FROM budget_ledger WHERE request_id = ? ORDER BY id",
        [request_id],
    )
    return [(row["order_id"], row["kind"], Decimal(row["amount"])) for row in rows]


def released_once(database: Database, request_id: int) -> bool:
    """Every order of the request has one reserve and one release, adding up to nothing."""
    rows = ledger_rows(database, request_id)
    by_order: dict[int, list[tuple[str, Decimal]]] = {}
    for order_id, kind, amount in rows:
        by_order.setdefault(order_id, []).append((kind, amount))
    return bool(by_order) and all(
        [kind for kind, _ in lines] == ["reserve", "release"] and sum(a for _, a in lines) == 0
        for lines in by_order.values()
    )


def recipients(n: int) -> list:
    return [gift(email=f"p{i}@example.com", amount="10") for i in range(n)]


def test_a_rejection_answers_first_and_the_budget_comes_back_once_after(
    runtime: Runtime,
) -> None:
    runtime.worker.stop(timeout=5)  # nothing gives the reserves back until the test says so
    request = runtime.rewards.create(REQUESTER, recipients(3)).request
    assert spent(runtime) == request.total_cost > 0
    rejected = runtime.rewards.reject(request.id, APPROVER, "not this quarter")
    assert rejected.request.state == "rejected"
    assert states(runtime, request.id) == ["withdrawn"] * 3
    # Answered: the reserves wait, yet no reader counts them.
    assert [kind for _, kind, _ in ledger_rows(runtime.database, request.id)] == ["reserve"] * 3
    assert spent(runtime) == 0
    releases = BudgetReleases(runtime.database)
    assert releases.pending() == 3
    assert releases.run() == 3
    assert released_once(runtime.database, request.id)
    assert releases.run() == 0 and releases.pending() == 0
    assert released_once(runtime.database, request.id)
    assert spent(runtime) == 0


def test_a_cancellation_and_an_expiry_give_the_budget_back_through_the_worker(
    runtime: Runtime,
) -> None:
    first = runtime.rewards.create(REQUESTER, recipients(2)).request
    second = runtime.rewards.create(REQUESTER, recipients(2)).request
    runtime.rewards.cancel(first.id, REQUESTER)
    runtime.rewards.expire(second.id, "its time ran out")
    assert spent(runtime) == 0
    runtime.worker.run(until_idle=True)  # idle only once every reserve is back
    assert runtime.worker.releases.pending() == 0
    assert released_once(runtime.database, first.id)
    assert released_once(runtime.database, second.id)
    assert spent(runtime) == 0


def test_the_decision_does_the_same_work_for_30_orders_as_for_3(
    make_runtime: Callable[..., Runtime],
) -> None:
    """What a reject runs before its answer does not grow with the request: the same
    statements for a request of 3 orders and one of 30."""
    runtime = make_runtime(rewards_monthly_budget=Decimal(10_000))
    runtime.worker.stop(timeout=5)
    counts = []
    for size in (3, 30):
        request = runtime.rewards.create(REQUESTER, recipients(size)).request
        with issued(runtime.database) as statements:
            runtime.rewards.reject(request.id, APPROVER, "no")
        assert states(runtime, request.id) == ["withdrawn"] * size
        # A statement is traced again for each row its triggers run on: counted once.
        counts.append(len([sql for sql, _ in itertools.groupby(statements)]))
        assert reads(statements)
    assert counts[0] == counts[1]


def test_a_crash_between_the_answer_and_the_release_and_one_during_it(
    make_runtime: Callable[..., Runtime],
) -> None:
    """The process that rejected dies before any release; a worker killed (SIGKILL) in the
    middle of giving back a chunk leaves it all queued; the next one gives each reserve back
    once."""
    runtime = make_runtime()
    runtime.worker.stop(timeout=5)
    request = runtime.rewards.create(REQUESTER, recipients(4)).request
    runtime.rewards.reject(request.id, APPROVER, "no")
    path = runtime.database.path
    runtime.close()  # the process that answered is gone

    script = (
        "import sys; from storage.db import Database; from services.releases import "
        "BudgetReleases; BudgetReleases(Database(sys.argv[1])).run()"
    )
    env = {**os.environ, "REWARDS_FAILPOINT": failpoints.DURING_RELEASE}
    killed = subprocess.run([sys.executable, "-c", script, str(path)], env=env, timeout=60)
    assert killed.returncode == -9
    after = Database(path)
    try:
        assert BudgetReleases(after).pending() == 4
        assert [kind for _, kind, _ in ledger_rows(after, request.id)] == ["reserve"] * 4
        assert ledger.spent(after, REQUESTER, request.created_at[:7]) == 0
        assert BudgetReleases(after, chunk=3).run() == 4
        assert BudgetReleases(after).run() == 0
        assert released_once(after, request.id)
    finally:
        after.close()
