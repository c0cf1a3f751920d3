"""Who may approve, and how much may be spent: the company's rules, from configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

from services.errors import NotAnApprover, OverBudget, OverOrderLimit, SelfApproval
from services.money import fmt_money


@dataclass(frozen=True)
class Policy:
    approvers: frozenset[str] = field(default_factory=frozenset)
    auto_approve_max: Decimal = Decimal(0)  # 0: every request needs approval
    monthly_budget: Decimal | None = None  # per requester, per calendar month
    max_order: Decimal | None = None  # largest single order

    def auto_approves(self, total: Decimal) -> bool:
        return self.auto_approve_max > 0 and total <= self.auto_approve_max

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

    def is_approver(self, user_id: str) -> bool:
        return user_id in self.approvers

    def check_approver(self, user_id: str, requester_id: str) -> None:
        if user_id == requester_id:
            raise SelfApproval("you cannot approve or reject your own request")
        if not self.is_approver(user_id):
            raise NotAnApprover("only the configured approvers can approve or reject rewards")
