"""The Home's month spend kept up to date from what was added (issue 20): after each step
(requests made, approved, rejected, placed at another price, refunded) it is what a whole
read of the month's ledger gives, and after the first read it reads only what was added."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

from bot.runtime import Runtime
from services.budget import MonthSpend, spend_by_type
from storage import orders as order_store
from tests.lifecycle.conftest import APPROVER, REQUESTER, charity, gift
from tests.plans import issued, reads, unbounded
from tests.support import SimControl


def test_the_month_spend_follows_every_change(
    xo: SimControl, make_runtime: Callable[..., Runtime]
) -> None:
    runtime = make_runtime(rewards_monthly_budget=Decimal(1000))
    rewards, database = runtime.rewards, runtime.database
    month = rewards._month()
    spend = MonthSpend(database)

    def agrees() -> dict[str, Decimal]:
        kept = spend.by_type(month)
        assert kept == spend_by_type(database, month)
        return kept

    assert agrees() == {}
    first = rewards.create(REQUESTER, [gift(), charity()]).request
    assert agrees() == {}  # waiting: not spent
    rewards.approve(first.id, APPROVER)
    assert agrees() == {"gift_card": Decimal("24.50"), "charity": Decimal("20")}
    second = rewards.create(REQUESTER, [gift("b@example.com", "40", product=29877)]).request
    third = rewards.create(REQUESTER, [charity("c@example.com")]).request
    rewards.reject(third.id, APPROVER, "no")
    rewards.approve(second.id, APPROVER)
    agrees()
    runtime.worker.run(until_idle=True)  # placed: the ledger follows what Xoxoday charged
    [delayed] = order_store.for_request(database, second.id)
    agrees()
    if delayed.state == "placed":
        xo.deliver(delayed.po_number, "canceled")
        runtime.worker.run(until_settled=True)
    agrees()
    assert spend.by_type("2020-01") == spend_by_type(database, "2020-01") == {}
    assert agrees() == spend_by_type(database, month)

    # Once read, a read takes only what was added: no step of it reads the month whole.
    rewards.approve(rewards.create(REQUESTER, [gift("d@example.com")]).request.id, APPROVER)
    with issued(database) as statements:
        agrees_again = spend.by_type(month)
    assert agrees_again == spend_by_type(database, month)
    assert reads(statements) and unbounded(database, statements) == {}
    assert not any(
        "SELECT o.reward_type, l.amount FROM budget_ledger l JOIN orders o ON "
        "o.id = l.order_id JOIN requests r ON r.id = l.request_id WHERE l.month" in sql
        for sql in statements
    )
