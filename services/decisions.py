"""Deciding reward requests: who may decide (services/delegation.py), approve, reject, cancel,
expire, and the automatic approval within the limit; each a compare-and-set in one
transaction with the budget, the wallet's funds and the clock (services/deadlines.py).

The deciding half of RewardService (services/rewards.py records requests); kept apart so each
module says one thing. It works on the service's database, policy, wallet, people, deciders,
schedule and clock.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from services.deadlines import Schedule, is_expired
from services.delegation import DEACTIVATED, Deciders
from services.errors import (
    DeciderUnknown,
    InsufficientFunds,
    InvalidReward,
    NotAnApprover,
    NotRequester,
    PolicyRefusal,
    RequestNotFound,
    RequestNotPending,
    SelfApproval,
)
from services.money import fmt_money
from services.policy import PeopleDirectory, Policy
from services.reward_specs import (
    MAX_STAND_IN_CHECKS,
    STATE_WORDS,
    WALLET_SHORT,
    Decision,
    order_label,
)
from services.reward_types import kind
from services.wallet import Wallet
from services.xoxoday import errors as xe
from storage import choices as choice_store
from storage import events, ledger
from storage import orders as order_store
from storage import requests as request_store
from storage.db import Database
from storage.models import UNPAID_STATES, EventKind, RequestRow

log = logging.getLogger(__name__)


class Deciding:
    """Approve, reject, cancel, expire; mixed into RewardService, whose state it uses."""

    database: Database
    wallet: Wallet | None
    policy: Policy
    people: PeopleDirectory | None
    deciders: Deciders
    schedule: Schedule | None
    _wake: Callable[[], None]
    _clock: Callable[[], float]

    def auto_approve(self, request_id: int) -> Decision:
        """Approve a request within the auto-approve limit, once the wallet can pay for it.

        Kept apart from create() because it may ask Xoxoday for the balance, which must not
        hold up Slack's 3-second answer. On a shortfall the request stays pending and goes
        to the approvers with the reason.
        """
        request = self._get(request_id)
        self._ensure_pending(request)
        currency = request.currency or ""
        if not self.policy.auto_approves(request.total_cost):
            raise InvalidReward(f"{request.ref} is over the auto-approve limit")
        reason = (
            f"at or below the auto-approve limit of "
            f"{fmt_money(self.policy.auto_approve_max, currency)}"
        )
        try:
            balance = self._balance(request.total_cost) if self.wallet else None
            with self.database.tx() as db:
                if balance is not None:
                    self._ensure_funds(balance, request.total_cost, currency)
                self._approve_in(db, request_id, actor="policy", reason=reason, auto=True)
        except InsufficientFunds as exc:
            # The figures are for the approvers; everyone else reads that the wallet is short.
            self.to_approvers(request_id, exc.message, public=WALLET_SHORT)
            raise
        self._wake()
        return self._decision(request_id)

    def check_decider(self, request_id: int, user_id: str) -> RequestRow:
        """The request, when `user_id` may approve or reject it now.

        Every path that decides (a button in the channel, a DM, a reminder or the Home tab)
        calls this with the user id from the signed payload: the decider must be an approver
        (or stand in for one, see services/delegation.py), neither the requester nor a
        recipient, and the request still pending.
        """
        return self.decider(request_id, user_id)[0]

    def decider(self, request_id: int, user_id: str) -> tuple[RequestRow, str | None]:
        """check_decider, and the approver `user_id` stands in for (None: their own right)."""
        request = self._get(request_id)
        orders = order_store.for_request(self.database, request_id)
        ids = [o.recipient_id for o in orders]
        acting_for = self._stand_in_check(user_id, request, ids)
        emails = [o.email for o in orders if not o.recipient_id]
        email_of = self.people.email_of if self.people is not None else None
        self.policy.check_not_rewarded(user_id, ids, emails, email_of)
        if acting_for is not None:
            try:  # the approver stood in for is held to the same rule
                self.policy.check_not_rewarded(acting_for, ids, emails, email_of)
            except PolicyRefusal:
                raise SelfApproval(
                    "you stand in for someone this request may reward; another approver decides"
                ) from None
        self._ensure_pending(request)
        return request, acting_for

    def _stand_in_check(
        self, user_id: str, request: RequestRow, ids: list[str | None]
    ) -> str | None:
        """Deciders.acting_for, and for a delegate, the approver they stand in for asked
        about afresh: a delegation whose approver's account was deactivated ends here (the
        delegate is told) and is not used, and when the workspace cannot say, the decision
        waits (a departed approver's stand-in decides nothing)."""
        delegations = self.deciders.delegations
        for _ in range(MAX_STAND_IN_CHECKS):
            acting_for = self.deciders.acting_for(user_id, request, ids)
            if acting_for is None or self.people is None or delegations is None:
                return acting_for
            active = self.people.is_active(acting_for, fresh=True)
            if active:
                return acting_for
            if active is None:
                raise DeciderUnknown(
                    f"Slack did not say whether <@{acting_for}>, whom you stand in for, is "
                    "still in the workspace; try again in a moment"
                )
            row = delegations.row_of(acting_for)
            if row is not None and row.delegate_id == user_id:
                delegations.end(row, DEACTIVATED)
        raise NotAnApprover("only the configured approvers can approve or reject rewards")

    def approve(self, request_id: int, approver: str) -> Decision:
        request, acting_for = self.decider(request_id, approver)
        orders = order_store.for_request(self.database, request_id)
        for order in orders:
            self.policy.check_order(
                order.cost_estimate or Decimal(0), request.currency or "", order_label(order)
            )
        balance = self._balance(request.total_cost) if self.wallet else None
        with self.database.tx() as db:
            if self._expired_now(db, request, approver, acting_for):
                expired = True
            else:
                expired = False
                if balance is not None:  # in the transaction: two approvals cannot share a euro
                    self._ensure_funds(balance, request.total_cost, request.currency or "")
                # Checked again at approval: the budget may have been lowered since the request.
                month = ledger.month_of(request.created_at)
                spent = ledger.spent(self.database, request.requester_id, month)
                self.policy.check_budget(
                    spent - request.total_cost, request.total_cost, request.currency or ""
                )
                self._approve_in(
                    db, request_id, actor=approver, reason=None, auto=False, acting_for=acting_for
                )
        if expired:
            raise self._not_pending(request_id)
        self._wake()
        return self._decision(request_id)

    def _expired_now(
        self, db: Any, request: RequestRow, user_id: str, acting_for: str | None
    ) -> bool:
        """Inside the decision's write transaction, with the clock's time: True when the
        request's time ran out (it is expired here and now, as the scheduler would have done,
        and the decision must be refused after the commit). Raises when it was decided
        meanwhile, or when `user_id` may no longer decide it as they could a moment ago (a
        delegation ended, escalation time not reached: services/deadlines.py)."""
        now = self._clock()
        current = request_store.get(self.database, request.id)
        if current is None or current.state != "pending_approval":
            raise self._not_pending(request.id, current)
        if is_expired(current, self.schedule, now):
            reason = self.schedule.expiry_reason() if self.schedule else "its time ran out"
            self._close_in(
                db, current, "expired", "clock", reason, EventKind.REQUEST_EXPIRED, None, False
            )
            return True
        ids = [o.recipient_id for o in order_store.for_request(self.database, request.id)]
        if self.deciders.acting_for(user_id, current, ids, now=now) != acting_for:
            raise NotAnApprover("who you may stand in for changed a moment ago; try again")
        return False

    def _approve_in(
        self,
        db: Any,
        request_id: int,
        *,
        actor: str,
        reason: str | None,
        auto: bool,
        acting_for: str | None = None,
    ) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        updated = request_store.transition(
            db,
            request_id,
            "pending_approval",
            "approved",
            actor=actor,
            kind=EventKind.REQUEST_APPROVED,
            reason=reason,
            fields={
                "decided_by": actor,
                "decided_for": acting_for,
                "decided_at": now,
                "auto_approved": int(auto),
                "decision_reason": reason,
            },
            data={"auto": auto, "decided_by": actor, "decided_for": acting_for},
        )
        if updated is None:
            raise self._not_pending(request_id)
        for order in order_store.for_request(self.database, request_id):
            if kind(order.reward_type).chooses_from:
                # The recipient chooses first (services/choices.py); the offer starts now.
                order_store.transition(
                    db,
                    order.id,
                    "pending_approval",
                    choice_store.CHOOSING,
                    actor=actor,
                    kind=EventKind.CHOICE_OFFERED,
                )
                choice_store.offer(db, order.id, self._clock())
                continue
            order_store.transition(
                db,
                order.id,
                "pending_approval",
                "queued",
                actor=actor,
                kind=EventKind.ORDER_QUEUED,
                fields={"next_attempt_at": 0},
            )

    def to_approvers(self, request_id: int, reason: str, *, public: str | None = None) -> None:
        """Automatic approval did not happen: ask the approvers (if still pending).

        `reason` is shown to the approvers only; `public` (default: `reason`) is what the
        requester and the request's channel read, so a wallet balance never reaches them.
        """
        request = self._get(request_id)
        if request.state != "pending_approval":
            return
        with self.database.tx() as db:
            events.append(
                db,
                EventKind.REQUEST_NEEDS_APPROVAL,
                request_id=request_id,
                actor="policy",
                reason=reason,
                data={"public": public if public is not None else reason},
            )

    def stranded_auto_approvals(self) -> list[int]:
        """Requests recorded as auto-approvable that were neither approved nor sent to the
        approvers: the process stopped between recording and approving them."""
        return request_store.stranded_auto_approvals(self.database)

    def reject(self, request_id: int, approver: str, reason: str) -> Decision:
        reason = reason.strip()
        if not reason:
            raise InvalidReward("say why the request is rejected", field="reason")
        request, acting_for = self.decider(request_id, approver)
        return self._close(
            request,
            "rejected",
            approver,
            reason,
            EventKind.REQUEST_REJECTED,
            acting_for=acting_for,
            decision=True,
        )

    def cancel(
        self, request_id: int, requester: str, reason: str = "cancelled by the requester"
    ) -> Decision:
        request = self._get(request_id)
        if requester != request.requester_id:
            raise NotRequester("only the person who asked for a reward can cancel it")
        return self._close(request, "cancelled", requester, reason, EventKind.REQUEST_CANCELLED)

    def expire(self, request_id: int, reason: str, actor: str = "scheduler") -> Decision:
        """Nobody decided in time: the request expires, its orders are withdrawn and its
        budget released. RequestNotPending when someone decided first."""
        request = self._get(request_id)
        return self._close(
            request, "expired", actor, reason, EventKind.REQUEST_EXPIRED, by_person=False
        )

    def _close(
        self,
        request: RequestRow,
        state: str,
        actor: str,
        reason: str,
        kind: str,
        *,
        acting_for: str | None = None,
        by_person: bool = True,
        decision: bool = False,
    ) -> Decision:
        """Close a waiting request as `state`. A `decision` (an approver's reject) is checked
        against the clock in the same transaction, like an approval."""
        self._ensure_pending(request)
        expired = False
        with self.database.tx() as db:
            if decision and self._expired_now(db, request, actor, acting_for):
                expired = True
            else:
                self._close_in(db, request, state, actor, reason, kind, acting_for, by_person)
        self._wake()  # the worker gives the reserves back
        if expired:
            raise self._not_pending(request.id)
        return self._decision(request.id)

    def _close_in(
        self,
        db: Any,
        request: RequestRow,
        state: str,
        actor: str,
        reason: str,
        kind: str,
        acting_for: str | None,
        by_person: bool,
    ) -> None:
        now = datetime.now(UTC).isoformat(timespec="seconds")
        decided_by = actor if by_person else None
        updated = request_store.transition(
            db,
            request.id,
            "pending_approval",
            state,
            actor=actor,
            kind=kind,
            reason=reason,
            fields={
                "decided_by": decided_by,
                "decided_for": acting_for,
                "decided_at": now,
                "decision_reason": reason,
            },
            data={"decided_by": decided_by, "decided_for": acting_for},
        )
        if updated is None:
            raise self._not_pending(request.id)
        # The orders in one statement; their reserves are given back after the answer, once,
        # by the worker (services/releases.py), and count as nothing meanwhile (ledger.spent).
        order_store.withdraw_waiting(db, request.id, actor=actor, reason=reason)
        ledger.queue_releases(db, request.id)

    def _balance(self, needed: Decimal) -> tuple[Decimal, str]:
        """The wallet balance (cached; may ask Xoxoday), before any write lock is taken."""
        assert self.wallet is not None
        try:
            return self.wallet.balance()
        except xe.XoxodayError as exc:
            raise InsufficientFunds(
                f"the Xoxoday wallet balance could not be checked ({exc}); try again shortly",
                available=Decimal(0),
                needed=needed,
            ) from exc

    def _ensure_funds(self, balance: tuple[Decimal, str], needed: Decimal, currency: str) -> None:
        """Inside the write transaction: what approved orders not yet charged will take is
        counted with the orders just approved by anyone else."""
        value, wallet_currency = balance
        committed = order_store.committed_cost(self.database, UNPAID_STATES)
        available = value - committed
        if available < needed:
            raise InsufficientFunds(
                f"the Xoxoday wallet has {fmt_money(available, wallet_currency)} available "
                f"(balance {fmt_money(value, wallet_currency)}, "
                f"{fmt_money(committed, wallet_currency)} already committed), and this "
                f"request needs {fmt_money(needed, currency or wallet_currency)}: "
                "top up the wallet first",
                available=available,
                needed=needed,
            )

    def _get(self, request_id: int) -> RequestRow:
        request = request_store.get(self.database, request_id)
        if request is None:
            raise RequestNotFound(f"there is no request R-{request_id}")
        return request

    def _ensure_pending(self, request: RequestRow) -> None:
        if request.state != "pending_approval":
            raise self._not_pending(request.id, request)

    def _not_pending(self, request_id: int, request: RequestRow | None = None) -> RequestNotPending:
        request = request or self._get(request_id)
        return RequestNotPending(
            f"{request.ref} is already {STATE_WORDS.get(request.state, request.state)}",
            state=request.state,
            decided_by=request.decided_by,
        )

    def _decision(self, request_id: int) -> Decision:
        return Decision(self._get(request_id), order_store.for_request(self.database, request_id))
