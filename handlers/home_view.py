"""The App Home tab as plain data, from services.home.HomeData (tested as data).

Built from the same pieces as the messages (handlers/messages.py): the same summaries, status
words and escaping, and the same Approve / Reject buttons, which the same handler decides.
Never a voucher code: the Home shows what was received and when; codes stay in the DM.
A Home tab holds at most 100 blocks (https://docs.slack.dev/reference/views/home-tab-views);
the lists are capped well below that.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from handlers import ask_messages, choice_messages, dm_messages
from handlers import messages as msg
from handlers import mrkdwn as md
from handlers.ids import Action
from handlers.metadata import RequestRef
from services.budget import BudgetView
from services.home import HomeData, Received, Waiting
from services.resend import can_resend
from services.reward_types import is_kind, kind
from storage.models import OrderRow, RequestRow

Block = dict[str, Any]
RECEIVED_WORDS = {
    "placed": ("🚚", "on its way"),
    "delivered": ("✅", "delivered"),
    "canceled": ("🚫", "cancelled by Xoxoday"),
}


def _header(text: str) -> Block:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150], "emoji": True}}


def _divider() -> Block:
    return {"type": "divider"}


def budget_text(budget: BudgetView) -> str:
    """'*Your budget this month*: 500.00 USD; spent 100.00, waiting for approval 25.00, left
    375.00' (or no limit)."""
    cur = budget.currency
    parts = [f"spent {msg.money(budget.spent, cur)}"]
    if budget.held:
        parts.append(f"{msg.money(budget.held, cur)} held by requests waiting for approval")
    if budget.limit is None:
        return f"*Your budget this month*: no limit ({', '.join(parts)})"
    parts.append(f"*{msg.money(budget.left or Decimal(0), cur)} left*")
    return f"*Your budget this month*: {msg.money(budget.limit, cur)}; " + ", ".join(parts)


def _request_block(request: RequestRow, orders: list[OrderRow]) -> Block:
    status = msg.request_status(request, orders, with_reason=True)  # the requester's own view
    text = (
        f"*{request.ref}* · {msg.money(request.total_cost, request.currency)} · {status}\n"
        f"{msg.summary(request, orders)}\n{msg.slack_date(request.created_at)}"
    )
    block: Block = {
        "type": "section",
        "block_id": f"request:{request.id}",
        "text": {"type": "mrkdwn", "text": text[:3000]},
    }
    if request.state == "pending_approval":
        block["accessory"] = {
            "type": "button",
            "action_id": Action.CANCEL,
            "text": {"type": "plain_text", "text": "Cancel"},
            "value": RequestRef.of(request).dump(),
            "confirm": {
                "title": {"type": "plain_text", "text": f"Cancel {request.ref}?"},
                "text": {
                    "type": "plain_text",
                    "text": "Nothing is ordered, and what it holds of your budget is freed.",
                },
                "confirm": {"type": "plain_text", "text": "Cancel it"},
                "deny": {"type": "plain_text", "text": "Keep it"},
            },
        }
    return block


def _waiting_blocks(waiting: Waiting) -> list[Block]:
    request, orders = waiting.request, waiting.orders
    lines = [
        f"*{request.ref}* · {msg.money(request.total_cost, request.currency)} · "
        f"waiting since {msg.slack_date(request.waiting_since or request.created_at)}",
        msg.summary(request, orders),
    ]
    note = ask_messages.standing_in_note(waiting.acting_for)
    if note:
        lines.append(note)
    section: Block = {
        "type": "section",
        "block_id": f"waiting:{request.id}",
        "text": {"type": "mrkdwn", "text": "\n".join(lines)[:3000]},
    }
    return [section, msg.decision_buttons(request, block_id=f"decision:{request.id}")]


def _received_line(item: Received) -> str:
    order, request = item.order, item.request
    icon, words = RECEIVED_WORDS.get(order.state, ("🎁", order.state))
    when = msg.slack_date(order.settled_at or order.placed_at or order.created_at)
    return f"{icon} {msg.reward_phrase(order)} from {msg.requester(request)}, {words} {when}"


def _received_block(item: Received, reader: str) -> Block:
    """One reward received; with "Email my code again" beside a delivered code (the service
    checks, on the press, that the presser received it)."""
    block = msg._section(_received_line(item))
    if item.order.recipient_id == reader and can_resend(item.order):
        accessory = dm_messages.resend_element(item.order)
        block = {**block, "block_id": f"received:{item.order.id}", "accessory": accessory}
    return block


def _wallet_text(data: HomeData) -> str:
    wallet = data.wallet
    if wallet is None:
        return "*Xoxoday wallet*: not known yet (`/reward balance` asks Xoxoday)"
    text = (
        f"*Xoxoday wallet*: {msg.money(wallet.balance, wallet.currency)}, of which "
        f"{msg.money(wallet.committed, wallet.currency)} is committed to approved orders; "
        f"{msg.money(wallet.available, wallet.currency)} available "
        f"(as of {msg.slack_time(wallet.fetched_at)})"
    )
    if data.low and data.low_balance is not None:
        text += (
            f"\n⚠️ *The balance is under {msg.money(data.low_balance, wallet.currency)}*: "
            "top the wallet up before approving more."
        )
    return text


def _spend_text(spend: dict[str, Decimal], currency: str) -> str:
    if not spend:
        return "*Spent this month*: nothing approved yet"
    lines = [
        f"• {md.escape(_label(reward_type))}: {msg.money(amount, currency)}"
        for reward_type, amount in spend.items()
    ]
    total = sum(spend.values(), Decimal(0))
    return f"*Spent this month*: {msg.money(total, currency)}\n" + "\n".join(lines)


def _label(reward_type: str) -> str:
    """The kind's label; a kind this release no longer has, by its stored name."""
    return kind(reward_type).label if is_kind(reward_type) else reward_type


def home_view(data: HomeData) -> dict[str, Any]:
    """The Home tab of `data.user_id`."""
    blocks: list[Block] = [
        _header("🎁 Rewards"),
        msg._section(budget_text(data.budget)),
    ]
    notes = []
    if data.delegate is not None:
        d = data.delegate
        notes.append(f"🔁 {msg.mention(d.delegate_id)} stands in for you until {msg.day(d.until)}")
    notes += [
        f"🔁 You stand in for {msg.mention(d.approver_id)} until {msg.day(d.until)}"
        for d in data.standing_in_for
    ]
    if notes:
        blocks.append(msg._context(*notes[:10]))
    if data.to_choose:
        blocks += [_divider(), _header("Waiting for your choice")]
        for item in data.to_choose[:10]:
            blocks += choice_messages.home_offer(
                item.request, item.order, item.amount, item.expires_at
            )
    if data.decides:
        blocks += [_divider(), _header("Waiting for you")]
        if not data.waiting:
            blocks.append(msg._context("Nothing is waiting for your decision."))
        for waiting in data.waiting:
            blocks += _waiting_blocks(waiting)
        hidden = data.waiting_total - len(data.waiting)
        if hidden > 0:
            blocks.append(msg._context(f"… and {hidden} more, shown as the oldest are decided."))
        currency = data.wallet.currency if data.wallet else data.budget.currency
        blocks += [
            _divider(),
            msg._section(_wallet_text(data)),
            msg._section(_spend_text(data.spend, currency)),
        ]
    blocks += [_divider(), _header("Your requests")]
    if not data.requests:
        blocks.append(msg._context("No requests yet: type `/reward` to send one."))
    blocks += [_request_block(request, orders) for request, orders in data.requests]
    blocks += [_divider(), _header("Rewards you received")]
    if data.received:
        blocks += [_received_block(item, data.user_id) for item in data.received]
        blocks.append(msg._context("Codes and links are in your DM with the bot, only there."))
    else:
        blocks.append(msg._context("Nothing yet."))
    return {"type": "home", "blocks": blocks}
