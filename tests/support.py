"""Test helpers shared by the suites: steering the simulator and building real clients."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx

from plumbing.jsonutil import dumps, loads
from services.xoxoday import MemoryTokenStore, RateLimiter, TokenSet, XoxodayClient
from services.xoxoday.tokens import TokenStore
from simulator.xoxoday import DEMO_CREDENTIALS
from simulator.xoxoday.server import RunningSimulator

DEMO_TOKENS = TokenSet(DEMO_CREDENTIALS["access_token"], DEMO_CREDENTIALS["refresh_token"])


class SimControl:
    """The simulator's /_sim/ controls, over HTTP like any other tool would use them."""

    def __init__(self, running: RunningSimulator) -> None:
        self.running = running
        self.base_url = running.base_url
        self.http = httpx.Client(base_url=running.url, timeout=10)

    def _post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        response = self.http.post(f"/_sim/{path}", content=dumps(body or {}))
        assert response.status_code == 200, response.text
        return loads(response.content)

    def _get(self, path: str) -> Any:
        response = self.http.get(f"/_sim/{path}")
        assert response.status_code == 200, response.text
        return loads(response.content)

    def reset(self) -> None:
        self._post("reset")

    def fault(self, op: str, kind: str, times: int = 1, **extra: Any) -> None:
        self._post("faults", {"op": op, "kind": kind, "times": times, **extra})

    def config(self, **fields: Any) -> Any:
        return self._post("config", fields)

    def orders(self) -> list[dict[str, Any]]:
        body = self._get("orders")
        return body["orders"] if isinstance(body, dict) else body

    def deliver(self, po_number: str, status: str = "delivered") -> Any:
        return self._post("deliver", {"poNumber": po_number, "status": status})

    def stats(self) -> dict[str, Any]:
        return self._get("stats")

    def calls(self, op: str) -> int:
        return int(self.stats()["calls"].get(op, 0))

    def rate_limited(self, op: str) -> int:
        return int(self.stats()["rate_limited"].get(op, 0))

    def rates(self, **rates: str) -> dict[str, str]:
        """Lock new daily rates (US dollars per unit), as Xoxoday does each day."""
        return self._post("rates", rates)["rates"]

    def synthetic(self, count: int) -> int:
        """Add `count` plain gift cards spread over the countries; the catalog's size."""
        return int(self._post("catalog", {"synthetic": count})["products"])

    def expire_tokens(self) -> None:
        self._post("tokens/expire")

    def webhooks(self) -> list[dict[str, Any]]:
        body = self._get("webhooks")
        return body["webhooks"] if isinstance(body, dict) else body


def make_client(
    base_url: str,
    store: TokenStore | None = None,
    *,
    initial: TokenSet | None = DEMO_TOKENS,
    rate_scale: float = 0,
    **kwargs: Any,
) -> XoxodayClient:
    return XoxodayClient(
        base_url,
        DEMO_CREDENTIALS["client_id"],
        DEMO_CREDENTIALS["client_secret"],
        store if store is not None else MemoryTokenStore(),
        initial_tokens=initial,
        limiter=RateLimiter(scale=rate_scale),
        **kwargs,
    )


# How long a test waits for something that must happen before calling it a hang: a guard, never
# a speed check (speed belongs in bench/), so far beyond what a machine loaded by others needs.
HANG_S = 120.0


def wait_for(check: Callable[[], Any], timeout: float = HANG_S, interval: float = 0.02) -> Any:
    """Poll until `check()` is truthy (listeners and workers run on other threads); it returns
    as soon as it is, so the guard against a hang costs nothing when the test passes."""
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)


def clean_environ() -> dict[str, str]:
    """This process's environment without any bot setting, so a test sets exactly its own."""
    return {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "XOXODAY_", "REWARDS_"))
    }


def cli_env(xoxoday_base_url: str, db: Path, **extra: str) -> dict[str, str]:
    """The environment of a `rewards-bot` command against the simulator (no Slack)."""
    return {
        **clean_environ(),
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "REWARDS_DB": str(db),
        "XOXODAY_BASE_URL": xoxoday_base_url,
        "XOXODAY_CLIENT_ID": DEMO_CREDENTIALS["client_id"],
        "XOXODAY_CLIENT_SECRET": DEMO_CREDENTIALS["client_secret"],
        "XOXODAY_ACCESS_TOKEN": DEMO_CREDENTIALS["access_token"],
        "XOXODAY_REFRESH_TOKEN": DEMO_CREDENTIALS["refresh_token"],
        "XOXODAY_RATE_SCALE": "0",
        # The worker's in-flight window: a lookup's "not found" counts after 2 s, not 130.
        "XOXODAY_PLACE_ORDER_TIMEOUT_S": "2",
        **extra,
    }


def rewards_bot(
    env: dict[str, str], *args: str, timeout: float = 180
) -> subprocess.CompletedProcess[str]:
    """Run `rewards-bot ARGS` as its own process and wait for it."""
    command = [sys.executable, "-m", "bot.cli", "--env-file", "/dev/null", *args]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=timeout)
