"""`rewards-bot demo`: the whole flow on embedded defaults, with no credentials.

Starts the bundled Xoxoday simulator and runs one request with a reward of each type through
the real services: request, approval, placement, delivery. Exits non-zero if a step fails.
"""

from __future__ import annotations

import logging
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from bot.config import load_settings
from bot.logs import setup_logging
from bot.runtime import build_runtime
from services.rewards import RewardSpec
from simulator.xoxoday import DEMO_CREDENTIALS, SimConfig, start


class DemoFailed(Exception):
    pass


def say(text: str = "") -> None:
    print(text, flush=True)


def run_demo(verbose: bool = False) -> int:
    setup_logging("INFO" if verbose else "WARNING")
    began = time.monotonic()
    sim = start(SimConfig(delivery_delay_s=-1))
    try:
        with tempfile.TemporaryDirectory(prefix="rewards-demo-") as tmp:
            _run(sim, Path(tmp))
    except DemoFailed as exc:
        say(f"\nDEMO FAILED: {exc}")
        return 1
    finally:
        sim.stop()
    say(f"\nDemo finished in {time.monotonic() - began:.1f} s.")
    return 0


def _run(sim, tmp: Path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(
        None,
        xoxoday_base_url=sim.base_url,
        xoxoday_client_id=DEMO_CREDENTIALS["client_id"],
        xoxoday_client_secret=DEMO_CREDENTIALS["client_secret"],
        xoxoday_access_token=DEMO_CREDENTIALS["access_token"],
        xoxoday_refresh_token=DEMO_CREDENTIALS["refresh_token"],
        rewards_db=tmp / "rewards.db",
        rewards_approvers=["UAPPROVER"],
    )
    runtime = build_runtime(settings, poll_first_s=0.2)
    try:
        say(f"Xoxoday simulator at {sim.base_url}; database {settings.rewards_db}")
        counts = runtime.catalog.refresh()
        say(f"Catalog: {counts}")
        specs = [
            RewardSpec(
                product_id=27222,
                denomination=Decimal(25),
                email="ana@example.com",
                recipient_name="Ana",
            ),
            RewardSpec(
                product_id=15365,
                denomination=Decimal(50),
                email="ben@example.com",
                recipient_name="Ben",
                loyalty_member_id="EK-324523423",
            ),
            RewardSpec(
                product_id=40001,
                denomination=Decimal(20),
                email="cho@example.com",
                recipient_name="Cho",
            ),
            RewardSpec(
                product_id=55133,
                denomination=Decimal(199),
                email="dev@example.com",
                recipient_name="Dev",
                phone="+919857535678",
            ),
        ]
        decision = runtime.rewards.create(
            "UREQUESTER", specs, requester_name="Riya", message="Q4 launch"
        )
        request = decision.request
        say(f"Requested {request.ref}: {request.total_cost} {request.currency}, {request.state}")
        decision = runtime.rewards.approve(decision.request.id, "UAPPROVER")
        say(f"Approved by UAPPROVER: {decision.request.state}")
        runtime.worker.run(until_idle=True)
        for order in decision.orders:
            current = runtime.database.one(
                "SELECT state, po_number FROM orders WHERE id = ?", [order.id]
            )
            say(f"  {order.reward_type:<9} {order.product_name:<34} -> {current['state']}")
            if current["state"] == "placed":
                sim.app.deliver(sim.app.state.orders_by_po[current["po_number"]], "delivered")  # type: ignore[attr-defined]
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            runtime.worker.step()
            states = {o.state for o in _orders(runtime, decision.request.id)}
            if states <= {"delivered"}:
                break
            time.sleep(0.1)
        final = _orders(runtime, decision.request.id)
        for order in final:
            say(f"  {order.po_number} {order.reward_type:<9} {order.state}")
        if any(o.state != "delivered" for o in final):
            raise DemoFailed("not every order was delivered")
    finally:
        runtime.close()


def _orders(runtime, request_id: int):  # type: ignore[no-untyped-def]
    from storage import orders

    return orders.for_request(runtime.database, request_id)


if __name__ == "__main__":
    logging.basicConfig()
    sys.exit(run_demo())
