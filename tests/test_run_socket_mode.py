"""`rewards-bot run` as its own process in Socket Mode: SLACK_APP_TOKEN set, Slack's requests
arrive as envelopes on the local Slack stand-in's WebSocket, and $PORT serves only the
Xoxoday webhook and the health check."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from bot.local import BOT_TOKEN, SIGNING_SECRET, WEBHOOK_KEY, BotProcess, free_port, process_env
from simulator.slack import SOCKET_ACK, RunningFakeSlack, SocketDriver, start_fake_slack
from tests.support import SimControl, wait_for
from tests.test_run import run_once

APP_TOKEN = "xapp-1-A0REWARDS-local0app0token"
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")


@pytest.fixture
def slack() -> Iterator[RunningFakeSlack]:
    with start_fake_slack(bot_token=BOT_TOKEN, app_token=APP_TOKEN) as running:
        yield running


def socket_env(
    xo: SimControl, slack: RunningFakeSlack, tmp_path: Path, port: int
) -> dict[str, str]:
    env = process_env(xo.running, slack, tmp_path / "run.db", port)
    for name in PROXY_VARS:  # slack_sdk's socket client would send 127.0.0.1 to a proxy
        env.pop(name, None)
    return {**env, "SLACK_APP_TOKEN": APP_TOKEN}


def test_run_in_socket_mode_answers_over_the_socket_then_stops_cleanly(
    xo: SimControl, slack: RunningFakeSlack, tmp_path: Path
) -> None:
    bot = BotProcess(socket_env(xo, slack, tmp_path, free_port()))
    url = bot.url
    try:
        assert slack.socket_connected(timeout=30)
        assert slack.calls("auth.test")[0].ok  # the bot token, checked at start-up
        [opened] = slack.calls("apps.connections.open")  # with the app token
        assert opened.ok

        with SocketDriver(slack) as driver:
            helped = driver.command("UREQUESTER", "help")
            assert helped.status_code == 200
            assert "`/reward help`: this message" in helped.json()["text"]
            assert driver.command("UREQUESTER", "").text == ""  # ack() first, then the modal
            slack.wait_for("views.open", lambda c: c.ok)
            assert slack.latest_view("UREQUESTER") is not None
            # The Home tab over the socket: app_home_opened -> views.publish.
            assert driver.open_home("UAPPROVER").status_code == 200
            slack.wait_for("views.publish", lambda c: c.ok)
            home = slack.home("UAPPROVER")
            assert home is not None and "Waiting for you" in slack.plain_text(home["blocks"])
            acked = [c.response for c in slack.calls(SOCKET_ACK)]
            assert [(a["ok"], a["type"]) for a in acked] == [
                (True, "slash_commands"),
                (True, "slash_commands"),
                (True, "events_api"),
            ]
            assert all(a["acked_after"] < 3 for a in acked)  # within Slack's window

        # $PORT keeps the webhook and the health check; Slack's HTTP route is off
        assert httpx.get(f"{url}/healthz").json()["ok"] is True
        refused = httpx.post(
            f"{url}/xoxoday/webhook", content=b"{}", headers={"x-api-key": "wrong"}
        )
        assert refused.status_code == 401
        assert httpx.post(f"{url}/slack/events", content=b"{}").status_code == 404
        # and /metrics, in Socket Mode too
        scraped = httpx.get(f"{url}/metrics")
        assert scraped.status_code == 200 and "rewards_worker_lease_held 1.0" in scraped.text
    finally:
        output = bot.stop()
    assert bot.process.returncode == 0, output
    assert "Socket Mode connected" in output and "stopping" in output
    assert "Traceback" not in output
    for secret in (BOT_TOKEN, SIGNING_SECRET, APP_TOKEN, WEBHOOK_KEY):
        assert secret not in output
    # the bot hung up: no connection is left open on the fake
    wait_for(lambda: slack.socket.open_connections == 0, interval=0.05)


def test_run_with_a_refused_app_token_says_so_in_one_line(
    xo: SimControl, slack: RunningFakeSlack, tmp_path: Path
) -> None:
    wrong = "xapp-1-A0REWARDS-not0the0right0one"
    env = {**socket_env(xo, slack, tmp_path, free_port()), "SLACK_APP_TOKEN": wrong}
    result = run_once(env)
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        "rewards-bot: configuration error: SLACK_APP_TOKEN was refused by Slack (invalid_auth)"
    )
    assert "Traceback" not in result.stderr
    assert "stopping" in result.stderr  # the worker and the server were stopped on the way out
    assert wrong not in result.stderr and BOT_TOKEN not in result.stderr
    assert slack.calls("apps.connections.open")[0].response["error"] == "invalid_auth"
