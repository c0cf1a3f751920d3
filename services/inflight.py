"""When may the bot believe Xoxoday's "no order with this poNumber"? The in-flight window.

Xoxoday places realtime orders "within 120 seconds" (placeOrder page), and after a 5xx or a
timeout asks clients to "call getOrderDetails with the same poNumber before retrying" (§3.6
of xoxoday-api.md). A gateway can answer 502/504 while Xoxoday is still placing the order,
and for a while getOrderDetails does not see it yet (PLE10016). Believing that first "not
found" and placing the order again pays for the reward twice (issue 8; §12 row 8).

The rule, for an order whose placeOrder outcome is unknown (5xx, timeout, broken answer, a
dropped connection, a crash, an ambiguous refusal):

1. A "found" at any time adopts the order.
2. A "not found" before `sent_at + window` does not count: the order stays `unknown`, and
   the next lookup is scheduled no earlier than the end of the window. `sent_at` is when
   that attempt was sent, stored in SQLite before the call, so an order recovered after a
   crash obeys the window too. The window is XOXODAY_PLACE_ORDER_TIMEOUT_S, the same
   setting as the client's placeOrder read timeout (130 s by default, over Xoxoday's 120).
3. After the window, a first "not found" is recorded; only a second lookup a few seconds
   later that agrees lets the order be placed again, with the same poNumber.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CONFIRM_AFTER_S = 5.0  # "a few seconds" between the two lookups that must agree
# Xoxoday places realtime orders "within 120 seconds" (placeOrder page); a window shorter than
# that believes a "not found" while the first attempt may still commit, and pays twice. Start-up
# refuses less than this against any Xoxoday that is not on this machine (bot/config.py).
MIN_WINDOW_S = 125.0


def confirm_delay(window_s: float, preferred_s: float = CONFIRM_AFTER_S) -> float:
    """The pause before the confirming lookup: a few seconds, but never more than a quarter
    of the window, so a short window (tests, the simulator) stays short."""
    return max(0.05, min(preferred_s, window_s / 4))


@dataclass(frozen=True)
class NotFoundVerdict:
    """What to do after a "not found": `wait` (stay unknown, look again at `next_lookup_at`,
    forget any earlier not-found), `confirm` (record `not_found_at`, look again at
    `next_lookup_at`) or `place_again` (two lookups agreed after the window)."""

    action: Literal["wait", "confirm", "place_again"]
    next_lookup_at: float | None = None
    not_found_at: float | None = None
    why: str = ""


def judge_not_found(
    *,
    sent_at: float | None,
    not_found_at: float | None,
    now: float,
    window_s: float,
    confirm_after_s: float,
) -> NotFoundVerdict:
    """Apply the rule above to one "not found" answer heard at `now`.

    `sent_at` None (a row from before this rule was recorded) counts as sent now: the safe
    side. `not_found_at` is the first trusted "not found", if any.
    """
    start = now if sent_at is None else sent_at
    window_end = start + window_s
    if now < window_end:
        return NotFoundVerdict(
            "wait",
            next_lookup_at=window_end,
            why=(
                f"not found yet, but the attempt may still be in flight for "
                f"{window_end - now:.0f} s more"
            ),
        )
    if not_found_at is None or not_found_at < window_end:
        return NotFoundVerdict(
            "confirm",
            next_lookup_at=now + confirm_after_s,
            not_found_at=now,
            why="not found after the in-flight window; confirming with a second lookup",
        )
    if now < not_found_at + confirm_after_s:
        # Looked up again too soon (a restart, a wake-up): the second lookup must be later.
        return NotFoundVerdict(
            "confirm",
            next_lookup_at=not_found_at + confirm_after_s,
            not_found_at=not_found_at,
            why="waiting for the confirming lookup",
        )
    return NotFoundVerdict(
        "place_again", why="not found at Xoxoday twice after the in-flight window"
    )
