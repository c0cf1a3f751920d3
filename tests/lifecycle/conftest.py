"""A real runtime (SQLite file, services, worker) against the shared simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from bot.config import load_settings
from bot.runtime import Runtime, build_runtime
from services.rewards import RewardSpec
from services.xoxoday.errors import AnswerLost, TransportError
from simulator.xoxoday import DEMO_CREDENTIALS
from tests.support import SimControl, wait_for

REQUESTER = "UREQUESTER"
APPROVER = "UAPPROVER"
OTHER = "UOTHER"
WEBHOOK_KEY = "hookkey0123456789"  # 16-60 letters and digits, as the configuration asks


def settings_for(xo: SimControl, db: Path, **overrides: Any) -> Any:
    values: dict[str, Any] = {
        "xoxoday_base_url": xo.base_url,
        "xoxoday_client_id": DEMO_CREDENTIALS["client_id"],
        "xoxoday_client_secret": DEMO_CREDENTIALS["client_secret"],
        "xoxoday_access_token": DEMO_CREDENTIALS["access_token"],
        "xoxoday_refresh_token": DEMO_CREDENTIALS["refresh_token"],
        "xoxoday_webhook_key": WEBHOOK_KEY,
        "xoxoday_rate_scale": 0,
        # The in-flight window is this timeout: short, so a "not found" is trusted in ~1 s.
        "xoxoday_place_order_timeout_s": 1,
        "rewards_db": db,
        "rewards_approvers": [APPROVER, "UAPPROVER2"],
    }
    values.update(overrides)
    return load_settings(None, **values)


def refreshed(runtime: Runtime) -> bool:
    """The catalog filled before the test begins. A test with 1 s Xoxoday timeouts (to make its
    own faults) may see the setup's getBalance answered late on a busy machine (a CI run at load
    18 did): that is not what the test checks, so the setup asks again."""
    try:
        runtime.catalog.refresh()
    except (AnswerLost, TransportError):
        return False
    return True


@pytest.fixture
def make_runtime(xo: SimControl, tmp_path: Path) -> Iterator[Callable[..., Runtime]]:
    """Build runtimes on one database file; each test can add policy settings."""
    made: list[Runtime] = []

    def make(**overrides: Any) -> Runtime:
        runtime = build_runtime(
            settings_for(xo, tmp_path / "rewards.db", **overrides),
            poll_first_s=0.05,
            backoff_first_s=0.05,
        )
        runtime.worker.reconcile_after_s = 0.05
        runtime.worker.auth_retry_s = 0.2
        made.append(runtime)
        wait_for(lambda: refreshed(runtime))
        return runtime

    yield make
    for runtime in made:
        runtime.worker.stop(timeout=5)
        runtime.close()


@pytest.fixture
def runtime(make_runtime: Callable[..., Runtime]) -> Runtime:
    return make_runtime()


def gift(
    email: str = "ana@example.com", amount: str = "25", product: int = 27222, **extra: Any
) -> RewardSpec:
    return RewardSpec(product_id=product, denomination=Decimal(amount), email=email, **extra)


def miles(email: str = "ben@example.com", member: str | None = "EK-1", **extra: Any) -> RewardSpec:
    details = {"loyalty_member_id": member} if member is not None else {}
    return RewardSpec(
        product_id=15365, denomination=Decimal(50), email=email, details=details, **extra
    )


def topup(email: str = "dev@example.com", phone: str = "+919857535678", **extra: Any) -> RewardSpec:
    return RewardSpec(
        product_id=55133, denomination=Decimal(199), email=email, details={"phone": phone}, **extra
    )


def charity(email: str = "cho@example.com", amount: str = "20") -> RewardSpec:
    return RewardSpec(product_id=40001, denomination=Decimal(amount), email=email)


def states(runtime: Runtime, request_id: int) -> list[str]:
    from storage import orders

    return [o.state for o in orders.for_request(runtime.database, request_id)]


def sim_po_counts(xo: SimControl) -> dict[str, int]:
    counts: dict[str, int] = {}
    for order in xo.orders():
        counts[order["poNumber"]] = counts.get(order["poNumber"], 0) + 1
    return counts
