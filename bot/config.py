"""Configuration from the environment and `.env`, checked once at start-up.

A missing or malformed variable stops the program with one line that names it; nobody should
have to read a traceback to learn that REWARDS_MAX_ORDER is not a number. Beyond each value's
form, `check_settings` refuses combinations that are unsafe with real money: short secrets,
plain-http services off this machine, demo credentials against a real Xoxoday, a placeOrder
timeout (the in-flight window) under Xoxoday's 120 s, automatic approval without a monthly
budget.
"""

from __future__ import annotations

import ipaddress
import itertools
import re
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from services.durations import format_duration, parse_duration
from services.inflight import MIN_WINDOW_S

SANDBOX_URL = "https://stagingstores.xoxoday.com/chef"
LOG_LEVELS = ("TRACE", "DEBUG", "INFO", "WARNING", "ERROR")
LOG_FORMATS = ("text", "json")
# Every secret the operator pastes in is at least this long; guessable ones are refused.
MIN_SECRET = 16
# Xoxoday's webhook header key: "alphanumeric, 13-60 chars" (xoxoday-api.md §5, Settings >
# API > Configure Webhook). We ask for MIN_SECRET (16) to 60 letters and digits: every key we
# accept is one Xoxoday accepts, and the 13-15 character keys Xoxoday would also take are
# refused here as too short for the one thing that authenticates a webhook.
WEBHOOK_KEY = re.compile(rf"[A-Za-z0-9]{{{MIN_SECRET},60}}")


class ConfigError(Exception):
    """One line for the operator: which variable, and what is wrong with it."""


def _blank_to_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", env_file_encoding="utf-8", extra="ignore", case_sensitive=False
    )

    slack_bot_token: SecretStr | None = None
    slack_signing_secret: SecretStr | None = None
    slack_app_token: SecretStr | None = None
    slack_api_url: str = "https://slack.com/api/"

    xoxoday_base_url: str = SANDBOX_URL
    xoxoday_client_id: str | None = None
    xoxoday_client_secret: SecretStr | None = None
    xoxoday_access_token: SecretStr | None = None
    xoxoday_refresh_token: SecretStr | None = None
    xoxoday_webhook_key: SecretStr | None = None
    xoxoday_timeout_s: float = Field(default=30.0, gt=0)
    xoxoday_place_order_timeout_s: float = Field(default=130.0, ge=1)
    xoxoday_rate_scale: float = Field(default=1.0, ge=0)

    rewards_db: Path = Path("data/rewards.db")
    rewards_approvers: Annotated[list[str], NoDecode] = []
    rewards_approval_channel: str | None = None
    rewards_auto_approve_max: Decimal = Field(default=Decimal(0), ge=0)
    rewards_monthly_budget: Decimal | None = Field(default=None, ge=0)
    rewards_max_order: Decimal | None = Field(default=None, gt=0)
    rewards_worker_concurrency: int = Field(default=4, ge=1, le=64)
    # Requests one requester may have waiting for approval at once (each asks every approver).
    rewards_max_waiting: int = Field(default=20, ge=1, le=10_000)
    # The approval schedule (services/reminders.py) and the modal's warnings; durations are
    # written 90s, 30m, 4h or 7d (services/durations.py).
    rewards_remind_after: timedelta = timedelta(hours=24)
    rewards_escalate_after: timedelta = timedelta(hours=72)
    rewards_expire_after: timedelta = timedelta(days=7)
    rewards_escalation_approvers: Annotated[list[str], NoDecode] = []
    rewards_duplicate_window: timedelta = timedelta(days=30)
    rewards_low_balance: Decimal | None = Field(default=None, ge=0)
    # Gift cards by country (issue 18): Xoxoday's country codes whose catalogs are fetched
    # (usa,india,uk; empty: the whole catalog at once), and the one a form starts with.
    rewards_countries: Annotated[list[str], NoDecode] = []
    rewards_default_country: str | None = None
    # The recipient's choice: reminders after each of these (counted from the offer), and
    # how long they may take before it expires and its budget is released.
    rewards_choice_remind: Annotated[list[timedelta], NoDecode] = [
        timedelta(days=3),
        timedelta(days=10),
    ]
    rewards_choice_expire: timedelta = timedelta(days=30)

    @property
    def default_country(self) -> str | None:
        """The country a form starts with: REWARDS_DEFAULT_COUNTRY, else the first of
        REWARDS_COUNTRIES, else none (every country)."""
        return self.rewards_default_country or next(iter(self.rewards_countries), None)

    port: int = Field(default=3000, ge=0, le=65535)
    host: str = "0.0.0.0"
    log_level: str = "INFO"
    log_format: str = "text"
    rewards_metrics: str = "on"
    # Without it, /metrics answers this machine only (it shows the wallet balance); with it,
    # any client that sends `Authorization: Bearer <token>` (Prometheus' `authorization`).
    rewards_metrics_token: SecretStr | None = None

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "xoxoday_client_id",
        "xoxoday_client_secret",
        "xoxoday_access_token",
        "xoxoday_refresh_token",
        "xoxoday_webhook_key",
        "rewards_metrics_token",
        "rewards_approval_channel",
        "rewards_monthly_budget",
        "rewards_max_order",
        "rewards_low_balance",
        "rewards_default_country",
        mode="before",
    )
    @classmethod
    def _optional(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("rewards_countries", mode="before")
    @classmethod
    def _split_countries(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip().lower() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rewards_countries")
    @classmethod
    def _country_codes(cls, value: list[str]) -> list[str]:
        for code in value:
            _country_code(code)
        if len(set(value)) != len(value):
            raise ValueError("a country is named twice")
        return value

    @field_validator("rewards_default_country")
    @classmethod
    def _default_country(cls, value: str | None) -> str | None:
        return None if value is None else _country_code(value.strip().lower())

    @field_validator("rewards_choice_remind", mode="before")
    @classmethod
    def _durations(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [parse_duration(part.strip()) for part in value.split(",") if part.strip()]
        return value

    @field_validator("rewards_choice_remind")
    @classmethod
    def _increasing(cls, value: list[timedelta]) -> list[timedelta]:
        if any(later <= earlier for earlier, later in itertools.pairwise(value)):
            raise ValueError("list the reminders from the earliest, like 3d,10d")
        return value

    @field_validator(
        "rewards_remind_after",
        "rewards_escalate_after",
        "rewards_expire_after",
        "rewards_duplicate_window",
        "rewards_choice_expire",
        mode="before",
    )
    @classmethod
    def _duration(cls, value: Any) -> Any:
        # One parser for every duration (90s, 30m, 4h, 7d); a timedelta passes as it is.
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("rewards_auto_approve_max", mode="before")
    @classmethod
    def _zero_when_blank(cls, value: Any) -> Any:
        return _blank_to_none(value) or Decimal(0)

    @field_validator("rewards_approvers", "rewards_escalation_approvers", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rewards_approvers", "rewards_escalation_approvers")
    @classmethod
    def _slack_ids(cls, value: list[str]) -> list[str]:
        for user_id in value:
            if not user_id.isalnum() or user_id[0] not in "UW":
                raise ValueError(f"{user_id!r} is not a Slack user ID (like U012ABCDEF)")
        return value

    @field_validator("slack_app_token")
    @classmethod
    def _app_token(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and not value.get_secret_value().startswith("xapp-"):
            raise ValueError("an app-level token starts with xapp-")
        return value

    @field_validator("slack_api_url", "xoxoday_base_url")
    @classmethod
    def _url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in LOG_LEVELS:
            raise ValueError("use DEBUG, INFO, WARNING or ERROR (or TRACE, which is unsafe)")
        return level

    @field_validator("log_format")
    @classmethod
    def _log_format(cls, value: str) -> str:
        return _one_of(value, LOG_FORMATS)

    @field_validator("rewards_metrics")
    @classmethod
    def _metrics(cls, value: str) -> str:
        return _one_of(value, ("on", "off"))

    @field_validator("host")
    @classmethod
    def _host(cls, value: str) -> str:
        # An address, not a name: a name can resolve to several (IPv4 and IPv6), and the
        # server listens on exactly one.
        host = value.strip()
        try:
            ipaddress.ip_address(host)
        except ValueError:
            raise ValueError(
                "an IP address to listen on, like 0.0.0.0 (every interface) or 127.0.0.1"
            ) from None
        return host

    def require(self, *names: str) -> None:
        """Stop with a clear line when a variable a command needs is unset."""
        missing = [name.upper() for name in names if getattr(self, name) in (None, "")]
        if missing:
            noun = "variable" if len(missing) == 1 else "variables"
            raise ConfigError(f"missing {noun} {', '.join(missing)} (see .env.example)")


# Xoxoday's country codes are getFilters' filterValueCode ("usa", "india", "uk",
# "united_arab_emirates"); an ISO code ("us") is a code too (the country filter takes both).
_COUNTRY = re.compile(r"[a-z][a-z_]{1,39}")


def _country_code(code: str) -> str:
    if not _COUNTRY.fullmatch(code):
        raise ValueError(f"{code!r} is not a Xoxoday country code (letters, like usa, india or uk)")
    return code


def _one_of(value: str, choices: tuple[str, ...]) -> str:
    """A word setting, in any case; empty is the first choice."""
    word = (value or choices[0]).strip().lower()
    if word not in choices:
        raise ValueError(f"use {' or '.join(choices)}")
    return word


def is_loopback(url: str) -> bool:
    """The URL's host is this machine (127.0.0.0/8, ::1 or localhost)."""
    host = urlsplit(url).hostname or ""
    return host == "localhost" or is_loopback_address(host)


def is_loopback_address(address: str) -> bool:
    """An IP address of this machine, IPv4-mapped IPv6 (::ffff:127.0.0.1) included."""
    try:
        ip = ipaddress.ip_address(address.split("%")[0])
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_loopback


def is_demo_credential(value: str | None) -> bool:
    """The bundled simulator's credentials (demo-client, demo-secret, demo-…-token)."""
    return bool(value) and value.startswith("demo-")  # type: ignore[union-attr]


def _value(secret: SecretStr | str | None) -> str | None:
    return secret.get_secret_value() if isinstance(secret, SecretStr) else secret


def check_settings(settings: Settings) -> None:
    """Combinations that are unsafe with real money; ConfigError names the variable."""
    s = settings
    if s.rewards_escalation_approvers and s.rewards_escalate_after >= s.rewards_expire_after:
        raise ConfigError(
            f"REWARDS_ESCALATE_AFTER: {format_duration(s.rewards_escalate_after)} is not "
            f"shorter than REWARDS_EXPIRE_AFTER ({format_duration(s.rewards_expire_after)}), "
            "so requests would expire before REWARDS_ESCALATION_APPROVERS are asked"
        )
    country = s.rewards_default_country
    if country and s.rewards_countries and country not in s.rewards_countries:
        raise ConfigError(
            f"REWARDS_DEFAULT_COUNTRY: {country} is not one of "
            f"REWARDS_COUNTRIES ({','.join(s.rewards_countries)})"
        )
    if s.rewards_choice_remind and s.rewards_choice_remind[-1] >= s.rewards_choice_expire:
        raise ConfigError(
            f"REWARDS_CHOICE_REMIND: {format_duration(s.rewards_choice_remind[-1])} is not "
            f"sooner than REWARDS_CHOICE_EXPIRE ({format_duration(s.rewards_choice_expire)}), "
            "so that reminder would come after the choice expired"
        )
    if s.rewards_auto_approve_max > 0 and s.rewards_monthly_budget is None:
        raise ConfigError(
            "REWARDS_AUTO_APPROVE_MAX: automatic approval needs REWARDS_MONTHLY_BUDGET too "
            "(without a budget, requests split under the limit are approved without end)"
        )
    for name, url in (("XOXODAY_BASE_URL", s.xoxoday_base_url), ("SLACK_API_URL", s.slack_api_url)):
        if not url.startswith("https://") and not is_loopback(url):
            raise ConfigError(f"{name}: must start with https:// (plain http only to this machine)")
    if s.xoxoday_place_order_timeout_s < MIN_WINDOW_S and not is_loopback(s.xoxoday_base_url):
        # The same number is the in-flight window of services/inflight.py: a lookup's "not
        # found" is believed only this long after an attempt was sent.
        raise ConfigError(
            f"XOXODAY_PLACE_ORDER_TIMEOUT_S: at least {MIN_WINDOW_S:g} s with a Xoxoday that is "
            "not on this machine (Xoxoday may take 120 s to place an order; a shorter wait can "
            "place it twice)"
        )
    xoxoday = {
        "XOXODAY_CLIENT_ID": s.xoxoday_client_id,
        "XOXODAY_CLIENT_SECRET": _value(s.xoxoday_client_secret),
        "XOXODAY_ACCESS_TOKEN": _value(s.xoxoday_access_token),
        "XOXODAY_REFRESH_TOKEN": _value(s.xoxoday_refresh_token),
    }
    for name, value in xoxoday.items():
        if is_demo_credential(value) and not is_loopback(s.xoxoday_base_url):
            raise ConfigError(
                f"{name}: the demo credentials work only with the bundled simulator; set "
                "XOXODAY_BASE_URL to it (http://127.0.0.1:8700/chef) or use real credentials"
            )
    secrets = {
        "SLACK_SIGNING_SECRET": _value(s.slack_signing_secret),
        "REWARDS_METRICS_TOKEN": _value(s.rewards_metrics_token),
        **{k: v for k, v in xoxoday.items() if k != "XOXODAY_CLIENT_ID"},
    }
    for name, value in secrets.items():
        if value is not None and not is_demo_credential(value) and len(value) < MIN_SECRET:
            raise ConfigError(f"{name}: too short; a secret has at least {MIN_SECRET} characters")
    key = _value(s.xoxoday_webhook_key)
    if key is not None and not WEBHOOK_KEY.fullmatch(key):
        raise ConfigError(
            f"XOXODAY_WEBHOOK_KEY: use {MIN_SECRET} to 60 letters and digits (Xoxoday takes "
            "letters and digits only; fewer than 16 are too easy to guess)"
        )


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Settings from the environment and `env_file`; ConfigError names the bad variable."""
    try:
        settings = Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except UnicodeDecodeError:
        raise ConfigError(f"{env_file}: not UTF-8 text; save the file as UTF-8") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        message = first["msg"].removeprefix("Value error, ")
        given = first.get("input")
        secret = any(word in name for word in ("TOKEN", "SECRET", "KEY"))
        shown = f" (got {given!r})" if isinstance(given, str) and not secret else ""
        raise ConfigError(f"{name}: {message}{shown}") from None
    check_settings(settings)
    return settings
