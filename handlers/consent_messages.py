"""What the person who ran a workflow reads before its `send_reward` step spends their budget
(services/consent.py): the question with Send and Don't send, and its last word once answered.

Pure Block Kit builders, tested as data. Everything a workflow's author typed (the message,
a product's name from the catalog) is escaped: the runner must read what the workflow asks
for, not what its author dressed it up as.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from handlers import mrkdwn as md
from handlers.ids import Action, Block
from handlers.messages import _context, _section, fit_text, mention, money
from services.budget import BudgetView
from services.money import fmt_amount

Blocks = list[dict[str, Any]]


@dataclass(frozen=True)
class ConsentAsk:
    """What a send_reward step asks the runner to confirm."""

    execution_id: str
    workflow_execution_id: str | None
    recipient: str  # a member id
    product: str  # the product's name
    amount: Decimal
    product_currency: str
    cost: Decimal  # what it takes from the runner's budget, in the wallet's currency
    currency: str
    message: str  # what the workflow's author wrote
    budget: BudgetView | None = None


def _what(ask: ConsentAsk) -> str:
    amount = md.escape(f"{fmt_amount(ask.amount)} {ask.product_currency}".strip())
    return f"*{md.escape(ask.product)}* ({amount})"


def _budget_line(ask: ConsentAsk) -> str:
    budget = ask.budget
    if budget is None or budget.limit is None or budget.left is None:
        return f"It costs your budget {money(ask.cost, ask.currency)}."
    return (
        f"It costs your budget {money(ask.cost, ask.currency)}: "
        f"{money(budget.left, ask.currency)} of your {money(budget.limit, ask.currency)} "
        "are left this month."
    )


def consent_text(ask: ConsentAsk) -> str:
    return fit_text(
        f"A workflow you ran asks to send {md.escape(ask.product)} to {mention(ask.recipient)} "
        f"from your budget ({money(ask.cost, ask.currency)}). Send it?"
    )


def consent_ask(ask: ConsentAsk) -> tuple[str, Blocks]:
    """The DM with Send and Don't send (posted with the step's token, so the click ends it)."""
    run = f" (run `{md.escape(ask.workflow_execution_id)}`)" if ask.workflow_execution_id else ""
    lines = [
        "🎁 *A workflow you ran wants to send a reward from your budget*",
        f"*What:* {_what(ask)}",
        f"*To:* {mention(ask.recipient)}",
        f"*From:* a Workflow Builder step you ran{run}; its author chose the reward",
        _budget_line(ask),
    ]
    if ask.message:
        lines.append(f"*Its message:* {md.escape(fit_text(ask.message, 500))}")
    blocks: Blocks = [
        _section("\n".join(lines)),
        _context(
            "Nothing is held or shown to the approvers until you press *Send*; an approver "
            "then decides, as for any request. Without an answer within a day, nothing is sent."
        ),
        {
            "type": "actions",
            "block_id": Block.CONSENT,
            "elements": [
                _button("Send", Action.CONSENT_SEND, ask.execution_id, "primary"),
                _button("Don't send", Action.CONSENT_DECLINE, ask.execution_id, "danger"),
            ],
        },
    ]
    return consent_text(ask), blocks


def _button(label: str, action: str, value: str, style: str) -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action,
        "text": {"type": "plain_text", "text": label, "emoji": True},
        "value": value,
        "style": style,
    }


def consent_answered(outcome: str, detail: str = "") -> tuple[str, Blocks]:
    """The DM's last word: the buttons give way to what happened. `outcome`: sent, declined,
    expired, lapsed (Send failed unexpectedly and was not got through in time) or refused;
    `detail`: the request's reference (sent) or why (refused)."""
    if outcome == "sent":
        text = f"✅ Sent for approval as {md.escape(detail)}: an approver decides it now."
    elif outcome == "declined":
        text = "🚫 Not sent: you chose Don't send. Nothing was held or recorded."
    elif outcome == "expired":
        text = "⌛ Not sent: nobody pressed Send within a day. Nothing was held or recorded."
    elif outcome == "lapsed":
        text = (
            "⌛ Not sent: Send was pressed but the request could not be recorded within a day. "
            "Nothing was held or recorded."
        )
    else:
        text = f"⚠️ Not sent: {md.escape(detail)}. Nothing was held or recorded."
    return text, [_section(text)]
