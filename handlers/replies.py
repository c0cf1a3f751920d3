"""The answers to `/reward <text>` (help, history, status, balance, delegate), as plain mrkdwn
text built from rows; whatever a person typed or Xoxoday wrote is escaped (handlers/mrkdwn.py).
"""

from __future__ import annotations

from decimal import Decimal

from handlers import mrkdwn as md
from handlers.messages import (
    MAX_LISTED,
    day,
    mention,
    money,
    order_line,
    progress,
    request_status,
    slack_date,
    summary,
)
from services.delegation import Delegation
from storage.models import OrderRow, RequestRow


def help_text(is_approver: bool) -> str:
    lines = [
        "*Rewards Bot*: send gift cards, airline miles, charity donations and mobile top-ups.",
        "• `/reward`: open the form",
        "• `/reward status R-12` (or a poNumber): where a request stands",
        "• `/reward history`: your recent requests",
        "• `/reward cancel R-12`: cancel your request while it waits for approval",
    ]
    if is_approver:
        lines.append("• `/reward balance`: the Xoxoday wallet balance (approvers)")
        lines.append(
            "• `/reward delegate @someone until 2026-12-24`: someone approves in your place "
            "until that day; `/reward delegate off` ends it (approvers)"
        )
    lines.append("• `/reward help`: this message")
    return "\n".join(lines)


def history_text(requests: list[RequestRow]) -> str:
    if not requests:
        return "You have no reward requests yet. Type `/reward` to send one."
    lines = ["*Your recent reward requests*"]
    for request in requests:
        state = request.state.replace("_", " ")
        lines.append(
            f"• {request.ref}: {money(request.total_cost, request.currency)}, {state}, "
            f"{slack_date(request.created_at)}"
        )
    return "\n".join(lines)


def status_text(request: RequestRow, orders: list[OrderRow], *, whole: bool = True) -> str:
    """`/reward status`: `orders` are those the reader may see; `whole` (requester and
    approvers) adds the reject reason, which a recipient never sees."""
    status = request_status(request, orders, with_reason=whole)
    lines = [f"*{request.ref}*: {status}", summary(request, orders)]
    lines += [f"{order_line(o)} ({md.escape(o.po_number)})" for o in orders[:MAX_LISTED]]
    if len(orders) > MAX_LISTED:
        lines.append(f"… {progress(orders)}")
    return "\n".join(lines)


def balance_text(balance: Decimal, committed: Decimal, currency: str) -> str:
    return (
        f"*Xoxoday wallet*: {money(balance, currency)}, of which "
        f"{money(committed, currency)} is committed to approved orders not yet placed; "
        f"{money(balance - committed, currency)} available."
    )


def delegate_reply(delegation: Delegation | None, *, ended: bool = False) -> str:
    """The answer to /reward delegate …"""
    if delegation is None:
        return "You have no one standing in for you." if ended else ""
    who_ = mention(delegation.delegate_id)
    if ended:
        return f"{who_} no longer stands in for you."
    return (
        f"🔁 {who_} can approve and reject in your place until {day(delegation.until)} "
        "(end of that day, UTC). `/reward delegate off` ends it sooner."
    )
