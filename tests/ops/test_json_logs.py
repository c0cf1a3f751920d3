"""LOG_FORMAT=json: one JSON object per line, with the same redaction as text logs."""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.local import (
    BOT_TOKEN,
    SIGNING_SECRET,
    WEBHOOK_KEY,
    BotProcess,
    SlackScript,
    free_port,
    process_env,
)
from bot.logs import JsonFormatter
from services.logcontext import log_refs
from simulator.slack.driver import SlackDriver
from simulator.slack.fake import start_fake_slack
from simulator.xoxoday import DEMO_CREDENTIALS
from tests.support import SimControl, cli_env, rewards_bot, wait_for

JWT = "eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJkZW1vIn0.c2lnbmF0dXJlMTIz"


def parse_lines(output: str) -> list[dict]:
    """Every line is one JSON object with the four fields; fails on the first that is not."""
    entries = []
    for number, line in enumerate(output.splitlines(), start=1):
        entry = json.loads(line)  # raises on anything else
        assert isinstance(entry, dict), (number, line)
        assert {"time", "level", "logger", "message"} <= entry.keys(), (number, line)
        entries.append(entry)
    return entries


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("rewards", logging.WARNING, __file__, 1, message, args, None)
    for key, value in extra.items():
        setattr(made, key, value)
    return made


def test_the_formatter_scrubs_each_field_and_names_the_order() -> None:
    formatter = JsonFormatter(secrets=('s3cret"with\\quotes',))
    try:
        raise RuntimeError(f'refused with s3cret"with\\quotes and {JWT}')
    except RuntimeError:
        failing = record("call failed: %s", 'voucherCode="ZX-99-QQ"')
        failing.exc_info = sys.exc_info()
    with log_refs(request="R-7", order=42, po="RB-20261122-ABC"):
        line = formatter.format(failing)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["level"] == "WARNING" and entry["logger"] == "rewards"
    assert entry["time"].endswith("+00:00")
    assert entry["message"] == 'call failed: voucherCode="[redacted]"'
    assert (entry["request"], entry["order"], entry["po"]) == ("R-7", 42, "RB-20261122-ABC")
    assert "RuntimeError" in entry["exc"] and "Traceback" in entry["exc"]
    assert 's3cret"with' not in line and JWT not in line and "ZX-99-QQ" not in line
    # extra= names the request of one line; outside a context there are no references
    plain = json.loads(formatter.format(record("asked", request="R-9")))
    assert plain["request"] == "R-9" and "order" not in plain


def test_json_logs_of_a_delivery_parse_line_by_line_and_hold_no_secret(
    xo: SimControl, tmp_path: Path
) -> None:
    with start_fake_slack(bot_token=BOT_TOKEN) as slack:
        env = process_env(
            xo.running,
            slack,
            tmp_path / "json.db",
            free_port(),
            LOG_LEVEL="DEBUG",
            LOG_FORMAT="json",
        )
        bot = BotProcess(env)
        try:
            with SlackDriver(bot.url, SIGNING_SECRET, slack) as driver:
                script = SlackScript(driver, slack)
                assert script.request("UREQUESTER", ["UANA"], product_id=27222).text == ""
                driver.click("UAPPROVER", "approve_request", message=script.approval_message("R-1"))
                wait_for(
                    lambda: any("Keep your code private" in str(m) for m in slack.dms("UANA")),
                )
        finally:
            output = bot.stop()
    assert bot.process.returncode == 0, output
    entries = parse_lines(output)
    assert {e["level"] for e in entries} >= {"DEBUG", "INFO"}
    [order] = xo.orders()
    about_it = [e for e in entries if e.get("po") == order["poNumber"]]
    assert about_it and all(e["request"] == "R-1" for e in about_it)  # the worker's lines
    assert any("placeOrder" in e["message"] for e in about_it)
    secrets = {*order["vouchers"], "DEMO-PIN", BOT_TOKEN, SIGNING_SECRET, WEBHOOK_KEY}
    secrets |= {DEMO_CREDENTIALS["client_secret"], DEMO_CREDENTIALS["access_token"]}
    assert [s for s in secrets if s in output] == []


def test_a_worker_run_logs_json_progress_included(xo: SimControl, tmp_path: Path) -> None:
    env = cli_env(xo.base_url, tmp_path / "w.db", LOG_FORMAT="json")
    csv_file = tmp_path / "two.csv"
    csv_file.write_text(
        "productId,denomination,email\n27222,25,a@example.com\n27222,10,b@example.com\n"
    )
    imported = rewards_bot(env, "orders", "import", str(csv_file), "--requester", "ops")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("R-1: 2 order(s)")
    worker = rewards_bot(env, "worker", "--until-idle")
    assert worker.returncode == 0, worker.stderr
    for output in (imported.stderr, worker.stderr):
        entries = parse_lines(output)
        assert any(e["logger"] == "rewards-bot.progress" for e in entries)
    progress = [
        e["message"] for e in parse_lines(worker.stderr) if "placing orders" in e["message"]
    ]
    assert progress[-1].startswith("placing orders: 100% (2/2)")


def test_log_format_and_metrics_switch_are_checked_at_start_up() -> None:
    assert load_settings(None, log_format="JSON", rewards_metrics="Off").log_format == "json"
    with pytest.raises(ConfigError) as bad_format:
        load_settings(None, log_format="xml")
    assert str(bad_format.value) == "LOG_FORMAT: use text or json (got 'xml')"
    with pytest.raises(ConfigError) as bad_switch:
        load_settings(None, rewards_metrics="maybe")
    assert str(bad_switch.value) == "REWARDS_METRICS: use on or off (got 'maybe')"
