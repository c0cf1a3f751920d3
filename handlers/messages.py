"""Messages as plain data: request status, thread lines, DMs, command replies.

Every builder returns (fallback text, blocks) or a text, from rows only, so each is tested as
data. Voucher codes appear only in dm_messages.recipient_delivered, sent to the recipient's DM;
the approval ask is ask_messages, the reminder digest digest_messages. Every message fits what
Slack takes whole: `text` at most TEXT_MAX characters (fit_text), a section at most 3,000, and
the blocks of one message under BLOCK_TEXT_MAX characters of text in all (Slack refuses
roughly past 12,000 with msg_blocks_too_long: slackapi/bolt-js#2509, #2867; and `text` past
about 4,000 with msg_too_long: seratch/ChatGPT-in-Slack#102).

Builders take raw values and escape every piece of text a person or Xoxoday wrote (messages,
names, emails, reasons, product names, phone numbers, codes) through `handlers.mrkdwn`; the
only live markup is what they build themselves from checked values (mentions, dates, links).
A reject reason is for the requester: it appears in their DM and in `/reward status` for
those who may see the whole request, never in a channel.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from handlers import mrkdwn as md
from handlers import permalinks
from handlers.ids import Action, Block
from handlers.metadata import RequestRef

# Re-exported: the messages' callers read them here.
from handlers.order_words import ORDER_WORDS as ORDER_WORDS
from handlers.order_words import progress as progress
from services.money import fmt_amount, fmt_money
from services.rewards import SLACK_SOURCES
from storage.models import EventKind, OrderRow, RequestRow

Blocks = list[dict[str, Any]]
MAX_LISTED = 10  # beyond this, a request shows progress counts instead of one line per order


def mention(user_id: str | None) -> str:
    return md.mention(user_id)


def who(order: OrderRow) -> str:
    if order.recipient_id:
        return md.mention(order.recipient_id)
    return md.escape(order.email or order.recipient_label)


def decider(request: RequestRow) -> str:
    """Who decided: '<@D>', or '<@D> (standing in for <@A>)' for a delegate."""
    by = mention(request.decided_by)
    if request.decided_for:
        by += f" (standing in for {mention(request.decided_for)})"
    return by


def requester(request: RequestRow) -> str:
    if request.source in SLACK_SOURCES:
        return md.mention(request.requester_id)
    return md.escape(request.requester_name or request.requester_id)


def slack_date(iso: str | None) -> str:
    """A timestamp every reader sees in their own time zone."""
    if not iso:
        return ""
    try:
        moment = datetime.fromisoformat(iso)
    except ValueError:
        return md.escape(iso)
    fallback = md.escape(iso[:16])
    return f"<!date^{int(moment.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback} UTC>"


def slack_time(epoch: float | None) -> str:
    """An epoch time (a due time of the schedule) as slack_date shows it."""
    if epoch is None:
        return ""
    return slack_date(datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds"))


def day(value: date) -> str:
    """A day (a delegation's last one), e.g. 'Dec 24, 2026', in words that cannot be markup."""
    return value.strftime("%b %d, %Y").replace(" 0", " ")


SECTION_LIMIT = 3000  # characters of a section's text (Block Kit reference)
MAX_MESSAGE_BLOCKS = 50  # blocks in one message
TEXT_MAX = 4000  # a message's `text`, and one thread reply
BLOCK_TEXT_MAX = 11_000  # all the text of one message's blocks (Slack: about 12,000)


def fit_text(text: str, limit: int = TEXT_MAX) -> str:
    """`text` whole when it fits, else cut at a line or word with an ellipsis."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    for stop in ("\n", " "):
        at = cut.rfind(stop)
        if at > limit // 2:
            cut = cut[:at]
            break
    return cut.rstrip() + "…"


def replies(lines: list[str], limit: int = TEXT_MAX) -> list[list[str]]:
    """Lines grouped into replies of at most `limit` characters, in order."""
    grouped: list[list[str]] = []
    size = 0
    for line in (fit_text(line, limit) for line in lines):
        if grouped and size + 1 + len(line) <= limit:
            grouped[-1].append(line)
            size += 1 + len(line)
        else:
            grouped.append([line])
            size = len(line)
    return grouped


def block_text_length(blocks: Any) -> int:
    """The characters of text in `blocks`, all nested elements counted (what Slack caps)."""
    if isinstance(blocks, list):
        return sum(block_text_length(b) for b in blocks)
    if isinstance(blocks, dict):
        total = 0
        for key, value in blocks.items():
            if key == "text" and isinstance(value, str):
                total += len(value)
            elif isinstance(value, (dict, list)):
                total += block_text_length(value)
        return total
    return 0


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:SECTION_LIMIT]}}


def _sections(lines: list[str], *, room: int) -> Blocks:
    """Lines packed into as few sections as fit Slack's 3,000 characters each, never cutting a
    line in two (a cut could drop half of someone's code); at most `room` blocks, the last
    one saying how many lines did not fit."""
    packed: list[str] = []
    for line in lines:
        if packed and len(packed[-1]) + 1 + len(line) <= SECTION_LIMIT:
            packed[-1] += "\n" + line
        else:
            packed.append(line)
    if len(packed) > room:
        kept = packed[: room - 1]
        shown = sum(chunk.count("\n") + 1 for chunk in kept)
        rest = len(lines) - shown
        packed = [*kept, f"…and {rest} more: ask the person who sent it, or see Xoxoday's email."]
    return [_section(chunk) for chunk in packed]


def _context(*texts: str) -> dict[str, Any]:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": t[:3000]} for t in texts if t],
    }


def money(amount: Decimal, currency: str | None) -> str:
    """An amount in a currency Xoxoday named (so escaped like any of its text)."""
    return md.escape(fmt_money(amount, currency))


def reward_phrase(order: OrderRow) -> str:
    amount = md.escape(f"{fmt_amount(order.denomination)} {order.product_currency or ''}".strip())
    quantity = f"{order.quantity} × " if order.quantity > 1 else ""
    return f"*{md.escape(order.product_name or order.product_id)}* ({quantity}{amount})"


def summary(request: RequestRow, orders: list[OrderRow]) -> str:
    """'@Riya is sending Amazon.com eGift Card (25 USD) to @Ana and @Ben'."""
    kinds = {(o.product_id, o.denomination, o.quantity) for o in orders}
    people = [who(o) for o in orders]
    if len(people) > MAX_LISTED:
        recipients = f"{len(people)} people"
    elif len(people) > 1:
        recipients = ", ".join(people[:-1]) + f" and {people[-1]}"
    else:
        recipients = people[0] if people else "nobody"
    if len(kinds) == 1 and orders:
        each = " each" if len(orders) > 1 else ""
        what = reward_phrase(orders[0]) + each
    else:
        what = f"{len(orders)} rewards"
    text = f"{requester(request)} is sending {what} to {recipients}"
    if request.message:
        text += "\n" + md.quote(request.message)
    return text


def request_status(
    request: RequestRow, orders: list[OrderRow], *, with_reason: bool = False
) -> str:
    """One line of where a request stands; the reject reason only when `with_reason`
    (the requester's and the approvers' own view, never a channel)."""
    reason = (
        f": {md.escape(request.decision_reason)}" if with_reason and request.decision_reason else ""
    )
    if request.state == "pending_approval":
        return "⏳ Waiting for approval"
    if request.state == "rejected":
        return f"🚫 Rejected by {decider(request)}{reason}"
    if request.state == "cancelled":
        return "➖ Cancelled by the requester"
    if request.state == "expired":
        return "⌛ Expired: nobody decided in time"
    open_orders = [o for o in orders if not o.is_terminal]
    if open_orders:
        return f"🚚 In progress: {progress(orders)}"
    failed = sum(o.state in ("failed", "canceled", "withdrawn") for o in orders)
    if failed:
        return f"⚠️ Done: {progress(orders)}"
    return f"✅ Done: all {len(orders)} delivered" if len(orders) > 1 else "✅ Delivered"


def approval_line(request: RequestRow) -> str:
    if request.state == "pending_approval":
        return ""
    if request.auto_approved:
        return (
            f"Approved automatically ({md.escape(request.decision_reason)})"
            if request.decision_reason
            else "Approved automatically"
        )
    if request.state == "expired":
        when = f" {slack_date(request.decided_at)}" if request.decided_at else ""
        return f"⌛ Expired{when}: nobody decided in time"
    verb = {"approved": "✅ Approved", "rejected": "🚫 Rejected", "cancelled": "➖ Cancelled"}[
        request.state
    ]
    by = "the requester" if request.state == "cancelled" else decider(request)
    return f"{verb} by {by} {slack_date(request.decided_at)}".rstrip()


def order_line(order: OrderRow) -> str:
    icon, words = ORDER_WORDS[order.state]
    reason = (
        f": {md.escape(order.failure_reason)}"
        if order.state == "failed" and order.failure_reason
        else ""
    )
    return f"{icon} {who(order)}: {words}{reason}"


def status_message(request: RequestRow, orders: list[OrderRow]) -> tuple[str, Blocks]:
    """The message where /reward was typed; updated in place as the orders move."""
    status = request_status(request, orders)
    blocks: Blocks = [
        _section(f"🎁 *Reward request {request.ref}*\n{summary(request, orders)}"),
        {
            "type": "section",
            "fields": [
                {
                    "type": "mrkdwn",
                    "text": f"*Total*\n{money(request.total_cost, request.currency)}",
                },
                {"type": "mrkdwn", "text": f"*Status*\n{status}"},
            ],
        },
    ]
    if len(orders) > 1 and request.state == "approved":
        lines = [order_line(o) for o in orders[:MAX_LISTED]]
        if len(orders) > MAX_LISTED:
            lines.append(f"… {progress(orders)}")
        blocks.append(_section("\n".join(lines)))
    elif len(orders) == 1 and orders[0].state == "failed":
        blocks.append(_section(order_line(orders[0])))
    blocks.append(
        _context(
            approval_line(request),
            f"Requested {slack_date(request.created_at)}",
            source_line(request),
        )
    )
    return f"Reward request {request.ref}: {status}", blocks


def source_line(request: RequestRow) -> str:
    """A link back to the Slack message the request was made from ("Reward this message");
    "" for any other request, or a stored link that is not a plain Slack permalink."""
    link = permalinks.checked(request.source_link)
    shown = md.link(link, "the message it rewards") if link else None
    return f"💬 For {shown}" if shown else ""


def decision_buttons(request: RequestRow, block_id: str = Block.DECISION) -> dict[str, Any]:
    """Approve and Reject for a waiting request; the same wherever they are shown (a channel,
    a DM, a reminder, the Home tab), so one handler decides them all."""
    value = RequestRef.of(request).dump()
    return {
        "type": "actions",
        "block_id": block_id,
        "elements": [
            {
                "type": "button",
                "action_id": Action.APPROVE,
                "text": {"type": "plain_text", "text": "Approve"},
                "style": "primary",
                "value": value,
            },
            {
                "type": "button",
                "action_id": Action.REJECT,
                "text": {"type": "plain_text", "text": "Reject"},
                "style": "danger",
                "value": value,
            },
        ],
    }


# --- thread replies, one line per change ------------------------------------------------------


def event_line(
    kind: str, order: OrderRow | None, request: RequestRow, reason: str | None
) -> str | None:
    if kind == EventKind.REQUEST_APPROVED:
        return approval_line(request)
    if kind == EventKind.REQUEST_REJECTED:  # the reason goes to the requester only
        return f"🚫 Rejected by {decider(request)}"
    if kind == EventKind.REQUEST_CANCELLED:
        return "➖ Cancelled by the requester"
    if kind == EventKind.REQUEST_EXPIRED:
        return f"⌛ Expired: {md.escape(reason or 'nobody decided in time')}"
    if kind == EventKind.REQUEST_NEEDS_APPROVAL:
        why = f": {md.escape(reason)}" if reason else ""
        return f"⏳ Not approved automatically{why}; an approver will decide"
    if order is None:
        return None
    if kind == EventKind.ORDER_PLACED:
        pending = " — delivery pending" if order.state == "placed" else ""
        return f"🚚 Placed {reward_phrase(order)} for {who(order)}{pending}"
    if kind == EventKind.ORDER_DELIVERED:
        return f"✅ Delivered to {who(order)}"
    if kind == EventKind.ORDER_FAILED:
        why = md.escape(reason or order.failure_reason or "")
        return f"❌ {reward_phrase(order)} for {who(order)} failed: {why}"
    if kind == EventKind.ORDER_CANCELED:
        return f"🚫 Xoxoday cancelled the delivery to {who(order)}; the amount was refunded"
    if kind == EventKind.ORDER_PARTIALLY_CANCELED:
        return (
            f"↩️ Xoxoday cancelled {order.cancelled_quantity} of {order.quantity} of "
            f"{reward_phrase(order)} for {who(order)}; that share was refunded"
        )
    return None


def alert_message(text: str) -> tuple[str, Blocks]:
    """An operational alert for the approvers; its text may quote Xoxoday or a webhook. A long
    one is cut where Slack would refuse it (the log has it whole)."""
    line = f"⚠️ Rewards Bot: {md.escape(text)}"
    return fit_text(line), [_section(fit_text(line, SECTION_LIMIT))]
