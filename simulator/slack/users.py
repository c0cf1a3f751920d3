"""The fake workspace's people: user objects shaped like `users.info` answers."""

from __future__ import annotations

import copy
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

TEAM_ID = "T0001"
BOT_USER_ID = "UBOT"
BOT_ID = "BREWARDS"


def make_user(
    user_id: str,
    real_name: str,
    email: str | None = None,
    *,
    tz: str = "UTC",
    is_bot: bool = False,
    deleted: bool = False,
    team_id: str = TEAM_ID,
) -> dict[str, Any]:
    """One Slack user object; `email=None` leaves `profile.email` out, as Slack does when the
    app lacks users:read.email or the user hides it."""
    first, _, last = real_name.partition(" ")
    offset = datetime.now(ZoneInfo(tz)).utcoffset()
    profile: dict[str, Any] = {
        "real_name": real_name,
        "real_name_normalized": real_name,
        "display_name": first,
        "display_name_normalized": first,
        "first_name": first,
        "last_name": last,
        "team": team_id,
    }
    if email is not None:
        profile["email"] = email
    if is_bot:
        profile["bot_id"] = "B" + user_id.removeprefix("U")
    return {
        "id": user_id,
        "team_id": team_id,
        "name": first.lower() if not is_bot else real_name.lower().replace(" ", "-"),
        "deleted": deleted,
        "real_name": real_name,
        "tz": tz,
        "tz_label": tz,
        "tz_offset": int(offset.total_seconds()) if offset else 0,
        "profile": profile,
        "is_admin": False,
        "is_owner": False,
        "is_bot": is_bot,
        "is_app_user": False,
        "updated": 1700000000,
    }


def _bot_self() -> dict[str, Any]:
    user = make_user(BOT_USER_ID, "rewards-bot", is_bot=True)
    user["profile"]["bot_id"] = BOT_ID
    return user


_DEFAULTS: list[dict[str, Any]] = [
    make_user("UREQUESTER", "Riya Kapoor", "riya@example.com", tz="Asia/Kolkata"),
    make_user("UAPPROVER", "Alex Chen", "alex@example.com", tz="America/Los_Angeles"),
    make_user("UAPPROVER2", "Sam Patel", "sam@example.com", tz="Europe/London"),
    make_user("UANA", "Ana Silva", "ana@example.com", tz="America/Sao_Paulo"),
    make_user("UBEN", "Ben Okafor", "ben@example.com", tz="Africa/Lagos"),
    make_user("UCHO", "Cho Min", "cho@example.com", tz="Asia/Seoul"),
    make_user("UOTHER", "Olu Ade", "olu@example.com", tz="Africa/Lagos"),
    make_user("UNOMAIL", "Noor Haddad", None, tz="Asia/Dubai"),
    make_user("UBOTUSER", "Helper Bot", None, is_bot=True),
    _bot_self(),  # the app's own bot user, so users.info on auth.test's user_id works
]


def default_users() -> dict[str, dict[str, Any]]:
    """A fresh copy of the default directory, keyed by user id."""
    return {user["id"]: copy.deepcopy(user) for user in _DEFAULTS}
