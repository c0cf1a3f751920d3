"""The growth bench's measurements: what each click, command and round costs on one database.

Each measurement calls what the handlers and the worker call (RewardService, HomeService and
the Home's view, the Scheduler, the Worker, the /metrics registry, the CLI's export, the
backup), in this process against the bundled simulator and the Slack stand-in, with no thread
of the bot running beside it: what is timed is the work itself. Requests the measurements act
on (a 200-order request to reject, 100 requests due a reminder) are recorded just before,
through RewardService, so both databases get the same ones.

The measurements change the database (they reject, cancel, expire and place), so the
read-only ones come first.
"""

from __future__ import annotations

import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from prometheus_client import generate_latest

from bench.growth_seed import PRODUCT, People
from bot.backup import backup
from bot.local import free_port, local_settings, process_env
from bot.serve import Bot, build_bot
from handlers.home_view import home_view
from handlers.replies import history_text, status_text
from services.reminders import Scheduler
from services.reward_specs import RewardSpec
from simulator.slack.fake import RunningFakeSlack
from simulator.xoxoday.server import RunningSimulator
from storage import orders as order_store

SETTINGS: dict[str, Any] = {
    "xoxoday_rate_scale": 0,
    "rewards_max_waiting": 10_000,
    "rewards_worker_concurrency": 8,
    "log_level": "ERROR",
}


@dataclass
class Figure:
    """One measurement: its median (seconds, or MB for memory) and how many runs."""

    value: float
    runs: int
    note: str = ""


@dataclass
class Measured:
    figures: dict[str, Figure] = field(default_factory=dict)

    def add(self, key: str, samples: list[float], note: str = "") -> None:
        self.figures[key] = Figure(statistics.median(samples), len(samples), note)


def timed(work: Callable[[], object]) -> float:
    began = time.perf_counter()
    work()
    return time.perf_counter() - began


def repeat(work: Callable[[], object], runs: int) -> list[float]:
    work()  # warm: the first run pays for imports and SQLite's page cache
    return [timed(work) for _ in range(runs)]


class Session:
    """The bot built on one database (nothing started), and the people who act on it."""

    def __init__(
        self, db: Path, sim: RunningSimulator, slack: RunningFakeSlack, people: People
    ) -> None:
        self.db = db
        self.sim = sim
        self.slack = slack
        self.people = people
        self.settings = local_settings(db, sim, slack, **SETTINGS)
        self.bot = build_bot(self.settings)
        self.runtime = self.bot.runtime
        self.runtime.catalog.refresh()
        self.runtime.wallet.balance()

    def close(self) -> None:
        self.bot.background.shutdown(wait=True)
        self.runtime.close()

    # --- requests to act on ----------------------------------------------------------------

    def pending(self, orders: int, requester: str | None = None) -> int:
        """A request of `orders` gift cards waiting for approval; returns its id."""
        who = requester or self.people.typical_requester
        recipient = self.people.typical_recipient
        spec = RewardSpec(
            PRODUCT, Decimal(10), recipient_id=recipient, email=f"{recipient.lower()}@example.com"
        )
        decision = self.runtime.rewards.create(who, [spec] * orders, requester_name="Bench")
        return decision.request.id

    def scheduler(self, ahead_s: float) -> Scheduler:
        """The worker's scheduler (bot/runtime.py _in_the_loop), its clock `ahead_s` later."""
        runtime = self.runtime
        return Scheduler(
            runtime.database,
            runtime.rewards,
            runtime.deciders.schedule,
            name="bench",
            clock=lambda: time.time() + ahead_s,
            delegations=runtime.delegations,
            consents=runtime.consents,
        )

    def settle(self) -> None:
        """Place whatever is queued (untimed), so the next measurement starts idle."""
        self.runtime.worker.run(until_idle=True)


def start_up(session: Session, runs: int) -> list[float]:
    """`rewards-bot run` up to its first worker round: everything built (the database opened
    and migrated, the account checked), stranded approvals found, then the worker's recovery
    and first round, in the foreground."""
    times = []
    for _ in range(runs + 1):
        began = time.perf_counter()
        bot: Bot = build_bot(session.settings)
        try:
            bot.runtime.rewards.stranded_auto_approvals()
            bot.runtime.worker.recover()
            bot.runtime.worker.step()
            times.append(time.perf_counter() - began)
        finally:
            bot.background.shutdown(wait=True)
            bot.runtime.close()
    return times[1:]


def reads(session: Session, measured: Measured, runs: int) -> None:
    """Status, history and the Home: nothing changes."""
    people, rewards = session.people, session.runtime.rewards
    latest = rewards.history(people.typical_requester, limit=1)[0]
    po = order_store.for_request(session.runtime.database, latest.id)[-1].po_number

    def status(reference: str) -> Callable[[], object]:
        def look() -> str:
            view = rewards.view_for(people.typical_requester, reference)
            assert view is not None, reference
            return status_text(view.request, view.orders, whole=view.whole)

        return look

    measured.add("status_ref", repeat(status(latest.ref), runs))
    measured.add("status_po", repeat(status(po), runs))
    for key, user in (
        ("history", people.typical_requester),
        ("history_heavy", people.heavy_requester),
    ):
        measured.add(key, repeat(lambda u=user: history_text(rewards.history(u, limit=10)), runs))
    home = session.bot.deps.home
    assert home is not None
    waiting = [session.pending(3, requester=f"UWAIT{n:02d}") for n in range(30)]
    for key, user in (
        ("home", people.typical_requester),
        ("home_heavy", people.heavy_requester),
        ("home_recipient", people.heavy_recipient),
        ("home_approver", people.approver),
    ):
        measured.add(key, repeat(lambda u=user: home_view(home.service.build(u)), runs))
    for request_id in waiting:
        rewards.reject(request_id, people.approver, "bench: the Home's waiting list")
    registry = session.bot.registry
    measured.add("metrics", repeat(lambda: generate_latest(registry), runs))


def decisions(session: Session, measured: Measured, runs: int) -> None:
    """Reject and cancel of 50 and 200 orders, approve of 10: the calls Slack waits for."""
    rewards, people = session.runtime.rewards, session.people
    for size in (50, 200):
        rejects = [session.pending(size) for _ in range(runs)]
        measured.add(
            f"reject_{size}",
            [timed(lambda r=r: rewards.reject(r, people.approver, "bench")) for r in rejects],
        )
        cancels = [session.pending(size) for _ in range(runs)]
        measured.add(
            f"cancel_{size}",
            [timed(lambda r=r: rewards.cancel(r, people.typical_requester)) for r in cancels],
        )
    approvals = [session.pending(10) for _ in range(runs)]
    # Approve reads the balance Xoxoday gave in the last 30 s; the long rejects above may have
    # outlived it, and a click after another click is the common case.
    session.runtime.wallet.balance(max_age_s=0)
    measured.add(
        "approve", [timed(lambda r=r: rewards.approve(r, people.approver)) for r in approvals]
    )
    session.settle()


def rounds(session: Session, measured: Measured, runs: int) -> None:
    """A scheduler round with 100 reminders due, then with the same 100 expiring; the worker's
    idle round; placing 50 orders against the simulator."""
    schedule = session.runtime.deciders.schedule
    remind_at = schedule.remind_after.total_seconds() + 60
    expire_at = schedule.expire_after.total_seconds() + 60
    reminders, expiries, ticks = [], [], []
    for _ in range(runs):
        due = [session.pending(1, requester=f"UDUE{n:02d}") for n in range(100)]
        session.scheduler(0).tick()  # schedules them: nothing is due yet
        reminders.append(until_done(session.scheduler(remind_at), len(due), ticks))
        expiries.append(until_done(session.scheduler(expire_at), len(due), ticks))
    note = f"rounds needed: {max(ticks)}" if max(ticks) > 1 else ""
    measured.add("remind_100", reminders, note)
    measured.add("expire_100", expiries, note)
    session.settle()
    worker = session.runtime.worker
    measured.add("idle_round", repeat(worker.step, runs * 5))
    placing = []
    for _ in range(runs):
        request_id = session.pending(50)
        session.runtime.rewards.approve(request_id, session.people.approver)
        placing.append(timed(session.settle))
        states = {o.state for o in order_store.for_request(session.runtime.database, request_id)}
        assert states == {"delivered"}, states
    measured.add("place_50", placing)


def until_done(scheduler: Scheduler, expected: int, ticks: list[int]) -> float:
    """Scheduler rounds until `expected` requests were handled (one round unless the
    scheduler bounds its rounds); their total time."""
    done = count = 0
    began = time.perf_counter()
    while done < expected:
        handled = scheduler.tick()
        count += 1
        done += handled
        if handled == 0:
            break
    took = time.perf_counter() - began
    assert done == expected, f"{done} of {expected} handled"
    ticks.append(count)
    return took


def cli_run(session: Session, *args: str) -> tuple[float, float]:
    """A `rewards-bot` command as its own process: wall time and peak resident memory (MB,
    as the command itself saw it: bench/peak_memory.py)."""
    env = process_env(session.sim, session.slack, session.db, free_port(), LOG_LEVEL="ERROR")
    report = session.db.parent / "peak.txt"
    report.unlink(missing_ok=True)
    began = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "bench.peak_memory", str(report), "--env-file", "/dev/null", *args],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        check=False,
    )
    took = time.perf_counter() - began
    assert done.returncode == 0, done.stderr
    return took, float(report.read_text())


def exports(session: Session, measured: Measured, out: Path, runs: int, past: bool) -> None:
    """The month's finance export (this month; on the large database also its fullest past
    month), the full export of every order, and the backup."""
    this_month = datetime.now(UTC).strftime("%Y-%m")
    months = [("month_export", this_month)]
    if past:
        months.append(("month_export_past", fullest_past_month(session.db)))
    for key, month in months:
        target = out / f"{key}.csv"
        samples = [cli_run(session, "orders", "export", "--month", month, "-o", str(target))]
        samples += [
            cli_run(session, "orders", "export", "--month", month, "-o", str(target))
            for _ in range(runs - 1 if key == "month_export" else 0)
        ]
        rows = sum(1 for _ in target.open()) - 1
        target.unlink()
        measured.add(key, [s[0] for s in samples], f"{month}, {rows:,} lines")
        measured.add(f"{key}_mb", [s[1] for s in samples], f"{month}, {rows:,} lines")
    target = out / "orders.csv"
    took, peak = cli_run(session, "orders", "export", "-o", str(target))
    target.unlink()
    measured.add("full_export", [took])
    measured.add("full_export_mb", [peak])
    copy = out / "backup.db"
    copy.unlink(missing_ok=True)
    measured.add("backup", [timed(lambda: backup(session.db, copy))])
    size = copy.stat().st_size / 1_048_576
    copy.unlink()
    measured.figures["backup"].note = f"{size:,.0f} MB written"


def fullest_past_month(db: Path) -> str:
    """The past month with the most orders (on the large database, about a 24th of them).
    A bench's own question, so its SQL is here rather than in storage/."""
    this_month = datetime.now(UTC).strftime("%Y-%m")
    with closing(sqlite3.connect(db)) as conn:
        rows = conn.execute(
            "SELECT substr(created_at, 1, 7) AS month, COUNT(*) FROM orders "
            "WHERE created_at < ? GROUP BY month",
            [this_month],
        ).fetchall()
    return str(max((n, month) for month, n in rows)[1])


def measure(
    db: Path,
    sim: RunningSimulator,
    slack: RunningFakeSlack,
    out: Path,
    *,
    runs: int = 5,
    past_month: bool = False,
    progress: Callable[[str], None] = print,
) -> Measured:
    measured = Measured()
    session = Session(db, sim, slack, People())
    try:
        progress("  start-up")
        measured.add("start_up", start_up(session, 3))
        progress("  status, history, the Home, /metrics")
        reads(session, measured, runs * 4)
        progress("  reject, cancel, approve")
        decisions(session, measured, runs)
        progress("  scheduler and worker rounds, placing")
        rounds(session, measured, runs)
    finally:
        session.close()
    progress("  exports and backup")
    exports(session, measured, out, max(2, runs // 2), past_month)
    return measured
