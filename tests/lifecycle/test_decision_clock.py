"""Issue 16, finding 6: a decision checks the clock itself, in the transaction that records
it, whether or not the scheduler has run.

The attack: with the worker stopped (or on standby, or in a long round) nothing expires a
request, and a click days after `expires_at` was accepted and the order placed."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from bot.runtime import Runtime, build_schedule
from services import errors as domain
from services.reminders import Scheduler
from storage import ledger
from storage import requests as request_store
from tests.lifecycle.conftest import APPROVER, REQUESTER, gift, states
from tests.support import SimControl

SCHEDULE = {
    "rewards_remind_after": "1h",
    "rewards_escalate_after": "2h",
    "rewards_expire_after": "3h",
}
HOUR = 3600.0


def waited(runtime: Runtime, request_id: int, seconds: float) -> None:
    """The request has been waiting `seconds` already (its stored start moved back), the way
    a stopped worker leaves it: nothing ran at its due times."""
    start = datetime.fromtimestamp(time.time() - seconds, UTC).isoformat(timespec="milliseconds")
    runtime.database.execute(
        "UPDATE requests SET waiting_since = ? WHERE id = ?", [start, request_id]
    )


def test_a_click_after_expiry_is_refused_when_no_scheduler_ran(
    make_runtime: Callable[..., Runtime], xo: SimControl
) -> None:
    runtime = make_runtime(rewards_monthly_budget=Decimal("100"), **SCHEDULE)
    late = runtime.rewards.create(REQUESTER, [gift()]).request
    also_late = runtime.rewards.create(REQUESTER, [gift("ben@example.com")]).request
    waited(runtime, late.id, 3 * HOUR + 60)
    waited(runtime, also_late.id, 3 * HOUR + 60)
    month = ledger.month_of(request_store.get(runtime.database, late.id).created_at)  # type: ignore[union-attr]

    with pytest.raises(domain.RequestNotPending, match="R-1 is already expired"):
        runtime.rewards.approve(late.id, APPROVER)
    with pytest.raises(domain.RequestNotPending, match="R-2 is already expired"):
        runtime.rewards.reject(also_late.id, APPROVER, "no")
    for request in (late, also_late):
        stored = request_store.get(runtime.database, request.id)
        assert stored is not None and stored.state == "expired" and stored.decided_by is None
        assert stored.decision_reason == "nobody decided within 3 hours"
        assert states(runtime, request.id) == ["withdrawn"]
    assert ledger.spent(runtime.database, REQUESTER, month) == 0  # the budget is given back
    runtime.worker.run(until_idle=True)
    assert xo.orders() == []  # nothing was placed


def test_a_click_after_the_stored_expiry_is_refused_when_the_scheduler_stopped(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(**SCHEDULE)
    request = runtime.rewards.create(REQUESTER, [gift()]).request
    Scheduler(runtime.database, runtime.rewards, build_schedule(runtime.settings)).tick()
    stored = request_store.get(runtime.database, request.id)
    assert stored is not None and stored.expires_at is not None  # scheduled, then it stopped
    runtime.database.execute(
        "UPDATE requests SET expires_at = ? WHERE id = ?", [time.time() - 1, request.id]
    )
    with pytest.raises(domain.RequestNotPending, match="expired"):
        runtime.rewards.approve(request.id, APPROVER)
    assert states(runtime, request.id) == ["withdrawn"]


def test_escalation_approvers_decide_by_the_clock_not_by_the_scheduler(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(rewards_escalation_approvers=["UBOSS"], **SCHEDULE)
    early = runtime.rewards.create(REQUESTER, [gift()]).request
    with pytest.raises(domain.NotAnApprover, match="R-1 has not been escalated"):
        runtime.rewards.approve(early.id, "UBOSS")

    # Past the escalation time, the scheduler never having run: the clock says escalated.
    overdue = runtime.rewards.create(REQUESTER, [gift("ben@example.com")]).request
    waited(runtime, overdue.id, 2 * HOUR + 60)
    decision = runtime.rewards.approve(overdue.id, "UBOSS")
    assert (decision.request.state, decision.request.decided_by) == ("approved", "UBOSS")
