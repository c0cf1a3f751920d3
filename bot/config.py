"""Configuration from the environment and `.env`, checked once at start-up.

A missing or malformed variable stops the program with one line that names it; nobody should
have to read a traceback to learn that REWARDS_MAX_ORDER is not a number.
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, ValidationError, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

SANDBOX_URL = "https://stagingstores.xoxoday.com/chef"


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

    port: int = Field(default=3000, ge=0, le=65535)
    log_level: str = "INFO"

    @field_validator(
        "slack_bot_token",
        "slack_signing_secret",
        "slack_app_token",
        "xoxoday_client_id",
        "xoxoday_client_secret",
        "xoxoday_access_token",
        "xoxoday_refresh_token",
        "xoxoday_webhook_key",
        "rewards_approval_channel",
        "rewards_monthly_budget",
        "rewards_max_order",
        mode="before",
    )
    @classmethod
    def _optional(cls, value: Any) -> Any:
        return _blank_to_none(value)

    @field_validator("rewards_auto_approve_max", mode="before")
    @classmethod
    def _zero_when_blank(cls, value: Any) -> Any:
        return _blank_to_none(value) or Decimal(0)

    @field_validator("rewards_approvers", mode="before")
    @classmethod
    def _split_ids(cls, value: Any) -> Any:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("rewards_approvers")
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
        if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
            raise ValueError("use DEBUG, INFO, WARNING or ERROR")
        return level

    def require(self, *names: str) -> None:
        """Stop with a clear line when a variable a command needs is unset."""
        missing = [name.upper() for name in names if getattr(self, name) in (None, "")]
        if missing:
            noun = "variable" if len(missing) == 1 else "variables"
            raise ConfigError(f"missing {noun} {', '.join(missing)} (see .env.example)")


def load_settings(env_file: str | Path | None = ".env", **overrides: Any) -> Settings:
    """Settings from the environment and `env_file`; ConfigError names the bad variable."""
    try:
        return Settings(_env_file=env_file, **overrides)  # type: ignore[call-arg]
    except ValidationError as exc:
        first = exc.errors()[0]
        name = str(first["loc"][0]).upper() if first["loc"] else "configuration"
        message = first["msg"].removeprefix("Value error, ")
        given = first.get("input")
        secret = any(word in name for word in ("TOKEN", "SECRET", "KEY"))
        shown = f" (got {given!r})" if isinstance(given, str) and not secret else ""
        raise ConfigError(f"{name}: {message}{shown}") from None
