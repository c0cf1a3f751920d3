"""Who may see what: the company's figures and other people's requests. One rule, asked by
every surface (the Home tab, `/reward balance`, `/reward status`, the form's duplicate
warning, the workflow step `reward_status`), from the signed user id.

Each surface had its own test, and they disagreed: escalation approvers and delegates saw the
wallet and the company's spend on the Home before anything was escalated while `/reward
balance` refused them, and an escalation approver read any earlier request's details in the
form's duplicate warning while `/reward status` refused them the same request.

The rule (written down in the README, "Who sees what"):

- **The company's figures** (the Xoxoday wallet balance, what approved orders have committed,
  this month's spend by kind) are for the people who decide requests: the approvers
  (REWARDS_APPROVERS); an escalation approver (REWARDS_ESCALATION_APPROVERS) while a waiting
  request has reached its escalation time; and a running delegate of either, while the one
  they stand in for sees them.
- **A request's details** (what, for whom, the cost, the decision and its reason) are for its
  requester, the approvers, whoever decided it (and the approver they stood in for), and
  whoever may decide it now (services/delegation.py: an escalation approver once it is
  escalated, a running delegate). A recipient sees their own reward in it, nothing else of it
  (RewardService.view_for). Anyone else learns nothing, not even that it exists, except that a
  recipient they chose in the form was rewarded recently, under which request number.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection

from services.deadlines import is_escalated
from services.delegation import Deciders
from services.errors import PolicyRefusal
from services.policy import Policy
from storage import requests as request_store
from storage.db import Database
from storage.models import RequestRow


class Visibility:
    def __init__(
        self,
        database: Database,
        policy: Policy,
        deciders: Deciders,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.policy = policy
        self.deciders = deciders
        self._clock = clock

    def sees_company(self, user_id: str) -> bool:
        """The wallet balance and the company's spend (see the module's docstring)."""
        if self._sees_company_in_own_right(user_id):
            return True
        delegations = self.deciders.delegations
        if delegations is None:
            return False
        return any(
            self._sees_company_in_own_right(d.approver_id)
            for d in delegations.standing_in_for(user_id)
        )

    def sees_request(
        self, user_id: str, request: RequestRow, recipient_ids: Collection[str | None]
    ) -> bool:
        """The whole of `request` (see the module's docstring); `recipient_ids` are its
        recipients' member ids."""
        if user_id == request.requester_id or self.policy.is_approver(user_id):
            return True
        if user_id in (request.decided_by, request.decided_for):
            return True
        if request.state != "pending_approval" or user_id in recipient_ids:
            return False
        try:
            self.deciders.acting_for(user_id, request, recipient_ids)
        except PolicyRefusal:
            return False
        return True

    def _sees_company_in_own_right(self, user_id: str) -> bool:
        if self.policy.is_approver(user_id):
            return True
        if user_id not in self.policy.escalation_approvers:
            return False
        now = self._clock()
        schedule = self.deciders.schedule
        return any(
            is_escalated(request, schedule, now) for request in request_store.waiting(self.database)
        )
