"""What people read about a recipient's choice, as plain Block Kit data.

The recipient's DM offers the reward with "Choose my reward" (and its reminders repeat it);
once they chose, or the offer expired, that DM is updated in place and the button goes. The
requester hears of an expiry by DM; the request's thread gets a line for each choice made or
expired (the channel sees the choice's cost, never a code). Text anyone typed is escaped.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from handlers import messages as msg
from handlers import mrkdwn as md
from handlers.ids import Action
from handlers.metadata import ChoiceRef
from services.money import fmt_money
from storage.models import EventKind, EventRow, OrderRow, RequestRow

Blocks = list[dict[str, Any]]
CHOOSE_TEXT = "Choose my reward"


def choose_button(order: OrderRow, block_id: str = "choose") -> dict[str, Any]:
    """The button that opens the choice: the same in the DM, its reminders and the Home."""
    return {
        "type": "actions",
        "block_id": block_id,
        "elements": [
            {
                "type": "button",
                "action_id": Action.CHOOSE,
                "text": {"type": "plain_text", "text": CHOOSE_TEXT},
                "style": "primary",
                "value": ChoiceRef(order_id=order.id).dump(),
            }
        ],
    }


def given(amount: Decimal, currency: str | None) -> str:
    return msg.money(amount, currency)


def offer_message(
    request: RequestRow,
    order: OrderRow,
    amount: Decimal,
    expires_at: float | None,
    *,
    reminder: tuple[int, int] | None = None,
) -> tuple[str, Blocks]:
    """The recipient's DM (or its reminder, `reminder` = (round, of)) with the button."""
    what = f"*{given(amount, request.currency)}*"
    if reminder is None:
        head = (
            f"🎁 {msg.requester(request)} gave you {what} to spend on a gift card you choose, "
            "sold where you live."
        )
    else:
        head = (
            f"⏰ Reminder: you have {what} from {msg.requester(request)} to spend on a gift "
            "card of your choice."
        )
    lines = [head]
    if request.message and reminder is None:
        lines.append(md.quote(request.message))
    blocks: Blocks = [msg._section("\n".join(lines)), choose_button(order)]
    if expires_at is not None:
        blocks.append(
            msg._context(
                f"Choose by {msg.slack_time(expires_at)}; after that it goes back to "
                f"{msg.requester(request)}'s budget. The code comes here, by DM."
            )
        )
    return head[: msg.TEXT_MAX], blocks


def offer_closed(
    request: RequestRow, order: OrderRow, amount: Decimal, *, expired: bool
) -> tuple[str, Blocks]:
    """The same DM once the offer ended: what was chosen, or that it expired."""
    if expired:
        text = (
            f"⌛ The {given(amount, request.currency)} from {msg.requester(request)} expired "
            "before you chose a reward; it went back to their budget."
        )
    elif order.state == "withdrawn":
        text = (
            f"➖ The {given(amount, request.currency)} from {msg.requester(request)} was withdrawn."
        )
    else:
        text = (
            f"✅ You chose {msg.reward_phrase(order)} with the "
            f"{given(amount, request.currency)} from {msg.requester(request)}. "
            "The code comes here, by DM."
        )
    return text[: msg.TEXT_MAX], [msg._section(text)]


def approved_to_requester(request: RequestRow) -> str:
    """The requester's DM at approval when the recipients choose first."""
    how = "automatically" if request.auto_approved else f"by {msg.decider(request)}"
    return (
        f"✅ Your reward request {request.ref} was approved {how}. Each recipient now chooses "
        "their gift card; what they do not spend comes back to your budget."
    )


def choice_failed(request: RequestRow, order: OrderRow, reason: str | None) -> str:
    """To a recipient whose chosen gift card could not be ordered."""
    why = md.escape(reason or order.failure_reason or "Xoxoday refused it")
    return (
        f"❌ {msg.reward_phrase(order)}, which you chose, could not be ordered: {why}. "
        f"{msg.requester(request)} was told; nothing was charged."
    )


def expired_to_requester(request: RequestRow, order: OrderRow, amount: Decimal) -> str:
    return (
        f"⌛ {msg.who(order)} did not choose their reward ({request.ref}) in time: the "
        f"{given(amount, request.currency)} went back to your budget."
    )


def event_line(event: EventRow, order: OrderRow | None, request: RequestRow) -> str | None:
    """The request thread's line for a choice event (None: not a choice event, or silent)."""
    if order is None or not event.kind.startswith("choice."):
        return None
    if event.kind == EventKind.CHOICE_MADE:
        change = _decimal(event.data.get("change"))
        back = (
            f"; {msg.money(change, request.currency)} went back to the budget"
            if change is not None and change > 0
            else ""
        )
        cost = _decimal(event.data.get("cost"))
        about = f", about {msg.money(cost, request.currency)}" if cost is not None else ""
        amount = md.escape(fmt_money(order.denomination, order.product_currency))
        name = md.escape(order.product_name or str(order.product_id))
        return f"🎁 {msg.who(order)} chose *{name}* ({amount}{about}){back}"
    if event.kind == EventKind.CHOICE_EXPIRED:
        amount = _decimal(event.data.get("given"))
        back = f": {msg.money(amount, request.currency)} went back" if amount is not None else ""
        why = md.escape(event.reason or "not chosen in time")
        return f"⌛ {msg.who(order)}'s choice expired ({why}){back}"
    return None


def home_offer(
    request: RequestRow, order: OrderRow, amount: Decimal, expires_at: float | None
) -> Blocks:
    """One offer on the recipient's Home tab ("Waiting for your choice")."""
    line = f"*{given(amount, request.currency)}* from {msg.requester(request)}"
    if expires_at is not None:
        line += f" · choose by {msg.slack_time(expires_at)}"
    return [msg._section(line), choose_button(order, block_id=f"choose:{order.id}")]


def _decimal(value: object) -> Decimal | None:
    if value in (None, ""):
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None
