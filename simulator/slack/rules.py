"""The stand-in's rules that a real workspace enforces and a test may switch off, by name.

Every rule is on by default, in every end-to-end test: the stand-in is as strict as Slack. A
test that needs one off says which and why (`fake.rules.off("rate_limits", "why")`), and the
reason is kept beside it, so a switched-off rule is always explained. `reset()` turns them all
back on. Sources: ../shared/slack-platform.md §6 and §7.
"""

from __future__ import annotations

import threading

RULES: dict[str, str] = {
    "rate_limits": (
        "per-method tiers per minute and about one post a second per conversation (a DM "
        "posted to the user id and to its D… channel are one): over them, HTTP 429 with "
        "Retry-After (docs.slack.dev/apis/web-api/rate-limits)"
    ),
    "msg_too_long": "a message `text` over 4,000 characters is refused: msg_too_long",
    "block_text_cap": (
        "the text of a message's blocks adds up to at most 12,000 characters: "
        "msg_blocks_too_long (slackapi/bolt-js#2509, #2867)"
    ),
    "ephemeral_membership": (
        "chat.postEphemeral where the bot is not a member is refused, chat:write.public or not "
        "(slackapi/node-slack-sdk#977)"
    ),
    "view_too_large": "a view over 250 kB is refused: view_too_large (views.publish reference)",
    "late_ack": (
        "an answer after 3 s is a failure: the person sees operation_timeout, a submission's "
        "answer is ignored (docs.slack.dev/apis/events-api)"
    ),
    "event_redelivery": (
        "an event not acked within 3 s is delivered again, with X-Slack-Retry-Num and "
        "X-Slack-Retry-Reason (docs.slack.dev/apis/events-api/#retries)"
    ),
}


class Rules:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._off: dict[str, str] = {}

    def on(self, name: str) -> bool:
        self._check(name)
        with self._lock:
            return name not in self._off

    def off(self, name: str, why: str) -> None:
        """Switch rule `name` off for this test; `why` is required (and kept)."""
        self._check(name)
        if not why.strip():
            raise ValueError(f"say why the rule {name!r} is off")
        with self._lock:
            self._off[name] = why

    def restore(self, name: str) -> None:
        self._check(name)
        with self._lock:
            self._off.pop(name, None)

    def reset(self) -> None:
        with self._lock:
            self._off.clear()

    def switched_off(self) -> dict[str, str]:
        """The rules off, with why."""
        with self._lock:
            return dict(self._off)

    @staticmethod
    def _check(name: str) -> None:
        if name not in RULES:
            raise ValueError(f"no stand-in rule {name!r}; the rules are {sorted(RULES)}")
