"""Reminders, escalation and expiry from the database: a real runtime and SQLite file, the
scheduler driven by a clock the test moves (so each due time is exact), and two processes
scheduling the same file at once."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.runtime import Runtime, build_schedule
from services import errors as domain
from services.reminders import Scheduler, waiting_since
from storage import events, ledger
from storage import requests as request_store
from storage.db import Database
from storage.migrations import migrate
from tests.lifecycle.conftest import APPROVER, REQUESTER, gift, settings_for, states
from tests.support import SimControl, wait_for

R, E, X = 60.0, 150.0, 400.0  # remind, escalate, expire after (seconds)
SCHEDULE = {
    "rewards_remind_after": "60s",
    "rewards_escalate_after": "150s",
    "rewards_expire_after": "400s",
}


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def scheduler_at(runtime: Runtime, start: float) -> tuple[Scheduler, Clock]:
    clock = Clock(start)
    scheduler = Scheduler(
        runtime.database, runtime.rewards, build_schedule(runtime.settings), clock=clock
    )
    return scheduler, clock


def kinds(runtime: Runtime, request_id: int, prefix: str = "request.") -> list[str]:
    return [
        e.kind
        for e in events.for_request(runtime.database, request_id)
        if e.kind.startswith(prefix)
    ]


def rounds(runtime: Runtime, request_id: int) -> list[int]:
    return [
        int(e.data["round"])
        for e in events.for_request(runtime.database, request_id)
        if e.kind == "request.reminded"
    ]


def test_a_reminder_per_interval_at_most_three_and_none_once_decided(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(**SCHEDULE)
    first = runtime.rewards.create(REQUESTER, [gift()]).request
    second = runtime.rewards.create(REQUESTER, [gift("ben@example.com")]).request
    t0 = waiting_since(first)
    scheduler, clock = scheduler_at(runtime, t0 + R - 1)
    assert scheduler.tick() == 0  # due times given, nothing due yet
    stored = request_store.get(runtime.database, first.id)
    assert stored is not None and stored.expires_at == pytest.approx(t0 + X)
    assert stored.remind_at == pytest.approx(t0 + R) and stored.escalate_at is None  # no one
    clock.now = waiting_since(second) + R + 0.5
    assert scheduler.tick() == 2
    assert scheduler.tick() == 0  # the same reminder is never claimed twice
    runtime.rewards.approve(second.id, APPROVER)  # decided: no more reminders for it
    for offset in (2 * R - 1, 2 * R + 1, 3 * R - 1, 3 * R + 1, 5 * R, 6 * R):
        clock.now = t0 + offset
        scheduler.tick()
    assert rounds(runtime, first.id) == [1, 2, 3]
    assert rounds(runtime, second.id) == [1]
    assert scheduler.next_due() == pytest.approx(t0 + X)  # only the expiry is left


def test_after_a_long_stop_one_reminder_then_an_interval_not_a_burst(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(**SCHEDULE)
    request = runtime.rewards.create(REQUESTER, [gift()]).request
    t0 = waiting_since(request)
    scheduler, clock = scheduler_at(runtime, t0)
    scheduler.tick()
    clock.now = t0 + 2.5 * R  # two reminders were due while nothing ran
    assert scheduler.tick() == 1
    assert rounds(runtime, request.id) == [1]
    clock.now = t0 + 3.4 * R
    assert scheduler.tick() == 0
    clock.now = t0 + 3.5 * R
    assert scheduler.tick() == 1
    assert rounds(runtime, request.id) == [1, 2]


def test_expiry_releases_the_budget_and_a_late_decision_is_refused(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(rewards_monthly_budget=Decimal("24.50"), **SCHEDULE)
    request = runtime.rewards.create(REQUESTER, [gift()]).request  # 25 USD costs 24.50
    with pytest.raises(domain.OverBudget):
        runtime.rewards.create(REQUESTER, [gift("ben@example.com")])
    t0 = waiting_since(request)
    scheduler, _clock = scheduler_at(runtime, t0 + X + 5 * R)  # everything is due at once
    assert scheduler.tick() == 1
    assert scheduler.tick() == 0  # expired once
    expired = request_store.get(runtime.database, request.id)
    assert expired is not None and expired.state == "expired"
    assert (
        expired.decided_by is None
        and expired.decision_reason == "nobody decided within 400 seconds"
    )
    assert states(runtime, request.id) == ["withdrawn"]
    assert kinds(runtime, request.id) == ["request.created", "request.expired"]  # no reminder
    month = ledger.month_of(request.created_at)
    assert ledger.spent(runtime.database, REQUESTER, month) == 0
    with pytest.raises(domain.RequestNotPending, match="R-1 is already expired"):
        runtime.rewards.approve(request.id, APPROVER)
    with pytest.raises(domain.RequestNotPending, match="expired"):
        runtime.rewards.cancel(request.id, REQUESTER)
    # The budget it held is free again: a request of the whole budget is accepted.
    again = runtime.rewards.create(REQUESTER, [gift("ben@example.com")])
    assert again.request.state == "pending_approval"


def test_escalation_once_and_escalation_approvers_decide_only_after_it(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(rewards_escalation_approvers=["UBOSS"], **SCHEDULE)
    request = runtime.rewards.create(REQUESTER, [gift()]).request
    t0 = waiting_since(request)
    scheduler, clock = scheduler_at(runtime, t0 + 1)
    scheduler.tick()
    with pytest.raises(domain.NotAnApprover, match="R-1 has not been escalated"):
        runtime.rewards.check_decider(request.id, "UBOSS")
    clock.now = t0 + E
    scheduler.tick()
    scheduler.tick()
    assert kinds(runtime, request.id).count("request.escalated") == 1
    decision = runtime.rewards.approve(request.id, "UBOSS")
    assert (decision.request.state, decision.request.decided_by) == ("approved", "UBOSS")


def test_requests_waiting_at_the_upgrade_count_from_the_upgrade(
    xo: SimControl, tmp_path: Path
) -> None:
    """A request that waited ten days on a release without expiry is not expired by the first
    round after the upgrade: its schedule starts when the migration ran."""
    path = tmp_path / "old.db"
    database = Database(path)
    migrate(database, target=8)  # the release before the approval schedule
    old = (datetime.now(UTC) - timedelta(days=10)).isoformat(timespec="milliseconds")
    with database.tx() as db:
        request_id = request_store.insert(
            db,
            requester_id=REQUESTER,
            requester_name=None,
            source="slack",
            total_cost=Decimal(10),
            currency="USD",
            created_at=old,
        )
    migrate(database)
    database.close()
    from bot.runtime import build_runtime

    runtime = build_runtime(settings_for(xo, path, rewards_expire_after="7d"))
    try:
        assert runtime.scheduler.tick() == 0
        request = request_store.get(runtime.database, request_id)
        assert request is not None and request.state == "pending_approval"
        assert request.expires_at == pytest.approx(
            datetime.now(UTC).timestamp() + 7 * 86400, abs=120
        )
    finally:
        runtime.close()


SCHEDULER_PROCESS = textwrap.dedent(
    """
    import os, sys, time
    from bot.config import load_settings
    from bot.runtime import build_runtime
    runtime = build_runtime(load_settings(None))
    ready, stop, ticks = sys.argv[1], sys.argv[2], sys.argv[3]
    with open(ticks, "ab", buffering=0) as counted:
        open(ready, "w").close()
        while not os.path.exists(stop):
            runtime.scheduler.tick()
            counted.write(b".")  # one byte a round ended: the test reads the file's size
            time.sleep(0.002)
    runtime.close()
    """
)


def test_two_processes_running_the_scheduler_send_each_reminder_once(
    make_runtime: Callable[..., Runtime], xo: SimControl, tmp_path: Path
) -> None:
    """Two processes tick the same database flat out while 30 requests each come due for
    three reminders: every reminder is claimed exactly once (rounds 1, 2, 3 per request)."""
    runtime = make_runtime(
        rewards_remind_after="1s", rewards_expire_after="1h", rewards_max_waiting=30
    )
    env = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "REWARDS_"))},
        "PYTHONPATH": str(Path(__file__).resolve().parents[2]),
        "REWARDS_DB": str(tmp_path / "rewards.db"),
        "REWARDS_REMIND_AFTER": "1s",
        "REWARDS_EXPIRE_AFTER": "1h",
        "XOXODAY_BASE_URL": xo.base_url,
        "XOXODAY_CLIENT_ID": "demo-client",
        "XOXODAY_CLIENT_SECRET": "demo-secret",
        "XOXODAY_REFRESH_TOKEN": "demo-refresh-token",
    }
    stop = tmp_path / "stop"
    flags = [tmp_path / f"ready-{n}" for n in range(2)]
    rounds = [tmp_path / f"rounds-{n}" for n in range(2)]
    processes = [
        subprocess.Popen(
            [sys.executable, "-c", SCHEDULER_PROCESS, str(flag), str(stop), str(ticks)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for flag, ticks in zip(flags, rounds, strict=True)
    ]
    try:
        wait_for(lambda: all(flag.exists() for flag in flags))
        for n in range(30):  # both schedulers are running before anything is due
            runtime.rewards.create(REQUESTER, [gift(f"p{n}@example.com", amount="10")])

        def claimed() -> int:
            return runtime.database.scalar(
                "SELECT COUNT(*) FROM events WHERE kind = 'request.reminded'"
            )

        wait_for(lambda: claimed() >= 90)
        # A double claim would come from a round that read the rows before the other process
        # claimed them: once each process has ended a round begun after this point (two more
        # than it had ended), every such round has written what it claimed.
        ended = [ticks.stat().st_size for ticks in rounds]
        wait_for(lambda: all(t.stat().st_size >= n + 2 for t, n in zip(rounds, ended, strict=True)))
    finally:
        stop.touch()
        outputs = [p.communicate(timeout=60)[0] for p in processes]
    assert [p.returncode for p in processes] == [0, 0], outputs
    reminded = runtime.database.query(
        "SELECT request_id, json_extract(data, '$.round') AS round, actor FROM events "
        "WHERE kind = 'request.reminded' ORDER BY request_id, id"
    )
    per_request: dict[int, list[int]] = {}
    for row in reminded:
        per_request.setdefault(row["request_id"], []).append(row["round"])
    assert per_request == {n: [1, 2, 3] for n in range(1, 31)}
    # Both processes claimed reminders: they really competed for the same rows.
    assert len({row["actor"] for row in reminded}) == 2, {row["actor"] for row in reminded}
