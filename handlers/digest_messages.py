"""Reminder and escalation digests: one DM per approver per round, listing what waits for them,
oldest first, each with Approve and Reject (the buttons every ask has, so one handler decides
them all). A message holds 50 blocks, two per request: as many as fit, then "and N more on
your Home tab". Decided requests stay listed with their outcome instead of buttons, so the
digest never offers a click that can only be refused.
"""

from __future__ import annotations

from dataclasses import dataclass

from handlers import ask_messages
from handlers import messages as msg
from handlers.ids import Block
from storage.models import OrderRow, RequestRow

PER_DIGEST = (msg.MAX_MESSAGE_BLOCKS - 2) // 2  # a title, a closing line, two per request
LINE_MAX = 400  # one request's summary: 24 of them stay well under BLOCK_TEXT_MAX


@dataclass(frozen=True)
class Entry:
    request: RequestRow
    orders: list[OrderRow]
    acting_for: str | None = None  # the approver the reader stands in for
    round: int = 0  # the reminder's number (of `of`); 0: an escalation
    of: int = 0
    closed: str = ""  # mrkdwn built here: why the reader may no longer decide it


def title(why: str, count: int) -> str:
    many = f"{count} reward requests wait" if count != 1 else "1 reward request waits"
    if why == "escalate":
        return f"⏫ Escalated: {many} past the escalation time, so you are asked too"
    return f"⏰ Reminder: {many} for your decision"


def _line(entry: Entry) -> str:
    request = entry.request
    since = msg.slack_date(request.waiting_since or request.created_at)
    cost = msg.money(request.total_cost, request.currency)
    head = f"*{request.ref}* · {cost} · waiting since {since}"
    if entry.round:
        head = f"⏰ Reminder {entry.round} of {entry.of}: {head}"
    if request.expires_at and request.state == "pending_approval":
        head += f" · expires {msg.slack_time(request.expires_at)}"
    standing_in = "" if entry.closed else ask_messages.standing_in_note(entry.acting_for)
    body = msg.summary(request, entry.orders)
    text = "\n".join(t for t in (head, standing_in, body) if t)  # a cut takes the summary's end
    return msg.fit_text(text, LINE_MAX)


def digest(why: str, entries: list[Entry], waiting: int) -> tuple[str, msg.Blocks]:
    """`entries` oldest first; `waiting` how many waited when the digest was made."""
    shown = entries[:PER_DIGEST]
    heading = title(why, waiting)
    blocks: msg.Blocks = [msg._section(f"*{heading}*")]
    for entry in shown:
        request = entry.request
        blocks.append(msg._section(_line(entry)))
        if request.state == "pending_approval" and entry.closed:
            blocks.append(msg._context(entry.closed))
        elif request.state == "pending_approval":
            blocks.append(msg.decision_buttons(request, f"{Block.DECISION}_{request.id}"))
        else:
            blocks.append(msg._context(msg.approval_line(request)))
    rest = len(entries) - len(shown)
    closing = f"…and {rest} more on your Home tab." if rest else "Also on your Home tab."
    blocks.append(msg._context(closing))
    return msg.fit_text(heading), blocks
