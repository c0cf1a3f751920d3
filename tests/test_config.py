"""Configuration: a missing or malformed variable stops the program with one line naming it."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from services.durations import format_duration

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
    # The approval schedule's defaults (design.md's contract table).
    assert settings.rewards_remind_after == timedelta(hours=24)
    assert settings.rewards_escalate_after == timedelta(hours=72)
    assert settings.rewards_expire_after == timedelta(days=7)
    assert settings.rewards_duplicate_window == timedelta(days=30)
    assert settings.rewards_escalation_approvers == []
    assert settings.rewards_low_balance is None
    # Gift cards by country and the recipient's choice (issue 18).
    assert settings.rewards_countries == [] and settings.default_country is None
    assert settings.rewards_choice_remind == [timedelta(days=3), timedelta(days=10)]
    assert settings.rewards_choice_expire == timedelta(days=30)


def test_countries_and_the_choices_schedule(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text(
        "REWARDS_COUNTRIES= usa, India ,uk\nREWARDS_CHOICE_REMIND=2d,5d,9d\n"
        "REWARDS_CHOICE_EXPIRE=14d\n"
    )
    settings = load_settings(env)
    assert settings.rewards_countries == ["usa", "india", "uk"]
    assert settings.default_country == "usa"  # the first, unless REWARDS_DEFAULT_COUNTRY says
    assert load_settings(env, rewards_default_country="UK").default_country == "uk"
    assert [format_duration(d) for d in settings.rewards_choice_remind] == ["2d", "5d", "9d"]
    assert settings.rewards_choice_expire == timedelta(days=14)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90s", 90), ("30m", 1800), ("4h", 14400), ("7d", 604800), (" 1d ", 86400)],
)
def test_durations_are_written_90s_30m_4h_7d(tmp_path: Path, text: str, seconds: int) -> None:
    env = tmp_path / ".env"
    env.write_text(
        f"REWARDS_REMIND_AFTER={text}\nREWARDS_ESCALATION_APPROVERS=UBOSS, W0BOSS2\n"
        "REWARDS_LOW_BALANCE=500\n"
    )
    settings = load_settings(env)
    assert settings.rewards_remind_after == timedelta(seconds=seconds)
    assert format_duration(settings.rewards_remind_after) == text.strip()
    assert settings.rewards_escalation_approvers == ["UBOSS", "W0BOSS2"]
    assert settings.rewards_low_balance == Decimal(500)


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
        *[
            (
                f"{name}={value}",
                f"{name}: {prefix}write a whole number and a unit, like 90s, 30m, 4h or 7d "
                f"(got '{value}')",
            )
            for name, value, prefix in (
                ("REWARDS_REMIND_AFTER", "24", ""),
                ("REWARDS_ESCALATE_AFTER", "3 days", ""),
                ("REWARDS_EXPIRE_AFTER", "1.5d", ""),
                ("REWARDS_DUPLICATE_WINDOW", "2w", ""),
                ("REWARDS_EXPIRE_AFTER", "0d", "must be more than 0; "),
                ("REWARDS_REMIND_AFTER", "-5m", ""),
            )
        ],
        (
            # "warn for ever" would overflow the date arithmetic: ten years at most
            "REWARDS_DUPLICATE_WINDOW=999999d",
            "REWARDS_DUPLICATE_WINDOW: must be at most 3650d (got '999999d')",
        ),
        (
            "REWARDS_ESCALATION_APPROVERS=UBOSS,boss",
            "REWARDS_ESCALATION_APPROVERS: 'boss' is not a Slack user ID",
        ),
        ("REWARDS_LOW_BALANCE=-1", "REWARDS_LOW_BALANCE: Input should be greater than or equal"),
        (
            "REWARDS_COUNTRIES=usa,United Kingdom",
            "REWARDS_COUNTRIES: 'united kingdom' is not a Xoxoday country code (letters, like "
            "usa, india or uk)",
        ),
        ("REWARDS_COUNTRIES=usa,uk,usa", "REWARDS_COUNTRIES: a country is named twice"),
        ("REWARDS_DEFAULT_COUNTRY=u-k", "REWARDS_DEFAULT_COUNTRY: 'u-k' is not a Xoxoday"),
        ("REWARDS_CHOICE_EXPIRE=a month", "REWARDS_CHOICE_EXPIRE: write a whole number"),
        ("REWARDS_CHOICE_REMIND=10d,3d", "REWARDS_CHOICE_REMIND: list the reminders from the"),
        ("REWARDS_CHOICE_REMIND=3d,x", "REWARDS_CHOICE_REMIND: write a whole number"),
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


# --- combinations refused at start-up (one line, naming the variable) ----------------------------

SAFE = {
    "SLACK_SIGNING_SECRET": "8f742231b10e8888abcd99yyyzzz85a5",
    "XOXODAY_BASE_URL": "https://accounts.xoxoday.com/chef",
    "XOXODAY_CLIENT_ID": "a1b2c3d4e5",
    "XOXODAY_CLIENT_SECRET": "s3cr3t-0123456789abcdef",
    "XOXODAY_WEBHOOK_KEY": "Wh00kKey0123456789",
}


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        (
            {"REWARDS_AUTO_APPROVE_MAX": "20"},
            "REWARDS_AUTO_APPROVE_MAX: automatic approval needs REWARDS_MONTHLY_BUDGET too",
        ),
        (
            {"SLACK_SIGNING_SECRET": "x"},
            "SLACK_SIGNING_SECRET: too short; a secret has at least 16",
        ),
        ({"XOXODAY_CLIENT_SECRET": "short-secret"}, "XOXODAY_CLIENT_SECRET: too short"),
        ({"REWARDS_METRICS_TOKEN": "letmein"}, "REWARDS_METRICS_TOKEN: too short"),
        ({"XOXODAY_WEBHOOK_KEY": "Z9"}, "XOXODAY_WEBHOOK_KEY: use 16 to 60 letters and digits"),
        (
            {"XOXODAY_WEBHOOK_KEY": "abc123abc123a"},
            "XOXODAY_WEBHOOK_KEY: use 16 to 60",
        ),  # 13: Xoxoday's minimum
        ({"XOXODAY_WEBHOOK_KEY": "hook-key-0123456789"}, "XOXODAY_WEBHOOK_KEY: use 16 to 60"),
        ({"XOXODAY_WEBHOOK_KEY": "a" * 61}, "XOXODAY_WEBHOOK_KEY: use 16 to 60"),
        (
            {"XOXODAY_BASE_URL": "http://accounts.xoxoday.com/chef"},
            "XOXODAY_BASE_URL: must start with https:// (plain http only to this machine)",
        ),
        ({"SLACK_API_URL": "http://slack.example/api/"}, "SLACK_API_URL: must start with https://"),
        (
            {"XOXODAY_CLIENT_ID": "demo-client", "XOXODAY_CLIENT_SECRET": "demo-secret"},
            "XOXODAY_CLIENT_ID: the demo credentials work only with the bundled simulator",
        ),
        (
            {"XOXODAY_REFRESH_TOKEN": "demo-refresh-token"},
            "XOXODAY_REFRESH_TOKEN: the demo credentials work only with the bundled simulator",
        ),
        (
            # Also the in-flight window: shorter than Xoxoday's 120 s pays for late commits
            # twice (tests/lifecycle/test_real_shapes.py row 8 shows the window at work).
            {"XOXODAY_PLACE_ORDER_TIMEOUT_S": "30"},
            "XOXODAY_PLACE_ORDER_TIMEOUT_S: at least 125 s with a Xoxoday that is not on this",
        ),
        ({"XOXODAY_PLACE_ORDER_TIMEOUT_S": "124.9"}, "XOXODAY_PLACE_ORDER_TIMEOUT_S: at least"),
        ({"HOST": "every interface"}, "HOST: an IP address to listen on"),
        (
            {"REWARDS_ESCALATION_APPROVERS": "UBOSS", "REWARDS_ESCALATE_AFTER": "7d"},
            "REWARDS_ESCALATE_AFTER: 7d is not shorter than REWARDS_EXPIRE_AFTER (7d), so "
            "requests would expire before REWARDS_ESCALATION_APPROVERS are asked",
        ),
        ({"LOG_LEVEL": "chatty"}, "LOG_LEVEL: use DEBUG, INFO, WARNING or ERROR"),
        (
            {"REWARDS_COUNTRIES": "usa,india", "REWARDS_DEFAULT_COUNTRY": "uk"},
            "REWARDS_DEFAULT_COUNTRY: uk is not one of REWARDS_COUNTRIES (usa,india)",
        ),
        (
            {"REWARDS_CHOICE_REMIND": "3d,30d"},
            "REWARDS_CHOICE_REMIND: 30d is not sooner than REWARDS_CHOICE_EXPIRE (30d), so "
            "that reminder would come after the choice expired",
        ),
    ],
)
def test_unsafe_settings_are_refused_in_one_line(
    tmp_path: Path, changes: dict[str, str], expected: str
) -> None:
    env = tmp_path / ".env"
    env.write_text("".join(f"{k}={v}\n" for k, v in {**SAFE, **changes}.items()))
    with pytest.raises(ConfigError) as info:
        load_settings(env)
    message = str(info.value)
    assert message.startswith(expected), message
    assert "\n" not in message
    for name, value in changes.items():  # a secret is never echoed back
        if any(word in name for word in ("SECRET", "KEY", "TOKEN")):
            assert value not in message


def test_safe_settings_and_the_loopback_exceptions_are_accepted(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("".join(f"{k}={v}\n" for k, v in SAFE.items()))
    settings = load_settings(env)
    assert settings.host == "0.0.0.0"  # the documented default
    assert settings.xoxoday_place_order_timeout_s == 130  # the default passes its own check
    assert load_settings(env, xoxoday_place_order_timeout_s=125).xoxoday_place_order_timeout_s
    for base in ("http://127.0.0.1:8700/chef", "http://localhost:8700/chef", "http://[::1]/chef"):
        local = load_settings(
            None,
            xoxoday_base_url=base,
            slack_api_url="http://127.0.0.1:9/api/",
            xoxoday_client_id="demo-client",
            xoxoday_client_secret="demo-secret",
            xoxoday_access_token="demo-access-token",
            xoxoday_refresh_token="demo-refresh-token",
            xoxoday_place_order_timeout_s=1,  # the simulator and the tests: a short window
        )
        assert local.xoxoday_base_url == base
    budgeted = load_settings(None, rewards_auto_approve_max="20", rewards_monthly_budget="100")
    assert budgeted.rewards_auto_approve_max == 20
    assert load_settings(None, host="127.0.0.1", log_level="trace").log_level == "TRACE"
    assert load_settings(None, xoxoday_webhook_key="A" * 16).xoxoday_webhook_key is not None


def test_the_example_env_file_loads_as_it_is() -> None:
    example = Path(__file__).resolve().parent.parent / ".env.example"
    settings = load_settings(example)
    assert settings.xoxoday_base_url.startswith("http://127.0.0.1")


def test_a_short_signing_secret_stops_run_in_one_line(tmp_path: Path) -> None:
    env = {"SLACK_BOT_TOKEN": "xoxb-1-2-3", "SLACK_SIGNING_SECRET": "tooshort"}
    result = run_cli("run", env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "rewards-bot: configuration error: SLACK_SIGNING_SECRET: too short; "
        "a secret has at least 16 characters"
    ]


def test_an_unusable_rewards_db_is_one_line_naming_it(tmp_path: Path) -> None:
    """Not a database, a folder, a file of a newer release: ConfigError (one line at the CLI,
    as test_malformed_variable_stops_the_command_without_a_traceback shows), no traceback."""
    import sqlite3

    from bot.runtime import open_db

    not_a_db = tmp_path / "notes.db"
    not_a_db.write_text("shopping list\n")
    newer = tmp_path / "newer.db"
    with sqlite3.connect(newer) as conn:
        conn.execute("PRAGMA user_version = 999")
    cases = {
        not_a_db: f"REWARDS_DB: cannot use {not_a_db} (file is not a database)",
        tmp_path: f"REWARDS_DB: cannot create {tmp_path} (Is a directory)",
        newer: f"REWARDS_DB: {newer} is at schema version 999, newer than this release",
    }
    for path, expected in cases.items():
        with pytest.raises(ConfigError) as info:
            open_db(load_settings(None, rewards_db=path))
        assert str(info.value).startswith(expected), info.value


def test_a_latin1_env_file_is_one_line(tmp_path: Path) -> None:
    latin1 = tmp_path / "none.env"  # the file run_cli reads
    latin1.write_bytes(b"REWARDS_APPROVERS=U012AB\n# Jos\xe9's approvers\n")
    result = run_cli("orders", "list", "--db", str(tmp_path / "r.db"), cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"rewards-bot: configuration error: {latin1}: not UTF-8 text; save the file as UTF-8"
    ]
