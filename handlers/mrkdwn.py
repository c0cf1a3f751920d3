"""Slack mrkdwn: the one place where text from people or from Xoxoday is made inert.

Slack parses `&`, `<` and `>` as control characters in every mrkdwn text (section text,
fields, context elements and a message's `text`), so `<!channel>`, `<!subteam^…>`, `<@U…>`
and `<https://evil.example|Claim your gift card>` typed by anyone are live: mass pings and
disguised links, even in a DM beside a voucher code. Slack's rule is to replace exactly these
three characters with HTML entities in anything not meant as markup, and nothing else:
"Formatting text for app surfaces", Escaping text,
https://api.slack.com/reference/surfaces/formatting#escaping

Builders escape every piece of text they did not write themselves with `escape`; the only
markup the bot emits is what the helpers below build from values they check first (member
ids, http(s) links, date tokens). `plain_text` objects are not parsed and are left alone.
"""

from __future__ import annotations

import re

_ENTITIES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
# Slack member ids: U… for users, W… for Enterprise Grid users; upper-case letters and digits.
_MEMBER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
# A link target the bot may make clickable: http(s), no spaces and none of Slack's separators.
_SAFE_URL = re.compile(r"https?://[^\s<>|`]+", re.IGNORECASE)


_ENTITY = re.compile(r"&(amp|lt|gt);")
_UNENTITIES = {"amp": "&", "lt": "<", "gt": ">"}


def unescape(text: str) -> str:
    """Text as the person typed it, from what Slack sends (a slash command's `text` arrives
    with `&`, `<`, `>` as entities, like all text in Slack: https://api.slack.com/reference/
    surfaces/formatting#escaping). One pass, so `&amp;lt;` becomes `&lt;`, never `<`."""
    return _ENTITY.sub(lambda m: _UNENTITIES[m.group(1)], text)


def escape(text: object) -> str:
    """Text a person or Xoxoday wrote, safe to put into mrkdwn: `&`, `<`, `>` as entities."""
    return str(text).translate(_ENTITIES)


def is_member_id(user_id: str | None) -> bool:
    return bool(user_id) and _MEMBER_ID.fullmatch(user_id or "") is not None


def mention(user_id: str | None, fallback: str = "someone") -> str:
    """`<@U123>` for a well-formed member id; anything else is shown as inert text."""
    if not user_id:
        return escape(fallback)
    return f"<@{user_id}>" if is_member_id(user_id) else escape(user_id)


def link(url: str, label: str) -> str | None:
    """A clickable `<url|label>` when `url` is a plain http(s) address, else None.

    The label is escaped like any text; `&` in the address is written as `&amp;`, as Slack
    itself writes links.
    """
    if not _SAFE_URL.fullmatch(url):
        return None
    return f"<{escape(url)}|{escape(label).replace('|', '¦')}>"


def code(text: str) -> str:
    """Inline code; backticks inside would end it early, so they become a look-alike."""
    return f"`{escape(text).replace('`', 'ˋ')}`"


def quote(text: str) -> str:
    """A block quote of what someone wrote, every line quoted and escaped."""
    return "> " + escape(text).replace("\n", "\n> ")
