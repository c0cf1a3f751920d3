"""`rewards-bot run` as its own process: HTTP mode on $PORT against the local stand-ins."""

from __future__ import annotations

import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from bot.local import BOT_TOKEN, SIGNING_SECRET, BotProcess, SlackScript, free_port, process_env
from plumbing.httpserver import CLEANUP_INTERVAL_S, CONNECTION_LIMIT, IDLE_TIMEOUT_S, ServerThread
from simulator.slack.driver import SlackDriver
from simulator.slack.fake import RunningFakeSlack, start_fake_slack
from tests.support import HANG_S, SimControl, wait_for


def run_once(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Start `rewards-bot run` and let it exit by itself (a start-up refusal)."""
    command = [sys.executable, "-m", "bot.cli", "--env-file", "/dev/null", "run"]
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=60)


@pytest.fixture
def slack() -> Iterator[RunningFakeSlack]:
    with start_fake_slack(bot_token=BOT_TOKEN) as running:
        yield running


def test_run_serves_slack_the_webhook_and_health_then_stops_cleanly(
    xo: SimControl, slack: RunningFakeSlack, tmp_path: Path
) -> None:
    bot = BotProcess(process_env(xo.running, slack, tmp_path / "run.db", free_port()))
    try:
        assert slack.calls("auth.test")  # the token was checked at start-up
        with SlackDriver(bot.url, SIGNING_SECRET, slack) as driver:
            assert driver.command("UREQUESTER", "help").status_code == 200
            assert driver.command("UREQUESTER", "").status_code == 200
            slack.wait_for("views.open")
        refused = httpx.post(
            f"{bot.url}/xoxoday/webhook", content=b"{}", headers={"x-api-key": "wrong"}
        )
        assert refused.status_code == 401
    finally:
        output = bot.stop()
    assert bot.process.returncode == 0, output
    assert "listening on port" in output and "stopping" in output
    assert BOT_TOKEN not in output and SIGNING_SECRET not in output


def test_run_with_a_refused_slack_token_says_so_in_one_line(
    xo: SimControl, slack: RunningFakeSlack, tmp_path: Path
) -> None:
    env = process_env(xo.running, slack, tmp_path / "run.db", free_port())
    result = run_once({**env, "SLACK_BOT_TOKEN": "xoxb-not-the-right-one"})
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == (
        "rewards-bot: configuration error: SLACK_BOT_TOKEN was refused by Slack (invalid_auth)"
    )
    assert "Traceback" not in result.stderr


def test_no_code_pin_or_link_reaches_the_log_at_debug(
    xo: SimControl, slack: RunningFakeSlack, tmp_path: Path
) -> None:
    """A real delivery of a code+PIN gift card and a URL voucher, with LOG_LEVEL=DEBUG: the
    codes, PINs and links the simulator issued appear in the recipients' DMs and nowhere in
    the log (slack_sdk logs every request body at DEBUG; the stored call log is redacted)."""
    db = tmp_path / "debug.db"
    bot = BotProcess(process_env(xo.running, slack, db, free_port(), LOG_LEVEL="DEBUG"))
    try:
        with SlackDriver(bot.url, SIGNING_SECRET, slack) as driver:
            script = SlackScript(driver, slack)
            assert script.request("UREQUESTER", ["UANA"], product_id=27222).text == ""
            assert script.request("UREQUESTER", ["UBEN"], product_id=29877, amount="30").text == ""
            for ref in ("R-1", "R-2"):
                driver.click("UAPPROVER", "approve_request", message=script.approval_message(ref))
            for person in ("UANA", "UBEN"):
                wait_for(
                    lambda p=person: any("Keep your code private" in str(m) for m in slack.dms(p)),
                )
    finally:
        output = bot.stop()
    codes = {code for order in xo.orders() for code in order["vouchers"]}
    secrets = codes | {"DEMO-PIN"}  # the simulator's PIN for code+PIN products
    assert len(codes) == 2 and any(c.startswith("https://") for c in codes)
    shown = "\n".join(str(m) for p in ("UANA", "UBEN") for m in slack.dms(p))
    assert all(s in shown for s in secrets)  # the recipients got them
    assert " DEBUG " in output and "placeOrder" in output  # the log was verbose
    assert [s for s in secrets if s in output] == []
    stored = "\n".join(str(row) for row in sqlite3.connect(db).execute("SELECT * FROM api_calls"))
    assert stored and [s for s in secrets if s in stored] == []


def test_idle_connections_do_not_keep_slack_out(
    xo: SimControl, slack: RunningFakeSlack, tmp_path: Path
) -> None:
    """250 idle TCP connections (a stray client, a scanner) against `rewards-bot run`: a signed
    /reward still gets its answer within Slack's 3 s. waitress's defaults accepted 100
    connections and kept idle ones 120 s, so the 101st client, Slack included, waited."""
    port = free_port()
    bot = BotProcess(process_env(xo.running, slack, tmp_path / "idle.db", port, HOST="127.0.0.1"))
    idle: list[socket.socket] = []
    try:
        idle = [socket.create_connection(("127.0.0.1", port), timeout=5) for _ in range(250)]
        # Slack gives up on an answer after 3 s: the driver waits exactly that long.
        with SlackDriver(bot.url, SIGNING_SECRET, slack, timeout=3.0) as driver:
            since = len(slack.calls())
            opened = driver.command("UREQUESTER", "")
            assert opened.status_code == 200
            slack.wait_for("views.open", since=since)
            helped = driver.command("UREQUESTER", "help")
            assert helped.status_code == 200 and "Rewards Bot" in helped.text
    finally:
        for sock in idle:
            sock.close()
        output = bot.stop()
    assert "listening on port" in output and "(127.0.0.1)" in output  # HOST was used
    assert "connection limit" not in output


def test_an_idle_connection_is_closed_by_the_server() -> None:
    """The idle timeout is real: waitress closes a connection that sends nothing."""
    assert CONNECTION_LIMIT >= 1000 and IDLE_TIMEOUT_S + CLEANUP_INTERVAL_S <= 30

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    with ServerThread(app, idle_timeout_s=1, cleanup_interval_s=1) as server:
        sock = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        try:
            assert sock.recv(1) == b""  # closed by the server, not by us
        finally:
            sock.close()


def test_a_request_trickling_in_is_cut_off_and_a_whole_one_is_not() -> None:
    """waitress counts any byte as activity, so a client sending a header byte now and then
    would hold a connection for ever (slowloris): a request must arrive whole in time."""

    def app(environ: dict[str, object], start_response: Callable[..., object]) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"ok"]

    # The deadline leaves the whole request's three pieces (0.1 s apart) room on a loaded
    # machine; the other is dribbled until it is closed, however late that comes.
    with ServerThread(app, idle_timeout_s=30, request_deadline_s=3) as server:
        slow = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        whole = socket.create_connection(("127.0.0.1", server.port), timeout=10)
        try:
            slow.sendall(b"POST /xoxoday/webhook HTTP/1.1\r\nHost: bot\r\n")
            closed, began = False, time.monotonic()
            while (
                time.monotonic() - began < HANG_S
            ):  # one byte every 0.2 s: never idle, never whole
                time.sleep(0.2)
                try:
                    slow.sendall(b"X")
                except OSError:
                    closed = True
                    break
                slow.setblocking(False)
                try:
                    closed = slow.recv(1) == b""
                except BlockingIOError:
                    pass
                finally:
                    slow.setblocking(True)
                if closed:
                    break
            assert closed, "a request that never completes kept its connection"
            # A request sent in pieces but whole within the deadline is answered.
            for piece in (b"GET / HTTP/1.1\r\n", b"Host: bot\r\n", b"\r\n"):
                whole.sendall(piece)
                time.sleep(0.1)
            assert whole.recv(100).startswith(b"HTTP/1.1 200")
        finally:
            slow.close()
            whole.close()


def test_run_with_slack_unreachable_says_so_in_one_line(
    xo: SimControl, slack: RunningFakeSlack, tmp_path: Path
) -> None:
    env = process_env(xo.running, slack, tmp_path / "run.db", free_port())
    nowhere = f"http://127.0.0.1:{free_port()}/api/"  # nothing listens there
    result = run_once({**env, "SLACK_API_URL": nowhere})
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip().splitlines()[-1] == (
        f"rewards-bot: configuration error: SLACK_API_URL: Slack is not reachable at {nowhere} "
        "(Connection refused)"
    )
