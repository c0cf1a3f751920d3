"""A WebClient whose every call first asks the pacer (services/pacing.py), and never sleeps.

The delivery room's client: a call whose lane is full raises NotYet with the time it may go,
and so does Slack's HTTP 429 (its Retry-After holds that method, or that channel's posts, for
every process on the database). The caller puts that work back for later and goes on with
other lanes: nothing waits in a thread for Retry-After, so a throttled channel never stalls a
DM, and Slack throttling never stalls placement (which runs elsewhere). A post to a person's
user id tells the pacer which D… channel is their DM, so posts to either name share one lane.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.slack_rates import lane_of
from services.pacing import Pacer

log = logging.getLogger(__name__)


class NotYet(Exception):
    """The call may not go before `at` (epoch seconds): its `lane` is full or held."""

    def __init__(self, lane: str, at: float) -> None:
        super().__init__(f"{lane} until {at:.1f}")
        self.lane = lane
        self.at = at


def retry_after(exc: SlackApiError) -> float | None:
    """Seconds Slack asked to wait, when it answered 429."""
    response = exc.response
    if getattr(response, "status_code", 200) != 429:
        return None
    for name, value in (getattr(response, "headers", None) or {}).items():
        if name.lower() == "retry-after":
            try:
                return max(1.0, float(value if not isinstance(value, list) else value[0]))
            except (TypeError, ValueError):
                break
    return 1.0


def _learn_dm(pacer: Pacer, posted_to: str, answer: Any) -> None:
    """A post to a user id answers with the DM's D… channel: the same conversation."""
    channel = str(answer.get("channel") or "")
    if posted_to[:1] in ("U", "W") and channel.startswith("D"):
        pacer.same_conversation(channel, posted_to)


def paced(client: WebClient, pacer: Pacer) -> WebClient:
    """Put `pacer` in front of every call of `client` (which should not retry 429s itself)."""
    call = client.api_call

    def api_call(api_method: str, **kwargs: Any) -> Any:
        params = kwargs.get("json") or kwargs.get("data") or kwargs.get("params") or {}
        lane, rule = lane_of(api_method, params, pacer.conversation)
        wait = pacer.reserve(lane, rule)
        if wait > 0:
            raise NotYet(lane, pacer.now() + wait)
        try:
            answer = call(api_method, **kwargs)
        except SlackApiError as exc:
            seconds = retry_after(exc)
            if seconds is None:
                raise
            log.warning("Slack answered 429 for %s: waiting %.0f s on that lane", lane, seconds)
            raise NotYet(lane, pacer.hold(lane, seconds)) from exc
        if api_method == "chat.postMessage":
            _learn_dm(pacer, str(params.get("channel") or ""), answer)
        return answer

    client.api_call = api_call  # type: ignore[method-assign]
    return client
