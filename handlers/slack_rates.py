"""Slack's rate limits as the bot paces itself against them (services/pacing.py), and the lane
each Web API call counts on.

https://docs.slack.dev/apis/web-api/rate-limits: each method is limited per workspace in tiers
of calls per minute (Tier 1: 1+, Tier 2: 20+, Tier 3: 50+, Tier 4: 100+), with short bursts;
chat.postMessage instead allows about one message a second per conversation, short bursts
allowed. The pacer keeps each method to its tier's floor over 61 s (a second more than Slack's
minute, so network jitter cannot push an extra call into Slack's window) and each channel to
four posts in any four seconds (one a second, a burst of four; the stand-in allows five), a
DM counted as one conversation whether it is posted to the person or to its D… channel.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from services.pacing import Rule

TIER_PER_MINUTE = {1: 1, 2: 20, 3: 50, 4: 100}
WINDOW_S = 61.0
POSTS_PER_CHANNEL = Rule(limit=4, window_s=4.0)
# Each method's tier, from its reference page (docs.slack.dev/reference/methods/<method>).
METHOD_TIERS = {
    "users.list": 2,
    "chat.update": 3,
    "conversations.open": 3,
    "conversations.info": 3,
    "users.lookupByEmail": 3,
    "functions.completeSuccess": 3,
    "functions.completeError": 3,
    "auth.test": 4,
    "chat.postEphemeral": 4,
    "chat.getPermalink": 4,
    "users.info": 4,
    "views.open": 4,
    "views.update": 4,
    "views.push": 4,
    "views.publish": 4,
}
DEFAULT_TIER = 3  # a method not listed here: the middle tier, to be safe


def lane_of(
    method: str, params: dict[str, Any], conversation: Callable[[str], str] = str
) -> tuple[str, Rule]:
    """The lane a call counts on and its rule: posts by conversation (`conversation` names a
    channel's: a DM's D… channel and its person's user id are one), the rest by method."""
    if method == "chat.postMessage":
        return f"post:{conversation(str(params.get('channel') or ''))}", POSTS_PER_CHANNEL
    tier = METHOD_TIERS.get(method, DEFAULT_TIER)
    return method, Rule(limit=TIER_PER_MINUTE[tier], window_s=WINDOW_S)
