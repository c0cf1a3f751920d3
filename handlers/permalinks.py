"""Links to Slack messages: the one kind of link a request keeps ("Reward this message").

A permalink comes from chat.getPermalink, then travels in the modal's private_metadata, which
the Slack client sends back and anyone could forge: so it is checked whenever it is read, and
anything that is not a plain permalink of a Slack workspace is dropped. Slack's shapes
(https://docs.slack.dev/reference/methods/chat.getPermalink): `https://<workspace>.slack.com/
archives/<channel>/p<ts without the dot>`, with `?thread_ts=<ts>&cid=<channel>` for a reply in
a thread (Enterprise Grid workspaces are `<name>.enterprise.slack.com`).
"""

from __future__ import annotations

import re

_PERMALINK = re.compile(
    r"https://(?:[a-z0-9][a-z0-9-]{0,62}\.)+slack\.com"
    r"/archives/[CDG][A-Z0-9]{2,20}/p[0-9]{10,20}"
    r"(?:\?thread_ts=[0-9]{1,12}\.[0-9]{1,8}&cid=[CDG][A-Z0-9]{2,20})?"
)
MAX_LENGTH = 300


def checked(url: object) -> str | None:
    """`url` when it is a Slack message permalink, else None."""
    if not isinstance(url, str) or len(url) > MAX_LENGTH:
        return None
    return url if _PERMALINK.fullmatch(url) else None
