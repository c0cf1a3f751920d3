"""The growth bench's measurements: what each click, command and round costs on one database.

Each measurement calls what the handlers and the worker call (RewardService, HomeService and
the Home's view, the Scheduler, the Worker, the /metrics registry, the CLI's export, the
backup), in this process against the bundled simulator and the Slack stand-in, with no thread
of the bot running beside it: what is timed is the work itself. Requests the measurements act
on (a 200-order request to reject, 100 requests due a reminder) are recorded just before,
through RewardService, so both databases get the same ones.

Both databases are measured side by side, in turns: each run of an operation on the small
file is followed by the same run on the large one (and the next pair in the other order), so
both see the same moments of a shared machine's load. Measured one after the other, minutes
apart, a few-millisecond read on a machine whose other users come and go moved by 3-5x
between the two phases while its CPU time and its statements did not (bench/RESULTS.md §6).

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


def alternate(
    works: dict[str, Callable[[], object]], runs: int, *, warm: bool = True
) -> dict[str, list[float]]:
    """`runs` timings of each side's work, taken in turns (small, large, then large, small,
    ...): neither side is measured at a quieter moment than the other."""
    if warm:  # the first run pays for imports and SQLite's page cache
        for work in works.values():
            work()
    samples: dict[str, list[float]] = {side: [] for side in works}
    order = list(works)
    for n in range(runs):
        for side in order if n % 2 == 0 else order[::-1]:
            samples[side].append(timed(works[side]))
    return samples


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


class Sides:
    """The sessions measured side by side ("small", "large"), each with its figures."""

    def __init__(self, sessions: dict[str, Session]) -> None:
        self.sessions = sessions
        self.measured = {side: Measured() for side in sessions}

    def each(self, make: Callable[[Session], Callable[[], object]]) -> dict[str, Callable]:
        """Each side's work, made from its session."""
        return {side: make(session) for side, session in self.sessions.items()}

    def add(
        self,
        key: str,
        works: dict[str, Callable[[], object]],
        runs: int,
        *,
        warm: bool = True,
        note: str = "",
    ) -> None:
        for side, samples in alternate(works, runs, warm=warm).items():
            self.measured[side].add(key, samples, note)

    def add_taken(self, key: str, samples: dict[str, list[float]], note: str = "") -> None:
        for side, taken in samples.items():
            self.measured[side].add(key, taken, note)


def start_up(session: Session) -> Callable[[], object]:
    """`rewards-bot run` up to its first worker round: everything built (the database opened
    and migrated, the account checked), stranded approvals found, then the worker's recovery
    and first round, in the foreground."""

    def once() -> None:
        bot: Bot = build_bot(session.settings)
        try:
            bot.runtime.rewards.stranded_auto_approvals()
            bot.runtime.worker.recover()
            bot.runtime.worker.step()
        finally:
            bot.background.shutdown(wait=True)
            bot.runtime.close()

    return once


def status(session: Session, which: str) -> Callable[[], object]:
    """`/reward status` of the typical requester's latest request, by R-n or by poNumber."""
    people, rewards = session.people, session.runtime.rewards
    latest = rewards.history(people.typical_requester, limit=1)[0]
    po = order_store.for_request(session.runtime.database, latest.id)[-1].po_number
    reference = latest.ref if which == "ref" else po

    def look() -> str:
        view = rewards.view_for(people.typical_requester, reference)
        assert view is not None, reference
        return status_text(view.request, view.orders, whole=view.whole)

    return look


def history(session: Session, user: str) -> Callable[[], object]:
    rewards = session.runtime.rewards
    return lambda: history_text(rewards.history(user, limit=10))


def home(session: Session, user: str) -> Callable[[], object]:
    found = session.bot.deps.home
    assert found is not None
    return lambda: home_view(found.service.build(user))


def reads(sides: Sides, runs: int) -> None:
    """Status, history, the Home and /metrics: nothing changes (but the 30 requests the
    approver's Home lists, recorded before and rejected after)."""
    sides.add("status_ref", sides.each(lambda s: status(s, "ref")), runs)
    sides.add("status_po", sides.each(lambda s: status(s, "po")), runs)
    sides.add("history", sides.each(lambda s: history(s, s.people.typical_requester)), runs)
    sides.add("history_heavy", sides.each(lambda s: history(s, s.people.heavy_requester)), runs)
    waiting = {
        side: [s.pending(3, requester=f"UWAIT{n:02d}") for n in range(30)]
        for side, s in sides.sessions.items()
    }
    for key, who in (
        ("home", "typical_requester"),
        ("home_heavy", "heavy_requester"),
        ("home_recipient", "heavy_recipient"),
        ("home_approver", "approver"),
    ):
        sides.add(key, sides.each(lambda s, w=who: home(s, getattr(s.people, w))), runs)
    for side, ids in waiting.items():
        session = sides.sessions[side]
        for request_id in ids:
            session.runtime.rewards.reject(
                request_id, session.people.approver, "bench: the Home's waiting list"
            )
    sides.add("metrics", sides.each(lambda s: lambda: generate_latest(s.bot.registry)), runs)


def popping(act: Callable[[int], object], ids: list[int]) -> Callable[[], object]:
    """The action on the next of `ids`: requests made beforehand, outside the timing."""
    return lambda: act(ids.pop(0))


def decisions(sides: Sides, runs: int) -> None:
    """Reject and cancel of 50 and 200 orders, approve of 10: the calls Slack waits for."""

    def act(key: str, size: int, make: Callable[[Session], Callable[[int], object]]) -> None:
        made = {side: [s.pending(size) for _ in range(runs)] for side, s in sides.sessions.items()}
        works = {side: popping(make(s), made[side]) for side, s in sides.sessions.items()}
        sides.add(key, works, runs, warm=False)

    for size in (50, 200):
        act(
            f"reject_{size}",
            size,
            lambda s: lambda r: s.runtime.rewards.reject(r, s.people.approver, "bench"),
        )
        act(
            f"cancel_{size}",
            size,
            lambda s: lambda r: s.runtime.rewards.cancel(r, s.people.typical_requester),
        )
    # Approve reads the balance Xoxoday gave in the last 30 s; the long rejects above may have
    # outlived it, and a click after another click is the common case.
    for session in sides.sessions.values():
        session.runtime.wallet.balance(max_age_s=0)
    act("approve", 10, lambda s: lambda r: s.runtime.rewards.approve(r, s.people.approver))
    for session in sides.sessions.values():
        session.settle()


def rounds(sides: Sides, runs: int) -> None:
    """A scheduler round with 100 reminders due, then with the same 100 expiring; the worker's
    idle round; placing 50 orders against the simulator. Each run on both sides in turn."""
    reminders: dict[str, list[float]] = {side: [] for side in sides.sessions}
    expiries: dict[str, list[float]] = {side: [] for side in sides.sessions}
    ticks: list[int] = []
    order = list(sides.sessions)
    for n in range(runs):
        for side in order if n % 2 == 0 else order[::-1]:
            session = sides.sessions[side]
            schedule = session.runtime.deciders.schedule
            remind_at = schedule.remind_after.total_seconds() + 60
            expire_at = schedule.expire_after.total_seconds() + 60
            due = [session.pending(1, requester=f"UDUE{k:02d}") for k in range(100)]
            session.scheduler(0).tick()  # schedules them: nothing is due yet
            reminders[side].append(until_done(session.scheduler(remind_at), len(due), ticks))
            expiries[side].append(until_done(session.scheduler(expire_at), len(due), ticks))
    note = f"rounds needed: {max(ticks)}" if max(ticks) > 1 else ""
    sides.add_taken("remind_100", reminders, note)
    sides.add_taken("expire_100", expiries, note)
    for session in sides.sessions.values():
        session.settle()
    sides.add("idle_round", sides.each(lambda s: s.runtime.worker.step), runs * 5)
    placing: dict[str, list[float]] = {side: [] for side in sides.sessions}
    for n in range(runs):
        for side in order if n % 2 == 0 else order[::-1]:
            session = sides.sessions[side]
            request_id = session.pending(50)  # made and approved before the clock starts
            session.runtime.rewards.approve(request_id, session.people.approver)
            placing[side].append(timed(session.settle))
            orders = order_store.for_request(session.runtime.database, request_id)
            assert {o.state for o in orders} == {"delivered"}, orders
    sides.add_taken("place_50", placing)


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
    dbs: dict[str, Path],
    sim: RunningSimulator,
    slack: RunningFakeSlack,
    out: Path,
    *,
    runs: int = 5,
    past_month: tuple[str, ...] = ("large",),
    progress: Callable[[str], None] = print,
) -> dict[str, Measured]:
    """Every figure of each database (by side: "small", "large"), measured side by side; the
    exports, processes of seconds to minutes, one side after the other."""
    sessions: dict[str, Session] = {}
    try:
        for side, db in dbs.items():
            sessions[side] = Session(db, sim, slack, People())
        sides = Sides(sessions)
        progress("  start-up")
        sides.add("start_up", sides.each(start_up), 3)
        progress("  status, history, the Home, /metrics")
        reads(sides, runs * 4)
        progress("  reject, cancel, approve")
        decisions(sides, runs)
        progress("  scheduler and worker rounds, placing")
        rounds(sides, runs)
    finally:
        for session in sessions.values():
            session.close()
    for side, session in sessions.items():
        progress(f"  exports and backup, {side}")
        exports(session, sides.measured[side], out, max(2, runs // 2), side in past_month)
    return sides.measured
