"""The services' PeopleDirectory, answered from Slack's user directory."""

from __future__ import annotations

import logging

from slack_sdk.errors import SlackClientError

from handlers.users import UserDirectory
from services.errors import DeciderUnknown

log = logging.getLogger(__name__)


class SlackPeople:
    """`email_of` from users.info (cached by UserDirectory); a deactivated member has none.
    `is_active` from the directory, or from users.info when it must be fresh.

    Needs the `users:read.email` scope, which the bot has for its recipients anyway.
    """

    def __init__(self, users: UserDirectory) -> None:
        self.users = users

    def email_of(self, user_id: str) -> str | None:
        try:
            user = self.users.get(user_id)
        except (SlackClientError, OSError) as exc:
            log.warning("users.info for %s failed: %s", user_id, exc)
            raise DeciderUnknown(
                "Slack did not say in time who you are, which the bot checks first; "
                "try again in a moment"
            ) from None
        if user is None or user.deleted:
            return None
        return user.email

    def is_active(self, user_id: str, *, fresh: bool = False) -> bool | None:
        if not fresh:
            user = self.users.known(user_id)
            return None if user is None else not user.deleted
        try:
            user = self.users.get(user_id, max_age_s=0)
        except (SlackClientError, OSError) as exc:
            log.warning("users.info for %s failed: %s", user_id, exc)
            return None
        return user is not None and not user.deleted
