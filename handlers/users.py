"""Slack users as the bot needs them: a name and an email, looked up once and remembered."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

CACHE_S = 600.0


@dataclass(frozen=True)
class SlackUser:
    id: str
    name: str
    email: str | None
    is_bot: bool = False
    deleted: bool = False


class UserDirectory:
    def __init__(self, client: WebClient, clock: Callable[[], float] = time.monotonic) -> None:
        self.client = client
        self._clock = clock
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, SlackUser | None]] = {}

    def get(self, user_id: str) -> SlackUser | None:
        """The user, or None when Slack does not know them."""
        with self._lock:
            hit = self._cache.get(user_id)
        if hit and self._clock() - hit[0] < CACHE_S:
            return hit[1]
        try:
            data = self.client.users_info(user=user_id)["user"]
        except SlackApiError as exc:
            if exc.response.get("error") in ("user_not_found", "user_not_visible"):
                user = None
            else:
                raise
        else:
            profile = data.get("profile") or {}
            user = SlackUser(
                id=data["id"],
                name=profile.get("real_name")
                or data.get("real_name")
                or data.get("name")
                or user_id,
                email=profile.get("email") or None,
                is_bot=bool(data.get("is_bot")),
                deleted=bool(data.get("deleted")),
            )
        with self._lock:
            self._cache[user_id] = (self._clock(), user)
        return user

    def by_email(self, email: str) -> str | None:
        """The Slack user id for an email, for recipients who came from a CSV file."""
        try:
            return self.client.users_lookupByEmail(email=email)["user"]["id"]
        except SlackApiError:
            return None
