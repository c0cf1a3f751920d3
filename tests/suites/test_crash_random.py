"""The worker killed with SIGKILL at random moments while orders are in flight, restarted each
time: every order placed exactly once or failed with its reason, none lost, none twice.

Some orders commit late (a 504 answered at once, the order appearing 1 s later, inside the
2 s in-flight window of tests.support.cli_env): a worker killed meanwhile leaves them to a
restarted one, which must wait out the window from the stored sent_at, not place them again."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest

from bot.runtime import Runtime
from services.bulk import import_csv
from storage import orders as order_store
from tests.suites.test_faults_random import check_exactly_once, csv_of
from tests.support import SimControl, cli_env


def start_worker(xo: SimControl, db: Path, concurrency: int = 4) -> subprocess.Popen[str]:
    env = cli_env(xo.base_url, db, REWARDS_WORKER_CONCURRENCY=str(concurrency), LOG_LEVEL="WARNING")
    return subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--env-file", "/dev/null", "worker", "--until-idle"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def kill_and_restart_until_done(
    xo: SimControl, runtime: Runtime, kills: int, seed: int, concurrency: int
) -> int:
    """Kill the worker `kills` times at random moments, then let it finish; returns kills made."""
    rng = random.Random(seed)
    db = Path(runtime.settings.rewards_db)
    made = 0
    for _ in range(kills):
        worker = start_worker(xo, db, concurrency)
        time.sleep(rng.uniform(0.8, 2.5))  # start-up takes ~0.7 s; then orders are in flight
        if worker.poll() is not None:
            break  # it finished before we could kill it
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=10)
        made += 1
    final = start_worker(xo, db, concurrency)
    _, stderr = final.communicate(timeout=300)
    assert final.returncode == 0, stderr
    counts = order_store.count_by_state(runtime.database)
    assert set(counts) <= {"placed", "delivered", "failed"}, counts
    return made


def run(
    make_runtime: Callable[..., Runtime],
    xo: SimControl,
    n: int,
    kills: int,
    seed: int,
    concurrency: int = 4,
    latency_ms: int = 150,
) -> None:
    runtime = make_runtime()
    import_csv(runtime.rewards, csv_of(n), "crash-suite")
    httpx.post(
        f"{xo.running.url}/_sim/config", json={"latency_ms": latency_ms}
    )  # orders stay in flight
    xo.fault("placeOrder", "late_commit", times=max(1, n // 8), commit_after_s=1.0)
    made = kill_and_restart_until_done(xo, runtime, kills, seed, concurrency)
    states = check_exactly_once(runtime, xo, n)
    assert made >= 1
    assert states["failed"] == 0  # nothing here can fail for a business reason
    assert xo.stats()["faults_applied"]["late_commit"] == max(1, n // 8)
    print(f"\n{n} orders, {made} SIGKILLs: {dict(states)}")


def test_random_sigkills_quick(make_runtime: Callable[..., Runtime], xo: SimControl) -> None:
    run(make_runtime, xo, n=80, kills=3, seed=7)


@pytest.mark.soak
@pytest.mark.parametrize("seed", [11, 12])
def test_random_sigkills_two_hundred_in_flight(
    make_runtime: Callable[..., Runtime], xo: SimControl, seed: int
) -> None:
    run(make_runtime, xo, n=200, kills=8, seed=seed, concurrency=16, latency_ms=800)
