"""What the command line's commands share: the settings of a command (with its --db and the
quiet logging an operator's command wants), and the order counts they print."""

from __future__ import annotations

import argparse
from typing import Any

from bot.config import Settings, load_settings
from bot.logs import setup_logging


def settings_of(args: argparse.Namespace) -> Settings:
    overrides: dict[str, Any] = {}
    if getattr(args, "db", None):
        overrides["rewards_db"] = args.db
    settings = load_settings(args.env_file, **overrides)
    secrets = tuple(
        value.get_secret_value()
        for value in (
            settings.slack_bot_token,
            settings.slack_signing_secret,
            settings.slack_app_token,
            settings.xoxoday_client_secret,
            settings.xoxoday_access_token,
            settings.xoxoday_refresh_token,
            settings.xoxoday_webhook_key,
        )
        if value is not None
    )
    # The operator's commands print their results; only warnings belong beside them.
    quiet = args.command in ("orders", "catalog", "backup", "restore", "audit")
    setup_logging(
        args.log_level or ("WARNING" if quiet else settings.log_level),
        secrets,
        settings.log_format,
    )
    return settings


def counts(runtime: Any) -> dict[str, int]:
    from storage import orders

    return orders.count_by_state(runtime.database)
