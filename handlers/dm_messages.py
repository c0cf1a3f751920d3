"""Direct messages as plain data: the recipient's reward DM (the only message that ever carries
codes, PINs or links), "on its way", the requester's updates and "complete", an undelivered
code's warning, and the delegate's DM.

Codes are never cut and never dropped: when they do not fit one message (50 blocks, and under
messages.BLOCK_TEXT_MAX characters of block text, which Slack counts across all blocks and
refuses past about 12,000 with msg_blocks_too_long), they go on in further DMs, "codes 41-80
of 80", each within the same limits.
"""

from __future__ import annotations

from datetime import date
from typing import Any

from handlers import mrkdwn as md
from handlers.ids import Action
from handlers.messages import (
    BLOCK_TEXT_MAX,
    MAX_MESSAGE_BLOCKS,
    SECTION_LIMIT,
    Blocks,
    _context,
    _section,
    block_text_length,
    day,
    decider,
    mention,
    progress,
    requester,
    reward_phrase,
    who,
)
from handlers.metadata import OrderRef
from services.money import fmt_amount
from services.resend import can_resend
from services.reward_types import kind_or_default
from services.xoxoday.models import Voucher
from storage.models import EventKind, OrderRow, RequestRow

Message = tuple[str, Blocks]


def _voucher_lines(vouchers: list[Voucher]) -> list[str]:
    lines = []
    for number, voucher in enumerate(vouchers, start=1):
        code = voucher.voucher_code.get_secret_value()
        pin = voucher.pin.get_secret_value()
        label = f"{number}. " if len(vouchers) > 1 else ""
        # A link only when the code is a plain http(s) address; anything else is shown as code.
        opened = md.link(code, "Open your gift card") if voucher.is_link else None
        line = f"{label}{opened}" if opened else f"{label}Code: {md.code(code)}"
        if pin:
            line += f"   PIN: {md.code(pin)}"
        if voucher.validity:
            line += f"   (valid until {md.escape(voucher.validity)})"
        lines.append(line[:SECTION_LIMIT])
    return lines


def _pack(lines: list[str], room_blocks: int, room_text: int) -> tuple[list[str], int]:
    """Sections for as many of `lines` as fit `room_blocks` blocks and `room_text` characters
    (at least one line); returns the sections and how many lines they hold."""
    packed: list[str] = []
    used = taken = 0
    for line in lines:
        joined = packed and len(packed[-1]) + 1 + len(line) <= SECTION_LIMIT
        cost = len(line) + (1 if joined else 0)
        if taken and (used + cost > room_text or (not joined and len(packed) >= room_blocks)):
            break
        if joined:
            packed[-1] += "\n" + line
        else:
            packed.append(line)
        used += cost
        taken += 1
    return packed, taken


def recipient_delivered(
    order: OrderRow, request: RequestRow, vouchers: list[Voucher]
) -> list[Message]:
    """The recipient's DM: one message, or several when the codes need them."""
    sender = requester(request)
    reward_kind = kind_or_default(order.reward_type)
    body = reward_kind.delivered.format(
        reward=reward_phrase(order),
        amount=md.escape(
            f"{fmt_amount(order.denomination)} {order.product_currency or ''}".strip()
        ),
        product=f"*{md.escape(order.product_name or order.product_id)}*",
        **{
            d.field: (md.code if d.code else md.escape)(order.details.get(d.field) or "")
            for d in reward_kind.details
        },
    )
    head: Blocks = [_section(f"🎁 *You've received a reward from {sender}!*\n{body}")]
    if request.message:
        head.append(_section(md.quote(request.message)))
    lines = _voucher_lines(vouchers)
    private = " Keep your code private: anyone who has it can use it." if lines else ""
    foot = _context(f"Reference {md.escape(order.po_number)}.{private}")
    text = f"You've received a reward from {sender}"
    button = [resend_button(order)] if can_resend(order) else []
    if not lines:
        extra = [_context("Your code is on its way by email from Xoxoday.")]
        return [(text, [*head, *(extra if reward_kind.codes else []), foot, *button])]
    messages: list[Message] = []
    held: list[int] = []
    first = 0
    while first < len(lines):
        top = head if not messages else []
        # the foot, a "codes i-j" note and the button
        room_blocks = MAX_MESSAGE_BLOCKS - len(top) - 3
        room_text = BLOCK_TEXT_MAX - block_text_length([*top, foot, *button]) - 100
        sections, taken = _pack(lines[first:], room_blocks, room_text)
        messages.append((text, [*top, *(_section(s) for s in sections), foot]))
        held.append(taken)
        first += taken
    if len(messages) > 1:
        messages = _counted(messages, held, len(lines))
    last_text, last_blocks = messages[-1]
    messages[-1] = (last_text, [*last_blocks, *button])  # under the last codes
    return messages


def _counted(messages: list[Message], held: list[int], total: int) -> list[Message]:
    """Each of several messages says which codes it holds."""
    counted = []
    start = 1
    for number, ((part_text, blocks), count) in enumerate(zip(messages, held, strict=True), 1):
        note = _context(
            f"Codes {start}-{start + count - 1} of {total} (message {number} of {len(messages)})"
        )
        counted.append((f"{part_text} ({number} of {len(messages)})", [*blocks, note]))
        start += count
    return counted


def resend_element(order: OrderRow) -> dict[str, Any]:
    """'Email my code again': Xoxoday's resend, once an hour (services/resend.py decides who
    may and when); in the recipient's DM and on their Home tab."""
    return {
        "type": "button",
        "action_id": Action.RESEND_CODE,
        "text": {"type": "plain_text", "text": "Email my code again"},
        "value": OrderRef.of(order).dump(),
    }


def resend_button(order: OrderRow) -> dict[str, Any]:
    return {
        "type": "actions",
        "block_id": f"resend:{order.id}",
        "elements": [resend_element(order)],
    }


def request_complete(request: RequestRow, orders: list[OrderRow]) -> str:
    return f"🎉 Your reward request {request.ref} is complete: {progress(orders)}."


def undelivered_code(order: OrderRow, request: RequestRow, why: str) -> str:
    """To the requester: a delivered reward whose code reached nobody, and how to fix it."""
    return (
        f"⚠️ {reward_phrase(order)} for {who(order)} ({request.ref}) was delivered, but I "
        f"cannot give its code to them in Slack ({md.escape(why)}) and Xoxoday was not asked "
        "to email it. An operator can have Xoxoday email it: "
        f"`rewards-bot orders resend {md.escape(order.po_number)}`."
    )


def undelivered_alert(order: OrderRow, why: str) -> str:
    """For the operators (plain text; the alert builder escapes it)."""
    return (
        f"order {order.po_number} ({order.product_name or order.product_id} for "
        f"{order.email or order.recipient_id}) was delivered but its code reached nobody: {why}, "
        f"and Xoxoday was not asked to email it. Send it with `rewards-bot orders resend "
        f"{order.po_number}`."
    )


def how_to_get_the_code(order: OrderRow) -> str:
    """What an operator can do when a code reached nobody in Slack (plain text)."""
    if order.email:
        return (
            f"an operator can have Xoxoday email it to {order.email}: "
            f"`rewards-bot orders resend {order.po_number}`"
        )
    return (
        "the order has no email address for Xoxoday to send it to: an operator can look it "
        f"up with `rewards-bot orders show {order.po_number}` and ask Xoxoday"
    )


def code_given_up_alert(order: OrderRow, why: str) -> str:
    """For the operators (plain text; the alert builder escapes it): never the code."""
    return (
        f"the code of order {order.po_number} ({order.product_name or order.product_id} for "
        f"{order.email or order.recipient_id}) never reached its recipient: {why}; "
        f"{how_to_get_the_code(order)}."
    )


def recipient_on_its_way(order: OrderRow, request: RequestRow) -> str:
    return (
        f"🚚 A reward from {requester(request)} is on its way: {reward_phrase(order)}. "
        "Some rewards take a few days; I'll message you when it arrives."
    )


def requester_update(
    kind: str, request: RequestRow, order: OrderRow | None, reason: str | None
) -> str | None:
    ref = request.ref
    if kind == EventKind.REQUEST_APPROVED:
        how = "automatically" if request.auto_approved else f"by {decider(request)}"
        return f"✅ Your reward request {ref} was approved {how}. The orders are being placed."
    if kind == EventKind.REQUEST_EXPIRED:
        why = md.escape(reason or "nobody decided in time")
        return (
            f"⌛ Your reward request {ref} expired: {why}. Nothing was ordered, and what it "
            "held of your budget is yours again."
        )
    if kind == EventKind.REQUEST_REJECTED:  # the requester's DM: the one place the reason is shown
        by = decider(request)
        why = md.escape(request.decision_reason or "")
        return f"🚫 Your reward request {ref} was rejected by {by}: {why}"
    if kind == EventKind.REQUEST_NEEDS_APPROVAL:
        why = f": {md.escape(reason)}" if reason else ""
        return f"⏳ Your reward request {ref} needs an approver{why}"
    if order is None:
        return None
    if kind == EventKind.ORDER_FAILED:
        why = md.escape(reason or order.failure_reason or "")
        return (
            f"❌ {reward_phrase(order)} for {who(order)} ({ref}) could not be placed: {why}. "
            "It was not charged to your budget."
        )
    if kind == EventKind.ORDER_CANCELED:
        return (
            f"🚫 Xoxoday cancelled the delivery of {reward_phrase(order)} to {who(order)} "
            f"({ref}). The amount went back to your budget."
        )
    if kind == EventKind.ORDER_PARTIALLY_CANCELED:
        return (
            f"↩️ Xoxoday cancelled {order.cancelled_quantity} of {order.quantity} of "
            f"{reward_phrase(order)} for {who(order)} ({ref}); the rest is delivered. "
            "The cancelled share went back to your budget."
        )
    if kind == EventKind.ORDER_CODE_UNDELIVERED:
        return (
            f"⚠️ The code of {reward_phrase(order)} for {who(order)} ({ref}) never reached "
            f"them: {md.escape(reason or 'Slack did not take my message')}. The reward is "
            f"delivered and paid; {md.escape(how_to_get_the_code(order))}."
        )
    return None


def delegation_text(kind: str, approver_id: str, until: date, why: str | None = None) -> str:
    """The delegate's DM when an approver names them, or when it ends (`why`: the reason, when
    the approver did not end it themselves)."""
    if kind == EventKind.DELEGATION_SET:
        return (
            f"🔁 {mention(approver_id)} asked you to approve and reject reward requests in their "
            f"place until {day(until)}. Their approval asks and reminders come to you by DM, and "
            "the bot's Home tab shows what waits; the usual rules apply (never a request of "
            "yours or one that rewards you)."
        )
    because = f": {md.escape(why)}" if why else ""
    return f"🔁 You no longer stand in for {mention(approver_id)} as an approver{because}."
