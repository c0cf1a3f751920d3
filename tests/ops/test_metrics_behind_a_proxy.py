"""Issue 16, finding 4: `/metrics` without a token answers only a direct loopback connection;
`/healthz` says only whether the bot and its worker are healthy.

The attack: behind a reverse proxy or tunnel on the same machine (as the README suggests),
every request reaches the bot from 127.0.0.1, so anyone read the wallet balance, host and
pid; and `/healthz` gave anyone the order counts by state."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.local import LocalStack, start_local_stack
from plumbing.httpserver import ServerThread
from tests.support import SimControl


def reverse_proxy(upstream: str, **add: str) -> ServerThread:
    """A reverse proxy on this machine, as nginx, ngrok or cloudflared are deployed: it
    connects to the bot from 127.0.0.1 and adds its forwarding headers."""

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        client = str(environ.get("REMOTE_ADDR"))
        headers = {
            k.replace("{client}", client): v.replace("{client}", client) for k, v in add.items()
        }
        answer = httpx.get(f"{upstream}{environ['PATH_INFO']}", headers=headers, timeout=10)
        start_response(
            f"{answer.status_code} X", [("Content-Type", answer.headers["content-type"])]
        )
        return [answer.content]

    return ServerThread(app).start()


@pytest.fixture
def stack(xo: SimControl, tmp_path: Path) -> Iterator[LocalStack]:
    running = start_local_stack(tmp_path / "proxied.db", sim=xo.running)
    yield running
    running.stop()


@pytest.mark.parametrize(
    "added",
    [
        {"X-Forwarded-For": "{client}"},  # nginx's proxy_add_x_forwarded_for, ngrok
        {"X-Real-IP": "{client}"},
        {"Forwarded": "for={client};proto=https"},  # RFC 7239
        {"X-Forwarded-Proto": "https", "X-Forwarded-Host": "rewards.example.com"},
        {"Via": "1.1 tunnel"},
        {"CF-Connecting-IP": "{client}"},  # cloudflared
    ],
)
def test_metrics_through_a_proxy_on_this_machine_are_refused(
    stack: LocalStack, added: dict[str, str]
) -> None:
    direct = httpx.get(f"{stack.url}/metrics", timeout=10)
    assert direct.status_code == 200 and "rewards_wallet_balance" in direct.text
    proxy = reverse_proxy(stack.url, **added)
    try:
        proxied = httpx.get(f"{proxy.url}/metrics", timeout=10)
    finally:
        proxy.stop()
    assert proxied.status_code == 403
    assert "rewards_wallet_balance" not in proxied.text and "pid" not in proxied.text


def test_health_says_only_healthy_or_not(stack: LocalStack) -> None:
    stack.request("UREQUESTER", ["UANA"])  # an order exists: its state is not told
    answer = httpx.get(f"{stack.url}/healthz", timeout=10)
    assert answer.status_code == 200 and answer.json() == {"ok": True}
    proxy = reverse_proxy(stack.url, **{"X-Forwarded-For": "{client}"})
    try:  # the same through a proxy: nothing more, nothing less
        assert httpx.get(f"{proxy.url}/healthz", timeout=10).json() == {"ok": True}
    finally:
        proxy.stop()
    stack.bot.runtime.worker.stop()
    stopped = httpx.get(f"{stack.url}/healthz", timeout=10)
    assert stopped.status_code == 503 and stopped.json() == {"ok": False}
