"""The worker process killed with SIGKILL at each point of the placement path, then restarted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bot.runtime import Runtime
from storage import orders as order_store
from tests.lifecycle.conftest import APPROVER, REQUESTER, charity, gift, sim_po_counts
from tests.support import SimControl


def run_worker(
    xo: SimControl, db: Path, failpoint: str | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        **{
            k: v
            for k, v in os.environ.items()
            if not k.startswith(("SLACK_", "XOXODAY_", "REWARDS_"))
        },
        "PYTHONPATH": str(Path.cwd()),
        "REWARDS_DB": str(db),
        "XOXODAY_BASE_URL": xo.base_url,
        "XOXODAY_CLIENT_ID": "demo-client",
        "XOXODAY_CLIENT_SECRET": "demo-secret",
        "XOXODAY_ACCESS_TOKEN": "demo-access-token",
        "XOXODAY_REFRESH_TOKEN": "demo-refresh-token",
        "XOXODAY_RATE_SCALE": "0",
        "REWARDS_WORKER_CONCURRENCY": "1",
    }
    if failpoint:
        env["REWARDS_FAILPOINT"] = failpoint
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", "/dev/null", "worker", "--until-idle"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


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
