"""`rewards-bot simulator` as its own process serves a client round trip of every operation."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import httpx
import pytest

from services.reward_types import build_order
from tests.support import make_client, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def sim_url() -> Iterator[str]:
    port = free_port()
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot.cli",
            "simulator",
            "--port",
            str(port),
            "--delivery-delay",
            "-1",
        ],
        env={**os.environ, "PYTHONPATH": str(Path.cwd())},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"

    def up() -> bool:
        try:
            return httpx.get(f"{url}/_sim/health", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    try:
        wait_for(up, interval=0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_every_operation_round_trips_through_the_cli_simulator(sim_url: str) -> None:
    today = datetime.now(UTC).date()
    with make_client(f"{sim_url}/chef") as client:
        assert client.get_filters("country")
        gift_cards = {p.product_id: p for p in client.all_vouchers()}
        miles = client.all_vouchers(category_type="miles")
        charity = client.all_vouchers(category_type="charity")
        operators = client.all_vouchers(category_type="topup")
        plans = client.get_vouchers(
            category_type="topup", parent_product_id=operators[0].product_id
        )
        assert gift_cards and miles and charity and plans
        assert client.lookup_mobile_number("+12125551234").operator
        before = client.get_balance().value
        order = client.place_order(
            build_order(
                "gift_card",
                product_id=27222,
                denomination="10",
                po_number="PO-CLI-1",
                email="a@example.com",
            ),
            gift_cards[27222],
        )
        assert client.get_balance().value == before - order.amount_charged
        assert client.get_order_details(po_number="PO-CLI-1").order_id == order.order_id
        assert client.get_order_details(order_id=order.order_id).delivery == "delivered"
        history = client.get_order_history(today - timedelta(days=1), today + timedelta(days=1))
        assert "PO-CLI-1" in [h.po_number for h in history]
        payments = client.payment_history(today - timedelta(days=1), today + timedelta(days=1))
        assert any(p.adjusted_amount == order.amount_charged for p in payments)
        assert client.validate_token()
        assert order.amount_charged == Decimal("9.80")
