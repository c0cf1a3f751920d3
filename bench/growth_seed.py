"""The growth bench's seed: a few thousand orders made through the bot's own code paths.

Requests are recorded, approved, rejected or cancelled by RewardService, as the handlers do,
and the approved ones placed and delivered by the worker against the bundled Xoxoday
simulator (no latency, no rate limit): so every row, event and ledger line is what the bot
itself writes. bench/growth_scale.py then copies it by SQL into a database of years.

The file is cached under bench/out/growth/ by its size and SEED_VERSION (bump it when the
mix below changes); a cached seed written by an older schema is migrated when opened.
"""

from __future__ import annotations

import random
import shutil
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from bot.config import Settings, load_settings
from bot.runtime import build_runtime
from services.reward_specs import RewardSpec
from services.rewards import RewardService
from simulator.xoxoday import DEMO_CREDENTIALS, SimConfig, start
from simulator.xoxoday.server import RunningSimulator
from storage import orders as order_store

SEED_VERSION = 1
CACHE = Path(__file__).parent / "out" / "growth"
PRODUCT = 27222  # the simulator's Amazon.com eGift Card, 10 USD values
APPROVERS = ["UAPPROVER", "UAPPROVER2"]
# The heavy users: kept as themselves in every copy (growth_scale.py), so at a million orders
# they have asked for (and received) about a hundred times what they had in the seed.
HEAVY_REQUESTER = "UHEAVYREQ"
HEAVY_RECIPIENT = "UHEAVYRCP"
REQUESTERS = [f"UREQ{n:03d}" for n in range(1, 41)]
RECIPIENTS = [f"URCP{n:03d}" for n in range(1, 201)]
# The share of requests of each decision (the rest are approved, placed and delivered).
REJECTED, CANCELLED = 0.06, 0.04


@dataclass(frozen=True)
class People:
    """Who the measurements act as: a typical requester and recipient, the heavy ones."""

    typical_requester: str = REQUESTERS[0]
    typical_recipient: str = RECIPIENTS[0]
    heavy_requester: str = HEAVY_REQUESTER
    heavy_recipient: str = HEAVY_RECIPIENT
    approver: str = APPROVERS[0]


def simulator(orders: int) -> RunningSimulator:
    """The simulator with money for everything: delivered at once, no limit, no latency."""
    return start(
        SimConfig(
            delivery_delay_s=-1, rate_scale=0, initial_balance=Decimal(orders * 20 + 1_000_000)
        )
    )


def settings_for(db: Path, sim: RunningSimulator, **overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "xoxoday_base_url": sim.base_url,
        "xoxoday_client_id": DEMO_CREDENTIALS["client_id"],
        "xoxoday_client_secret": DEMO_CREDENTIALS["client_secret"],
        "xoxoday_access_token": DEMO_CREDENTIALS["access_token"],
        "xoxoday_refresh_token": DEMO_CREDENTIALS["refresh_token"],
        "xoxoday_rate_scale": 0,
        "rewards_db": db,
        "rewards_approvers": APPROVERS,
        "rewards_worker_concurrency": 8,
        "rewards_max_waiting": 10_000,
    }
    values.update(overrides)
    return load_settings(None, **values)


def specs(rng: random.Random, n: int) -> list[RewardSpec]:
    """`n` gift cards: mostly to people in Slack (a tenth of them to the heavy recipient),
    some to an email only (a CSV's recipients)."""
    found = []
    for _ in range(n):
        roll = rng.random()
        if roll < 0.1:
            who = HEAVY_RECIPIENT
        elif roll < 0.85:
            who = rng.choice(RECIPIENTS)
        else:
            number = rng.randrange(100_000)
            found.append(RewardSpec(PRODUCT, Decimal(10), email=f"guest{number}@example.com"))
            continue
        found.append(
            RewardSpec(PRODUCT, Decimal(10), recipient_id=who, email=f"{who.lower()}@example.com")
        )
    return found


def fill(rewards: RewardService, orders: int, rng: random.Random) -> int:
    """Record requests of 1 to 20 orders until `orders` exist, each decided at once.
    Returns the number of requests."""
    made = requests = 0
    while made < orders:
        size = min(orders - made, rng.randint(1, 20))
        requester = HEAVY_REQUESTER if rng.random() < 0.05 else rng.choice(REQUESTERS)
        decision = rewards.create(requester, specs(rng, size), requester_name=requester.title())
        request_id = decision.request.id
        roll = rng.random()
        if roll < REJECTED:
            rewards.reject(request_id, rng.choice(APPROVERS), "not this time")
        elif roll < REJECTED + CANCELLED:
            rewards.cancel(request_id, requester)
        else:
            rewards.approve(request_id, rng.choice(APPROVERS))
        made += size
        requests += 1
    return requests


def build_seed(path: Path, orders: int, *, quiet: bool = False) -> None:
    """A database of `orders` orders made by the bot's services and worker."""
    path.unlink(missing_ok=True)
    sim = simulator(orders)
    try:
        runtime = build_runtime(settings_for(path, sim))
        try:
            runtime.catalog.refresh()
            rng = random.Random(20)  # the same seed, the same mix, every time
            done = 0
            while done < orders:  # in slices, so no requester waits on too many at once
                chunk = min(500, orders - done)
                fill(runtime.rewards, chunk, rng)
                runtime.worker.run(until_settled=True)
                done += chunk
                if not quiet:
                    print(f"  seed: {done:,} of {orders:,} orders", flush=True)
            counts = order_store.count_by_state(runtime.database)
            unsettled = {s: n for s, n in counts.items() if s not in ("delivered", "withdrawn")}
            assert not unsettled, f"the seed left orders unsettled: {counts}"
        finally:
            runtime.close()
    finally:
        sim.stop()


def cached_seed(orders: int, *, quiet: bool = False) -> Path:
    """The seed of `orders` orders, built once and kept under bench/out/growth/."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"seed-v{SEED_VERSION}-{orders}.db"
    if not path.exists():
        if not quiet:
            print(f"building the seed ({orders:,} orders through the bot's services)", flush=True)
        partial = path.with_suffix(".partial")
        build_seed(partial, orders, quiet=quiet)
        for suffix in ("-wal", "-shm"):
            Path(f"{partial}{suffix}").unlink(missing_ok=True)
        shutil.move(partial, path)
    return path
