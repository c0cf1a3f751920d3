"""The approval ask as plain data: what a reader deciding a request is shown, and the lines it
shares with the form, the Home tab and the digests (earlier rewards, who stands in for whom).

Who reads an ask is not always an approver: the approval channel's members are not all
approvers, and a delegate's ask outlives their delegation. So the builder takes what the
reader may see, decided by the caller through the one rule (services/visibility.py): which
earlier requests it may read in full (`visible`), whether the approvers' note (the wallet's
figures) or its public version, and whether the reader may still decide (`closed`: the
buttons give way to a sentence saying why not). Every piece of text a person or Xoxoday wrote
is escaped (handlers/mrkdwn.py).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from decimal import Decimal

from handlers import mrkdwn as md
from handlers.messages import (
    MAX_LISTED,
    Blocks,
    _context,
    _section,
    approval_line,
    day,
    decision_buttons,
    mention,
    money,
    requester,
    reward_phrase,
    slack_date,
    source_line,
    summary,
    who,
)
from services.delegation import Delegation
from services.duplicates import EarlierReward
from services.rewards import STATE_WORDS, UNATTENDED_SOURCES
from storage.models import OrderRow, RequestRow


def budget_line(request: RequestRow, spent: Decimal, budget: Decimal) -> str:
    return (
        f"{requester(request)} has committed {money(spent, request.currency)} of "
        f"{money(budget, request.currency)} this month, this included"
    )


def approval_message(
    request: RequestRow,
    orders: list[OrderRow],
    *,
    budget: tuple[Decimal, Decimal] | None = None,
    note: str = "",
    earlier: Sequence[EarlierReward] = (),
    visible: Collection[int] = (),
    stand_ins: Sequence[Delegation] = (),
    notes: Sequence[str] = (),
    closed: str = "",
) -> tuple[str, Blocks]:
    """The ask to the approvers; once decided, the buttons give way to the decision.

    `budget` is (committed this month, monthly budget) of the requester; `note` is why the
    request was not approved automatically, as plain words. While it waits: `earlier` are the
    recipients' earlier rewards (a warning, not a refusal), in full for the request ids in
    `visible` and by number only otherwise; `stand_ins` the running delegations (who may
    decide in whose place), `notes` mrkdwn lines built here (a reminder, an escalation, the
    reader standing in for someone). `closed` (mrkdwn built here): the reader may no longer
    decide it, and reads this in place of the buttons.
    """
    title = "needs approval" if request.state == "pending_approval" else "reward request"
    blocks: Blocks = [
        _section(f"🎁 *{request.ref} {title}*\n{summary(request, orders)}"),
        {
            "type": "section",
            "fields": [
                {
                    "type": "mrkdwn",
                    "text": f"*Cost*\n{money(request.total_cost, request.currency)}",
                },
                {"type": "mrkdwn", "text": f"*Recipients*\n{len(orders)}"},
            ],
        },
    ]
    details = [
        f"• {reward_phrase(o)} for {who(o)}: "
        f"{money(o.cost_estimate or Decimal(0), request.currency)}"
        for o in orders[:MAX_LISTED]
    ]
    if len(orders) > 1:
        blocks.append(_section("\n".join(details)))
    if note:
        blocks.append(_context(f"⚠️ {md.escape(note)}"))
    if request.source in UNATTENDED_SOURCES:
        by = request.confirmed_by  # the runner pressed Send (services/consent.py)
        confirmed = f"; {mention(by)} confirmed it by DM before anything was held" if by else ""
        blocks.append(
            _context(
                f"⚙️ Asked by a Workflow Builder step that {requester(request)} ran{confirmed}. "
                "The workflow's author chose the reward, so it always waits for an approver."
            )
        )
    if request.state == "pending_approval":
        if closed:
            blocks.append(_context(closed))
        else:
            _waiting_lines(blocks, request, earlier, visible, stand_ins, notes)
        budget_note = budget_line(request, *budget) if budget else ""
        blocks.append(
            _context(
                budget_note, f"Requested {slack_date(request.created_at)}", source_line(request)
            )
        )
        return (
            f"{request.ref} needs approval: {money(request.total_cost, request.currency)}",
            blocks,
        )
    # Decided: the reject reason is the requester's (their DM), not the channel's.
    blocks.append(_section(approval_line(request)))
    if source_line(request):
        blocks.append(_context(source_line(request)))
    return f"{request.ref}: {approval_line(request)}", blocks


def _waiting_lines(
    blocks: Blocks,
    request: RequestRow,
    earlier: Sequence[EarlierReward],
    visible: Collection[int],
    stand_ins: Sequence[Delegation],
    notes: Sequence[str],
) -> None:
    if earlier:
        lines = [duplicate_line(e, detailed=e.request.id in visible) for e in earlier]
        blocks.append(_section("\n".join(lines[:MAX_LISTED])))
    if stand_ins:
        blocks.append(_context(stand_ins_line(stand_ins)))
    for line in notes:
        blocks.append(_context(line))
    blocks.append(decision_buttons(request))


# --- the approval schedule, delegation, earlier rewards -------------------------------------------


def duplicate_line(earlier: EarlierReward, *, detailed: bool = True) -> str:
    """A warning, not a refusal: the recipient was rewarded a moment ago, in which request.
    What it was, who asked and where it stands only for those who may see that request (its
    requester, the approvers): to anyone else it names the request and nothing more."""
    order, request = earlier.order, earlier.request
    if not detailed:
        return f"⚠️ {who(order)} was already rewarded recently ({request.ref})"
    state = STATE_WORDS.get(request.state, request.state)
    return (
        f"⚠️ {who(order)} was already rewarded in {request.ref} ({reward_phrase(order)}, "
        f"asked by {requester(request)} {slack_date(request.created_at)}, {state})"
    )


def stand_ins_line(delegations: Sequence[Delegation]) -> str:
    parts = [
        f"{mention(d.delegate_id)} stands in for {mention(d.approver_id)} until {day(d.until)}"
        for d in delegations
    ]
    return "🔁 " + "; ".join(parts)


def standing_in_note(approver_id: str | None) -> str:
    """For a delegate: whose place they take when they decide."""
    return f"🔁 You stand in for {mention(approver_id)} here." if approver_id else ""


def no_longer_note(approver_id: str | None) -> str:
    """For someone asked who may no longer decide (their delegation ended, or they are no
    longer an approver): in place of the buttons, which could only be refused."""
    if approver_id:
        who_for = mention(approver_id)
        return f"🔁 You no longer stand in for {who_for}: the approvers decide this one."
    return "🔁 You can no longer decide this request: the approvers decide it."
