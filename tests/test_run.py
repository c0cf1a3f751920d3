"""`rewards-bot run` as its own process: HTTP mode on $PORT against the local stand-ins."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.local import BOT_TOKEN, SIGNING_SECRET, WEBHOOK_KEY
from simulator.slack.driver import SlackDriver
from simulator.slack.fake import RunningFakeSlack, start_fake_slack
from simulator.xoxoday import DEMO_CREDENTIALS
from tests.support import SimControl, wait_for


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def bot_env(xo: SimControl, slack: RunningFakeSlack, tmp_path: Path, port: int) -> dict[str, str]:
    clean = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "XOXODAY_", "REWARDS_"))
    }
    return {
        **clean,
        "PYTHONPATH": str(Path.cwd()),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "XOXODAY_BASE_URL": xo.base_url,
        "XOXODAY_CLIENT_ID": DEMO_CREDENTIALS["client_id"],
        "XOXODAY_CLIENT_SECRET": DEMO_CREDENTIALS["client_secret"],
        "XOXODAY_ACCESS_TOKEN": DEMO_CREDENTIALS["access_token"],
        "XOXODAY_REFRESH_TOKEN": DEMO_CREDENTIALS["refresh_token"],
        "XOXODAY_WEBHOOK_KEY": WEBHOOK_KEY,
        "REWARDS_DB": str(tmp_path / "run.db"),
        "REWARDS_APPROVERS": "UAPPROVER",
        "REWARDS_APPROVAL_CHANNEL": "CAPPROVALS",
        "PORT": str(port),
    }


@pytest.fixture
def slack() -> Iterator[RunningFakeSlack]:
    with start_fake_slack(bot_token=BOT_TOKEN) as running:
        yield running


def test_run_serves_slack_the_webhook_and_health_then_stops_cleanly(
    xo: SimControl, slack: RunningFakeSlack, tmp_path: Path
) -> None:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "bot.cli", "--env-file", "/dev/null", "run"],
        env=bot_env(xo, slack, tmp_path, port),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def healthy() -> bool:
            try:
                return httpx.get(f"{url}/healthz", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(healthy, timeout=30, interval=0.1)
        assert slack.calls("auth.test")  # the token was checked at start-up
        with SlackDriver(url, SIGNING_SECRET, slack) as driver:
            assert driver.command("UREQUESTER", "help").status_code == 200
            assert driver.command("UREQUESTER", "").status_code == 200
            slack.wait_for("views.open", timeout=10)
        refused = httpx.post(
            f"{url}/xoxoday/webhook", content=b"{}", headers={"x-api-key": "wrong"}
        )
        assert refused.status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    assert process.returncode == 0, output
    assert "listening on port" in output and "stopping" in output
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output


def test_run_with_a_refused_slack_token_says_so_in_one_line(
    xo: SimControl, slack: RunningFakeSlack, tmp_path: Path
) -> None:
    env = {**bot_env(xo, slack, tmp_path, free_port()), "SLACK_BOT_TOKEN": "xoxb-not-the-right-one"}
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", "/dev/null", "run"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "rewards-bot: configuration error: SLACK_BOT_TOKEN was refused by Slack (invalid_auth)"
    )
    assert "Traceback" not in result.stderr
