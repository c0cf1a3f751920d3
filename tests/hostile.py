"""Hostile mrkdwn for the tests: what a workspace member (or a compromised catalog) may type,
and a check that none of it is live in what the bot sends to Slack.

Slack acts on `<…>` sequences in mrkdwn: `<!channel>`, `<!here>`, `<!subteam^S…>` ping
people, `<@U…>` mentions, `<#C…>` links a channel, `<https://…|label>` disguises a link
(https://api.slack.com/reference/surfaces/formatting#escaping). After escaping, the only
sequences left in a message are those the bot builds itself.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from typing import Any

from hypothesis import strategies as st

HOSTILE_TOKENS = (
    "<!channel>",
    "<!here>",
    "<!everyone>",
    "<https://evil.example|Claim your gift card here>",
    "<https://evil.example>",
    "<@UEVIL01>",
    "<@WEVIL02|boss>",
    "<!subteam^S0EVIL>",
    "<#C0EVIL|general>",
    "<mailto:a@evil.example|HR>",
    "<!date^1700000000^{date}|soon>",
)
HOSTILE = " ".join(HOSTILE_TOKENS) + " & > < &amp; &lt;b&gt; `x` *y*"

# Hypothesis: hostile fragments mixed with arbitrary text.
hostile_text = st.lists(
    st.one_of(st.sampled_from([*HOSTILE_TOKENS, "<", ">", "&", "|", "`"]), st.text(max_size=12)),
    min_size=1,
    max_size=8,
).map(" ".join)

_MARKUP = re.compile(r"<[^<>]*>")
_DATE = re.compile(r"<!date\^\d+\^\{date_short_pretty\} at \{time\}\|[^<>|]* UTC>")


def mrkdwn_of(value: Any) -> Iterator[str]:
    """Every mrkdwn string in a Slack payload: `text` of messages and every `mrkdwn` object
    in blocks and views (`plain_text` objects are not parsed by Slack)."""
    if isinstance(value, dict):
        if value.get("type") == "mrkdwn" and isinstance(value.get("text"), str):
            yield value["text"]
        for key, item in value.items():
            if key == "text" and isinstance(item, str) and value.get("type") is None:
                yield item  # a message's own text (and its fallback)
            elif isinstance(item, dict | list):
                yield from mrkdwn_of(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from mrkdwn_of(item)
    elif isinstance(value, str):
        yield value


def stray_markup(
    texts: Iterable[str], members: Iterable[str] = (), links: Iterable[str] = ()
) -> list[str]:
    """Control sequences in `texts` that the bot did not mean: anything but mentions of
    `members`, date tokens and links to `links` (URL prefixes the bot may link to)."""
    allowed_members = {f"<@{m}>" for m in members}
    prefixes = tuple(f"<{p}" for p in links)
    stray = []
    for text in texts:
        for found in _MARKUP.findall(text):
            if found in allowed_members or _DATE.fullmatch(found):
                continue
            if prefixes and found.startswith(prefixes) and found.endswith("|Open your gift card>"):
                continue
            stray.append(found)
    return stray
