"""Who may approve, and how much may be spent: the company's rules, from configuration."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Protocol

from services.errors import (
    DeciderUnknown,
    OverBudget,
    OverOrderLimit,
    SelfApproval,
    TooManyWaiting,
)
from services.money import fmt_money


class PeopleDirectory(Protocol):
    """Who a chat user is, as far as the rules need it (the Slack side implements it)."""

    def email_of(self, user_id: str) -> str | None:
        """The person's email as the workspace knows it; None when it has none.

        Raises DeciderUnknown when it cannot be known right now.
        """
        ...

    def is_active(self, user_id: str, *, fresh: bool = False) -> bool | None:
        """False when the person's account is deactivated (or unknown to the workspace), True
        when active, None when it cannot be known right now. `fresh`: ask the workspace now
        rather than trust what it said earlier (a decision); otherwise only what is already
        known is used, without waiting on anyone (a round of the scheduler)."""
        ...


def same_email(a: str | None, b: str | None) -> bool:
    """Email addresses compared as mail servers treat them in practice: case-blind."""
    return bool(a and b) and a.strip().lower() == b.strip().lower()  # type: ignore[union-attr]


@dataclass(frozen=True)
class Policy:
    approvers: frozenset[str] = field(default_factory=frozenset)
    # Asked too once a request has waited REWARDS_ESCALATE_AFTER; they decide it from then on.
    escalation_approvers: frozenset[str] = field(default_factory=frozenset)
    auto_approve_max: Decimal = Decimal(0)  # 0: every request needs approval
    monthly_budget: Decimal | None = None  # per requester, per calendar month
    max_order: Decimal | None = None  # largest single order
    max_waiting: int | None = 20  # requests one requester may have waiting at once

    def auto_approves(self, total: Decimal) -> bool:
        """Within the auto-approve limit. Never without a monthly budget: with no budget,
        anyone could split a large reward into requests under the limit without end (the
        configuration refuses that combination at start-up; this holds whatever built us)."""
        return (
            self.auto_approve_max > 0
            and self.monthly_budget is not None
            and total <= self.auto_approve_max
        )

    def check_order(self, cost: Decimal, currency: str, label: str = "this order") -> None:
        if self.max_order is not None and cost > self.max_order:
            raise OverOrderLimit(
                f"{label} costs {fmt_money(cost, currency)}, over the "
                f"{fmt_money(self.max_order, currency)} limit for a single order"
            )

    def check_budget(self, already: Decimal, adding: Decimal, currency: str) -> None:
        """`already`: the requester's committed total this month, without `adding`."""
        if self.monthly_budget is None:
            return
        if already + adding > self.monthly_budget:
            left = max(self.monthly_budget - already, Decimal(0))
            raise OverBudget(
                f"this request costs {fmt_money(adding, currency)} but only "
                f"{fmt_money(left, currency)} of your "
                f"{fmt_money(self.monthly_budget, currency)} monthly budget is left"
            )

    def check_waiting(self, waiting: int) -> None:
        """`waiting`: the requester's requests waiting for approval now, without the new one.
        Each asks every approver (and their delegates) by post and DM, so one person's flood
        of requests is refused here rather than delivered to everyone."""
        if self.max_waiting is not None and waiting >= self.max_waiting:
            raise TooManyWaiting(
                f"you have {waiting} requests waiting for approval, the most one person may "
                "have at once; send this one when some are decided, or cancel one "
                "(`/reward cancel R-n`)",
                field="request",
            )

    def is_approver(self, user_id: str) -> bool:
        return user_id in self.approvers

    def may_approve(self, user_id: str, *, escalated: bool) -> bool:
        """An approver in their own right: always, or once escalated for escalation approvers."""
        return user_id in self.approvers or (escalated and user_id in self.escalation_approvers)

    def check_not_rewarded(
        self,
        user_id: str,
        recipient_ids: Iterable[str | None],
        recipient_emails: Iterable[str | None],
        email_of: Callable[[str], str | None] | None,
    ) -> None:
        """Nobody decides a request that rewards them: a Slack recipient by member id, a
        recipient known only by email (a CSV row) by the decider's own email.

        `email_of` is asked only when some recipient is known by email alone; None means
        there is no directory (an operator's shell), where only member ids can be compared.
        """
        if user_id in set(recipient_ids):
            raise SelfApproval("you cannot approve or reject a request that rewards you")
        emails = [e for e in recipient_emails if e]
        if not emails or email_of is None:
            return
        own = email_of(user_id)
        if not own:
            raise DeciderUnknown(
                "your profile shows no email, so the bot cannot check that this request "
                "does not reward you; ask another approver"
            )
        if any(same_email(own, email) for email in emails):
            raise SelfApproval("you cannot approve or reject a request that rewards you")
