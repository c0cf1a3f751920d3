"""Configuration: a missing or malformed variable stops the program with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings

CLEAN_ENV = {
    k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "XOXODAY_", "REWARDS_"))
}


def run_cli(
    *args: str, env: dict[str, str] | None = None, cwd: Path
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", str(cwd / "none.env"), *args],
        env={**CLEAN_ENV, "PYTHONPATH": str(Path.cwd()), **(env or {})},
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_defaults_and_parsing(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "REWARDS_APPROVERS= U012AB, W034CD \nREWARDS_MONTHLY_BUDGET=\nREWARDS_MAX_ORDER=250.50\n"
    )
    settings = load_settings(env)
    assert settings.rewards_approvers == ["U012AB", "W034CD"]
    assert settings.rewards_monthly_budget is None
    assert settings.rewards_max_order == Decimal("250.50")
    assert settings.rewards_auto_approve_max == 0
    assert settings.xoxoday_base_url == "https://stagingstores.xoxoday.com/chef"
    assert settings.slack_api_url == "https://slack.com/api/"
    assert settings.port == 3000


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (
            "REWARDS_MAX_ORDER=lots",
            "REWARDS_MAX_ORDER: Input should be a valid decimal (got 'lots')",
        ),
        ("REWARDS_APPROVERS=alice", "REWARDS_APPROVERS: 'alice' is not a Slack user ID"),
        ("PORT=http", "PORT: Input should be a valid integer"),
        ("SLACK_APP_TOKEN=xoxb-123", "SLACK_APP_TOKEN: an app-level token starts with xapp-"),
        (
            "REWARDS_AUTO_APPROVE_MAX=-1",
            "REWARDS_AUTO_APPROVE_MAX: Input should be greater than or equal to 0",
        ),
    ],
)
def test_malformed_variable_is_named(tmp_path: Path, line: str, expected: str) -> None:
    env = tmp_path / ".env"
    env.write_text(line + "\n")
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    assert str(info.value).startswith(expected)
    assert "xoxb-123" not in str(info.value)  # a secret is never echoed back


def test_missing_variables_stop_the_command_with_one_line(tmp_path: Path) -> None:
    result = run_cli("run", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "rewards-bot: configuration error: missing variables SLACK_BOT_TOKEN, SLACK_SIGNING_SECRET (see .env.example)"
    ]


def test_malformed_variable_stops_the_command_without_a_traceback(tmp_path: Path) -> None:
    result = run_cli("orders", "list", env={"REWARDS_MAX_ORDER": "ten"}, cwd=tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert result.stderr.strip() == (
        "rewards-bot: configuration error: REWARDS_MAX_ORDER: Input should be a valid decimal (got 'ten')"
    )


def test_worker_without_xoxoday_credentials_names_them(tmp_path: Path) -> None:
    result = run_cli(
        "worker", "--until-idle", env={"REWARDS_DB": str(tmp_path / "r.db")}, cwd=tmp_path
    )
    assert result.returncode == 2
    assert (
        "missing variables XOXODAY_CLIENT_ID, XOXODAY_CLIENT_SECRET, XOXODAY_REFRESH_TOKEN"
        in result.stderr
    )
