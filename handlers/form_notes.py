"""What the /reward modal tells the requester beside the fields: their budget left this month,
and a warning when a chosen recipient was rewarded within REWARDS_DUPLICATE_WINDOW.

Both are read from SQLite only, so they can be computed before an ack (the modal opens on a
trigger that lasts 3 s). The warning never blocks: the request can still be sent, and the
approvers see the same warning on the approval ask.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from handlers import ask_messages
from handlers import messages as msg
from services.budget import BudgetView
from services.duplicates import EarlierReward

if TYPE_CHECKING:
    from handlers.deps import Deps


@dataclass(frozen=True)
class FormNotes:
    budget: BudgetView | None = None
    earlier: Sequence[EarlierReward] = field(default_factory=tuple)
    # Request ids whose details the person filling the form may see (/reward status rules).
    visible: frozenset[int] = frozenset()

    def budget_blocks(self) -> list[dict[str, Any]]:
        if self.budget is None:
            return []
        return [msg._context(budget_line(self.budget))]

    def duplicate_blocks(self) -> list[dict[str, Any]]:
        if not self.earlier:
            return []
        lines = [
            ask_messages.duplicate_line(e, detailed=e.request.id in self.visible)
            for e in self.earlier[: msg.MAX_LISTED]
        ]
        return [
            msg._section("\n".join(lines)),
            msg._context("You can still send it; the approvers see this note too."),
        ]


def budget_line(budget: BudgetView) -> str:
    cur = budget.currency
    held = (
        f" ({msg.money(budget.held, cur)} of it held by requests waiting for approval)"
        if budget.held
        else ""
    )
    if budget.limit is None or budget.left is None:
        return f"💰 No monthly limit; you have committed {msg.money(budget.committed, cur)}{held}"
    return (
        f"💰 *{msg.money(budget.left, cur)} left* of your {msg.money(budget.limit, cur)} "
        f"budget this month{held}"
    )


def form_notes(deps: Deps, user_id: str, recipients: Sequence[str]) -> FormNotes:
    earlier = deps.duplicates.earlier(recipients) if deps.duplicates and recipients else []
    # Decided without Slack (this runs before an ack), by the rule of /reward status
    # (services/visibility.py): who may see the earlier request sees what it was; anyone
    # else only that there was one.
    sees = deps.rewards.visibility.sees_request
    visible = frozenset(
        e.request.id
        for e in earlier
        if sees(user_id, e.request, deps.rewards.recipient_ids(e.request.id))
    )
    return FormNotes(deps.budget(user_id), tuple(earlier), visible)
