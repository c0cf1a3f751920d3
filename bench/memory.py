"""Memory and growth: the bot's resident memory idle and with 10,000 orders on record, and
whether `orders list` and the status lookup slow down as the order table grows.

The bot runs as its own process (`rewards-bot run`, HTTP mode, against the local stand-ins).
The floor for the lookups is the same measurement at 100 orders, in the same run.

    python -m bench.memory [--orders 10000]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from bench.common import Table, machine, ms, percentile, save
from bot.local import BOT_TOKEN, SIGNING_SECRET, BotProcess, free_port, process_env
from bot.logs import setup_logging
from services.rewards import new_po_number
from simulator.slack.driver import SlackDriver
from simulator.slack.fake import start_fake_slack
from simulator.xoxoday import SimConfig, start
from storage import events
from storage import orders as order_store
from storage import requests as request_store
from storage.db import Database
from storage.migrations import migrate

ROOT = Path(__file__).parent.parent


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def fill(database: Database, target: int, requester: str = "UREQUESTER") -> int:
    """Add delivered orders (one request of 10 each) until `target` orders exist."""
    have = sum(order_store.count_by_state(database).values())
    while have < target:
        with database.tx() as db:
            request_id = request_store.insert(
                db,
                requester_id=requester,
                requester_name="Riya",
                source="slack",
                total_cost=Decimal("98.00"),
                currency="USD",
                channel_id="CREWARDS",
            )
            for n in range(min(10, target - have)):
                order_id = order_store.insert(
                    db,
                    {
                        "request_id": request_id,
                        "po_number": new_po_number(),
                        "state": "delivered",
                        "reward_type": "gift_card",
                        "product_id": 27222,
                        "product_name": "Amazon.com eGift Card",
                        "denomination": "10",
                        "product_currency": "USD",
                        "cost_estimate": "9.80",
                        "amount_charged": "9.80",
                        "wallet_currency": "USD",
                        "recipient_id": "UANA",
                        "email": f"p{have + n}@example.com",
                    },
                )
                events.append(
                    db, "order.delivered", request_id=request_id, order_id=order_id, actor="bench"
                )
            db.execute("UPDATE requests SET state = 'approved' WHERE id = ?", [request_id])
        have += min(10, target - have)
    return have


def cli_seconds(env: dict[str, str], *args: str, runs: int = 5) -> float:
    """Median wall time of a CLI command (a fresh Python process each time)."""
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        subprocess.run(
            [sys.executable, "-m", "bot.cli", "--env-file", "/dev/null", *args],
            env=env,
            check=True,
            capture_output=True,
        )
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def lookup_seconds(driver: SlackDriver, reference: str, runs: int = 50) -> list[float]:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        response = driver.command("UREQUESTER", f"status {reference}")
        times.append(time.perf_counter() - began)
        assert response.status_code == 200, response.text
        assert reference.split("-")[0] in response.text
    return times


def median_seconds(work: Callable[[], object], runs: int = 200) -> float:
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        work()
        times.append(time.perf_counter() - began)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--orders", type=int, default=10_000)
    args = parser.parse_args()
    setup_logging("ERROR")
    print(f"Memory and growth up to {args.orders} orders on {machine()}")
    sim = start(SimConfig(delivery_delay_s=-1))
    slack = start_fake_slack(bot_token=BOT_TOKEN)
    db_path = Path(tempfile.mkdtemp(prefix="bench-memory-")) / "growth.db"
    env = process_env(sim, slack, db_path, free_port(), LOG_LEVEL="WARNING")
    database = Database(db_path)
    migrate(database)
    bot = BotProcess(env)
    driver = SlackDriver(bot.url, SIGNING_SECRET, slack)
    try:
        time.sleep(3)  # idle: catalog cached, worker waiting
        idle = rss_mb(bot.process.pid)

        results = {}
        for size in (100, args.orders):
            fill(database, size)
            last = request_store.for_requester(database, "UREQUESTER", limit=1)[0]
            po = order_store.for_request(database, last.id)[-1].po_number
            lookup = lookup_seconds(driver, last.ref) + lookup_seconds(driver, po)
            results[size] = {
                "lookup_p50": percentile(lookup, 50),
                "lookup_p99": percentile(lookup, 99),
                "latest": median_seconds(lambda: order_store.recent(database, limit=50)),
                "counts": median_seconds(lambda: order_store.count_by_state(database)),
                "list_cli": cli_seconds(env, "orders", "list"),
            }
        busy = rss_mb(bot.process.pid)
    finally:
        driver.close()
        bot.stop()
        slack.stop()
        sim.stop()

    memory = Table("Resident memory of `rewards-bot run`", ["when", "RSS"])
    memory.add("idle, after start-up", f"{idle:.1f} MB")
    memory.add(f"with {args.orders:,} orders on record, after the lookups below", f"{busy:.1f} MB")
    growth = Table(
        "Lookups as the order table grows",
        ["measure", "at 100 orders (floor)", f"at {args.orders:,} orders", "ratio"],
    )
    small, large = results[100], results[args.orders]
    for key, label in [
        ("lookup_p50", "`/reward status` ack p50 (HTTP, by R-n and by poNumber)"),
        ("lookup_p99", "`/reward status` ack p99"),
        ("latest", "`orders list`: the latest 50 orders, in process"),
        ("counts", "`orders list`: orders per state, in process"),
        ("list_cli", "`rewards-bot orders list`, whole command"),
    ]:
        table_value = ms(large[key]) if key != "list_cli" else f"{large[key]:.2f} s"
        floor_value = ms(small[key]) if key != "list_cli" else f"{small[key]:.2f} s"
        if key == "counts":
            table_value, floor_value = f"{large[key] * 1e6:.0f} µs", f"{small[key] * 1e6:.0f} µs"
        growth.add(label, floor_value, table_value, f"{large[key] / small[key]:.2f}x")
    growth.notes.append(
        "The in-process listing reads the latest 50 orders by primary key and the per-state "
        "counts the triggers keep; neither scans the table. What moves it by a millisecond is "
        "SQLite's write-ahead log, which the bot process keeps open and which stays under ~4 MB."
    )
    for table in (memory, growth):
        table.show()
    command = f"python -m bench.memory --orders {args.orders}"
    print(f"\nwritten to {save('memory', [memory, growth], command)}")


if __name__ == "__main__":
    main()
