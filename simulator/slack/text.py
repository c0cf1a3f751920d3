"""Text as the Slack client sends it to an app: a slash command's `text`.

All text in Slack is escaped the same way: the client turns `&`, `<`, `>` into `&amp;`, `&lt;`,
`&gt;` (https://api.slack.com/docs/formatting, "URLs and Escaping"). A command declared with
`should_escape: true` also gets mentions, channels and links in Slack's own markup: `@ben` as
`<@UBEN|ben>`, `#rewards` as `<#CREWARDS|rewards>`, `https://…` as `<https://…>` (the
"Escape channels, users, and links sent to your app" option of a slash command,
https://docs.slack.dev/interactivity/implementing-slash-commands). Without it they stay as
typed. Only what the client can resolve becomes markup: `@nobody` stays text.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# A token starts the text or follows a space, as the client's autocomplete needs it to.
_TOKEN = re.compile(r"(?<!\S)(?:@([\w.\-]+)|#([\w\-]+)|(https?://[^\s<>]+))")


def _names(user: Mapping[str, Any]) -> set[str]:
    profile = user.get("profile") or {}
    return {
        str(name).lower()
        for name in (user.get("name"), profile.get("display_name"))
        if name and not user.get("deleted")
    }


def command_text(
    typed: str,
    users: Mapping[str, Mapping[str, Any]],
    channels: Mapping[str, str],
    *,
    should_escape: bool = True,
) -> str:
    """What the client sends for `typed` (`channels`: channel id -> name)."""
    text = typed.translate(_ENTITIES)
    if not should_escape:
        return text
    by_name = {name: uid for uid, user in sorted(users.items()) for name in _names(user)}
    by_channel = {name.lower(): cid for cid, name in channels.items()}

    def markup(match: re.Match[str]) -> str:
        user, channel, url = match.groups()
        if user is not None and user.lower() in by_name:
            return f"<@{by_name[user.lower()]}|{user.lower()}>"
        if channel is not None and channel.lower() in by_channel:
            return f"<#{by_channel[channel.lower()]}|{channel.lower()}>"
        if url is not None:
            return f"<{url}>"
        return match.group(0)

    return _TOKEN.sub(markup, text)
