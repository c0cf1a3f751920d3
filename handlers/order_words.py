"""Where each order stands, in words: one line per order, and a request's progress in
counts ("0 of 2 placed · 1 choosing · 1 delivered"). Plain data, shared by every message
that shows a request (handlers/messages.py re-exports them)."""

from __future__ import annotations

from collections import Counter

from storage.models import OrderRow

ORDER_WORDS = {
    "pending_approval": ("⏳", "waiting for approval"),
    "choosing": ("🎁", "choosing their reward"),
    "queued": ("🕓", "queued"),
    "placing": ("🔄", "being placed"),
    "unknown": ("🔄", "being confirmed with Xoxoday"),
    "placed": ("🚚", "placed, delivery pending"),
    "delivered": ("✅", "delivered"),
    "canceled": ("🚫", "delivery cancelled by Xoxoday, refunded"),
    "failed": ("❌", "failed"),
    "withdrawn": ("➖", "not sent"),
}
PROGRESS_WORDS = (
    ("choosing", "choosing"),
    ("delivered", "delivered"),
    ("failed", "failed"),
    ("canceled", "cancelled"),
    ("withdrawn", "not chosen"),
)


def progress(orders: list[OrderRow]) -> str:
    counts = Counter(o.state for o in orders)
    placed = counts["placed"] + counts["delivered"] + counts["canceled"]
    parts = [f"{placed} of {len(orders)} placed"]
    # withdrawn, in a request that went ahead: a recipient's choice that expired
    for state, words in PROGRESS_WORDS:
        if counts[state]:
            parts.append(f"{counts[state]} {words}")
    return " · ".join(parts)
