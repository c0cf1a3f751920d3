"""Growth: every click and every round on years of history against a few weeks' (issue 20).

A seed of 8,000 orders is made through the bot's own code paths (bench/growth_seed.py, cached
under bench/out/growth/), and a million-order database is built from it by SQL
(bench/growth_scale.py: 24 months, people multiplied, heavy users kept, about 100,000
requests, 4 million events and a million ledger lines). The same operations are then timed on
both (bench/growth_measure.py), side by side in turns, so the seed is the floor measured at
the same moments. Goal: each at most 1.5x the small database, except the full export and the
backup, which grow with what they write; and, at a million orders, reject and cancel of 200
orders within Slack's 3 s and a round with 100 expiries under a second.

    python -m bench.growth [--large 1000000] [--seed 8000] [--runs 5]

GROWTH_LARGE sets the large size for a quicker run (GROWTH_LARGE=200000 make bench).
"""

from __future__ import annotations

import argparse
import os
import shutil
import time
from dataclasses import dataclass
from decimal import Decimal

from bench.common import Table, machine, save
from bench.growth_measure import Figure, Measured, measure
from bench.growth_scale import build_large, notification_cursors, table_counts
from bench.growth_seed import CACHE, cached_seed
from bot.local import BOT_TOKEN
from bot.logs import setup_logging
from simulator.slack.fake import start_fake_slack
from simulator.xoxoday import SimConfig, start

RATIO_GOAL = 1.5
SLACK_WINDOW_S = 3.0
EXPIRY_ROUND_S = 1.0


@dataclass(frozen=True)
class Row:
    key: str
    label: str
    goal: str = "ratio"  # ratio: at most RATIO_GOAL; grows: none (it writes more); mb: memory
    small_key: str | None = None  # compared with another small figure (the past month's)


ROWS = [
    Row("start_up", "start-up (build, migrate, account, recovery, first worker round)"),
    Row("status_ref", "`/reward status R-n`, typical requester"),
    Row("status_po", "`/reward status <poNumber>`"),
    Row("history", "`/reward history`, typical requester"),
    Row("history_heavy", "`/reward history`, heavy requester"),
    Row("home", "Home, typical requester"),
    Row("home_heavy", "Home, heavy requester"),
    Row("home_recipient", "Home, heavy recipient"),
    Row("home_approver", "Home, approver (30 waiting)"),
    Row("reject_50", "reject a 50-order request"),
    Row("reject_200", "reject a 200-order request"),
    Row("cancel_50", "cancel a 50-order request"),
    Row("cancel_200", "cancel a 200-order request"),
    Row("approve", "approve a 10-order request"),
    Row("remind_100", "scheduler round, 100 reminders due"),
    Row("expire_100", "scheduler round, 100 expiries due"),
    Row("idle_round", "worker round with nothing to do"),
    Row("place_50", "place 50 orders (simulator, until idle)"),
    Row("metrics", "/metrics scrape (the registry's collect)"),
    Row("month_export", "month export, this month (time)"),
    Row("month_export_mb", "month export, this month (peak memory)", "mb"),
    Row("month_export_past", "month export, fullest past month (time)", "grows", "month_export"),
    Row(
        "month_export_past_mb",
        "month export, fullest past month (peak memory)",
        "mb",
        "month_export_mb",
    ),
    Row("full_export", "full export of every order (time)", "grows"),
    Row("full_export_mb", "full export of every order (peak memory)", "mb"),
    Row("backup", "backup", "grows"),
]
ABSOLUTE = [
    ("reject_200", SLACK_WINDOW_S, "reject of 200 orders answers within Slack's 3 s"),
    ("cancel_200", SLACK_WINDOW_S, "cancel of 200 orders answers within Slack's 3 s"),
    ("expire_100", EXPIRY_ROUND_S, "a round with 100 expiries takes under 1 s"),
]


def shown(figure: Figure | None, memory: bool) -> str:
    if figure is None:
        return ""
    value = figure.value
    if memory:
        return f"{value:.0f} MB"
    if value < 0.001:
        return f"{value * 1e6:.0f} µs"
    if value < 10:
        return f"{value * 1000:.1f} ms" if value < 1 else f"{value * 1000:,.0f} ms"
    return f"{value:.1f} s"


def growth_table(
    small: Measured, large: Measured, small_orders: int, large_orders: int
) -> tuple[Table, bool]:
    """Each operation's small and large figures, their ratio and its goal; and whether every
    goal was met."""
    table = Table(
        f"Growth: {small_orders:,} orders against {large_orders:,}",
        ["operation", "small", "large", "ratio", "goal", "result"],
    )
    met_all = True
    for row in ROWS:
        big = large.figures.get(row.key)
        base = small.figures.get(row.small_key or row.key)
        if big is None or base is None:
            continue
        ratio = big.value / base.value if base.value else float("inf")
        if row.goal == "grows":
            goal, result = "grows with what it writes", "-"
        else:
            goal = f"≤ {RATIO_GOAL}x"
            met = ratio <= RATIO_GOAL
            met_all &= met
            result = "met" if met else "MISSED"
        small_shown = "" if row.small_key else shown(small.figures.get(row.key), row.goal == "mb")
        table.add(
            row.label,
            small_shown,
            shown(big, row.goal == "mb"),
            f"{ratio:.2f}x",
            goal,
            result,
        )
    for name, measured in (("small", small), ("large", large)):
        notes = {k: f.note for k, f in measured.figures.items() if f.note and not k.endswith("_mb")}
        table.notes += [f"- {name}, {k}: {note}" for k, note in notes.items()]
    return table, met_all


def absolute_table(large: Measured, large_orders: int) -> tuple[Table, bool]:
    table = Table(
        f"Absolute checks at {large_orders:,} orders", ["check", "took", "limit", "result"]
    )
    met_all = True
    for key, limit, label in ABSOLUTE:
        took = large.figures[key].value
        met = took < limit
        met_all &= met
        table.add(label, f"{took * 1000:,.0f} ms", f"{limit:.0f} s", "met" if met else "MISSED")
    return table, met_all


def sizes_table(built: dict, seed_counts: dict[str, int], took_s: float) -> Table:
    table = Table("The two databases", ["table", "small", "large"])
    for name, count in built["counts"].items():
        table.add(name, f"{seed_counts[name]:,}", f"{count:,}")
    table.notes.append(
        f"The large one: the seed and {built['copies'] - 1} copies, built by SQL in "
        f"{took_s:.0f} s (" + ", ".join(f"{t} {s:.0f} s" for t, s in built["took"].items()) + ")."
    )
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seed", type=int, default=8_000, help="orders made by the bot's code")
    parser.add_argument("--large", type=int, default=int(os.environ.get("GROWTH_LARGE", "1000000")))
    parser.add_argument("--runs", type=int, default=5, help="repeats of each measurement")
    parser.add_argument("--keep", action="store_true", help="keep the large database")
    args = parser.parse_args()
    setup_logging("ERROR")
    print(f"Growth: {args.seed:,} orders against {args.large:,} on {machine()}", flush=True)
    seed = cached_seed(args.seed)
    work = CACHE / "run"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    small_db, large_db = work / "small.db", work / "large.db"
    shutil.copyfile(seed, small_db)
    print(f"building the large database ({args.large:,} orders, by SQL)", flush=True)
    began = time.perf_counter()
    built = build_large(seed, large_db, args.large)
    build_s = time.perf_counter() - began
    seed_counts = table_counts(small_db)
    notification_cursors(small_db)
    sim = start(SimConfig(delivery_delay_s=-1, rate_scale=0, initial_balance=Decimal(10**9)))
    slack = start_fake_slack(bot_token=BOT_TOKEN)
    loads: list[float] = []

    def progress(step: str) -> None:
        loads.append(os.getloadavg()[0])
        print(f"{step} (load average {loads[-1]:.1f})", flush=True)

    try:
        print("measuring both databases side by side", flush=True)
        dbs = {"small": small_db, "large": large_db}
        measured = measure(dbs, sim, slack, work, runs=args.runs, progress=progress)
        small, large = measured["small"], measured["large"]
        loads.append(os.getloadavg()[0])
    finally:
        slack.stop()
        sim.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    sizes = sizes_table(built, seed_counts, build_s)
    growth, ratios_met = growth_table(
        small, large, seed_counts["orders"], built["counts"]["orders"]
    )
    growth.notes.append(
        f"- load average (1 min) during the measurements: {min(loads):.1f} to {max(loads):.1f}"
    )
    checks, checks_met = absolute_table(large, built["counts"]["orders"])
    for table in (sizes, growth, checks):
        table.show()
    verdict = "every goal met" if ratios_met and checks_met else "goals MISSED"
    print(f"\n{verdict}")
    command = f"python -m bench.growth --large {args.large} --seed {args.seed} --runs {args.runs}"
    print(f"written to {save('growth', [sizes, growth, checks], command)}")


if __name__ == "__main__":
    main()
