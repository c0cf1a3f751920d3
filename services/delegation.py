"""Delegation, and who may decide a request.

An approver (REWARDS_APPROVERS, or REWARDS_ESCALATION_APPROVERS) names a delegate until a day:
`/reward delegate @someone until 2026-12-24`. Until the end of that day (UTC) the delegate may
approve and reject in their place, under every rule the approver has: never a request the
delegate asked for or that rewards them, and never one the approver could not decide either
(their own request, a reward to them, one not yet escalated to an escalation approver).
Only direct delegations count: a delegate's own delegate does not stand in for the approver.

`Deciders` is the one place that answers "may this person decide this request, and for whom";
RewardService asks it with the user id of the signed payload on every path that decides.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

from services.deadlines import Schedule, is_escalated
from services.errors import InvalidDelegation, NotAnApprover, PolicyRefusal, SelfApproval
from services.policy import Policy
from storage import delegations as store
from storage import events
from storage.db import Database
from storage.delegations import DelegationRow
from storage.models import EventKind, RequestRow

MAX_DAYS = 366  # a delegation ends within a year: a mistyped year is refused, not kept

# Why a delegation ended, in words for the delegate's DM (storage keeps them in the event).
REPLACED = "they named someone else to stand in for them"
LAST_DAY_PASSED = "its last day, {day}, has passed"
NO_LONGER_APPROVER = "they are no longer an approver"
DEACTIVATED = "their Slack account is deactivated"


@dataclass(frozen=True)
class Delegation:
    approver_id: str
    delegate_id: str
    until: date  # the last day (UTC) the delegate stands in

    @classmethod
    def of(cls, row: DelegationRow) -> Delegation:
        return cls(row.approver_id, row.delegate_id, date.fromisoformat(row.until))


class Delegations:
    def __init__(
        self, database: Database, policy: Policy, *, clock: Callable[[], float] = time.time
    ) -> None:
        self.database = database
        self.policy = policy
        self._clock = clock

    def today(self) -> date:
        return datetime.fromtimestamp(self._clock(), UTC).date()

    def may_delegate(self, user_id: str) -> bool:
        return user_id in self.policy.approvers or user_id in self.policy.escalation_approvers

    def set(self, approver_id: str, delegate_id: str, until: date) -> Delegation:
        """`approver_id` (from the signed payload) names `delegate_id` until `until`."""
        if not self.may_delegate(approver_id):
            raise NotAnApprover("only approvers can name someone to stand in for them")
        if delegate_id == approver_id:
            raise InvalidDelegation("name someone else: you already approve for yourself")
        today = self.today()
        if until < today:
            raise InvalidDelegation(f"{until.isoformat()} has passed; give a day from today on")
        if until > today + timedelta(days=MAX_DAYS):
            raise InvalidDelegation(
                f"a delegation lasts at most a year; give a day up to "
                f"{(today + timedelta(days=MAX_DAYS)).isoformat()}"
            )
        with self.database.tx() as db:
            before = store.current(self.database, approver_id)
            if before is not None and before.delegate_id != delegate_id:
                # The one it replaces is told, and their Home changes (services/notify.py).
                self._ended(db, before, approver_id, self._why_replaced(before))
            row = store.put(db, approver_id, delegate_id, until.isoformat())
            events.append(
                db,
                EventKind.DELEGATION_SET,
                actor=approver_id,
                data={"approver": approver_id, "delegate": delegate_id, "until": row.until},
            )
        return Delegation.of(row)

    def off(self, approver_id: str) -> Delegation | None:
        """End `approver_id`'s delegation; the one ended, or None when there was none."""
        with self.database.tx() as db:
            row = store.remove(db, approver_id)
            if row is None:
                return None
            self._ended(db, row, approver_id, None)
        return Delegation.of(row)

    def end(self, row: DelegationRow, reason: str, actor: str = "policy") -> bool:
        """End the delegation `row` for `reason` (words for the delegate), if it is still the
        one recorded; False when it changed or ended meanwhile."""
        with self.database.tx() as db:
            if not store.remove_exactly(db, row):
                return False
            self._ended(db, row, actor, reason)
        return True

    def end_lapsed(self, is_active: Callable[[str], bool | None] | None = None) -> int:
        """End every delegation that no longer holds: its last day has passed, its approver is
        no longer an approver (REWARDS_APPROVERS or REWARDS_ESCALATION_APPROVERS changed), or,
        as far as `is_active` knows, their account was deactivated. Each delegate is told and
        their Home changes (a delegation.ended event). Returns how many ended."""
        today = self.today().isoformat()
        ended = 0
        for row in store.every(self.database):
            reason = None
            if row.until < today:
                reason = LAST_DAY_PASSED.format(day=row.until)
            elif not self.may_delegate(row.approver_id):
                reason = NO_LONGER_APPROVER
            elif is_active is not None and is_active(row.approver_id) is False:
                reason = DEACTIVATED
            if reason is not None and self.end(row, reason):
                ended += 1
        return ended

    def _why_replaced(self, before: DelegationRow) -> str:
        if before.until < self.today().isoformat():
            return LAST_DAY_PASSED.format(day=before.until)
        return REPLACED

    @staticmethod
    def _ended(db: Any, row: DelegationRow, actor: str, reason: str | None) -> None:
        events.append(
            db,
            EventKind.DELEGATION_ENDED,
            actor=actor,
            reason=reason,
            data={"approver": row.approver_id, "delegate": row.delegate_id, "until": row.until},
        )

    def of(self, approver_id: str) -> Delegation | None:
        """The approver's running delegation."""
        row = store.of(self.database, approver_id, self.today().isoformat())
        return Delegation.of(row) if row else None

    def row_of(self, approver_id: str) -> DelegationRow | None:
        """The approver's delegation as recorded (to end it exactly), dated out or not."""
        return store.current(self.database, approver_id)

    def standing_in_for(self, delegate_id: str) -> list[Delegation]:
        """The running delegations that name `delegate_id`."""
        rows = store.for_delegate(self.database, delegate_id, self.today().isoformat())
        return [Delegation.of(row) for row in rows]

    def running(self) -> list[Delegation]:
        return [
            Delegation.of(row) for row in store.running(self.database, self.today().isoformat())
        ]


class Deciders:
    """Who may decide a request now, and on whose behalf (see the module's docstring).

    "Now" is the clock's (services/deadlines.py): escalation approvers decide from the
    escalation time whether or not the scheduler has marked the request escalated."""

    def __init__(
        self,
        policy: Policy,
        delegations: Delegations | None = None,
        *,
        schedule: Schedule | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.policy = policy
        self.delegations = delegations
        self.schedule = schedule
        self._clock = clock

    def _own_right(self, user_id: str, request: RequestRow, now: float) -> bool:
        return user_id != request.requester_id and self.policy.may_approve(
            user_id, escalated=is_escalated(request, self.schedule, now)
        )

    def acting_for(
        self,
        user_id: str,
        request: RequestRow,
        rewarded: Collection[str | None] = (),
        *,
        now: float | None = None,
        standing: list[Delegation] | None = None,
    ) -> str | None:
        """None when `user_id` decides as an approver; the approver they stand in for when
        they decide as a delegate. PolicyRefusal when they may not decide `request` at `now`
        (default: the clock's time). `standing`: `user_id`'s running delegations, when the
        caller read them already (a Home deciding many requests reads them once).

        `rewarded` are the recipients' member ids: an approver among them is never stood in
        for. The person deciding is checked against the recipients by the caller
        (RewardService.check_decider), and so is the approver stood in for, by email too.
        """
        now = self._clock() if now is None else now
        if user_id == request.requester_id:
            raise SelfApproval("you cannot approve or reject your own request")
        if self._own_right(user_id, request, now):
            return None
        if standing is None:
            standing = self.delegations.standing_in_for(user_id) if self.delegations else []
        for delegation in standing:
            principal = delegation.approver_id
            if principal not in rewarded and self._own_right(principal, request, now):
                return principal
        if any(d.approver_id == request.requester_id for d in standing):
            raise SelfApproval(
                "you stand in for the person who asked for this reward; another approver decides"
            )
        if any(d.approver_id in rewarded for d in standing):
            raise SelfApproval(
                "you stand in for someone this request rewards; another approver decides"
            )
        waiting_escalation = user_id in self.policy.escalation_approvers or any(
            d.approver_id in self.policy.escalation_approvers for d in standing
        )
        if waiting_escalation and not is_escalated(request, self.schedule, now):
            raise NotAnApprover(
                f"R-{request.id} has not been escalated; its approvers decide it for now"
            )
        raise NotAnApprover("only the configured approvers can approve or reject rewards")

    def candidates(
        self, request: RequestRow, recipient_ids: Collection[str | None] = ()
    ) -> list[tuple[str, str | None]]:
        """Everyone who may decide `request` now, as (person, approver stood in for): the
        approvers, the escalation approvers once it is escalated, and the running delegates;
        without the requester and the recipients (by member id), for whom a click would be
        refused. The order is stable (by person)."""
        people = set(self.policy.approvers) | set(self.policy.escalation_approvers)
        if self.delegations is not None:
            people |= {d.delegate_id for d in self.delegations.running()}
        rewarded = {r for r in recipient_ids if r}
        found: list[tuple[str, str | None]] = []
        now = self._clock()
        for person in sorted(people - rewarded):
            try:
                found.append((person, self.acting_for(person, request, rewarded, now=now)))
            except PolicyRefusal:
                continue
        return found
