"""The worker process killed with SIGKILL at each point of the placement path, then restarted."""

from __future__ import annotations

import signal
import subprocess
from pathlib import Path

import pytest

from bot.runtime import Runtime
from storage import orders as order_store
from tests.lifecycle.conftest import APPROVER, REQUESTER, charity, gift, sim_po_counts
from tests.support import SimControl, cli_env, rewards_bot


def run_worker(
    xo: SimControl, db: Path, failpoint: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = cli_env(xo.base_url, db, REWARDS_WORKER_CONCURRENCY="1")
    if failpoint:
        env["REWARDS_FAILPOINT"] = failpoint
    return rewards_bot(env, "worker", "--until-idle", timeout=120)


@pytest.mark.parametrize(
    ("failpoint", "state_after_kill", "at_xoxoday_after_kill"),
    [
        ("before_place", "placing", 0),  # claimed, nothing sent
        ("after_place", "placing", 1),  # Xoxoday has it, our record does not
        ("after_store", "delivered", 1),  # the answer is stored
    ],
)
def test_sigkill_at_each_point_then_restart_places_every_order_once(
    runtime: Runtime,
    xo: SimControl,
    tmp_path: Path,
    failpoint: str,
    state_after_kill: str,
    at_xoxoday_after_kill: int,
) -> None:
    decision = runtime.rewards.create(
        REQUESTER, [gift("a@example.com"), charity("b@example.com"), gift("c@example.com", "10")]
    )
    runtime.rewards.approve(decision.request.id, APPROVER)
    db = runtime.settings.rewards_db

    killed = run_worker(xo, db, failpoint)
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    first = order_store.for_request(runtime.database, decision.request.id)[0]
    assert first.state == state_after_kill
    assert len(xo.orders()) == at_xoxoday_after_kill

    restarted = run_worker(xo, db)
    assert restarted.returncode == 0, restarted.stderr
    orders = order_store.for_request(runtime.database, decision.request.id)
    assert [o.state for o in orders] == ["delivered"] * 3
    assert sim_po_counts(xo) == {o.po_number: 1 for o in orders}  # each placed exactly once
    if state_after_kill == "placing":
        assert "recovered 1 order(s) left in placing" in restarted.stderr
