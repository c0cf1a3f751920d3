"""What people should see in Slack when something happens: recorded as outbox work, not sent.

The dispatcher (services/notify.py) hands each new event here, in order, on the delivery room's
thread (handlers/delivery.py). This module makes no Slack call: it marks what is now stale and
what one-off messages the event owes, and the delivery room sends it, paced, rendered from the
latest state when it goes. So a burst of 200 approvals costs O(requests) calls, not O(events):
- `status:R7` the request's status message, `asks:R7` its approval asks (and the digests that
  list it): marked stale, rendered once when their turn comes, whatever changed meanwhile;
- `thread:R7` the lines for its thread: gathered, posted as one reply;
- `home:U1` the Home tabs the event changed (of people who opened theirs), at most once per
  few seconds each;
- `offers:R7` the recipients' "Choose my reward" DMs of R7, once a choice was made or expired;
- `event:e42` the event's one-off messages (DMs, the approval ask, an alert, a code), each a
  step that is sent once;
- `dm:U1` the requester's updates (approved, failed, complete…), marked here in event order
  and gathered into as few DMs as fit;
- `digest:remind:U1` reminders and escalations: one DM per approver per round listing every
  request that waits for them.
"""

from __future__ import annotations

import logging

from handlers import choice_messages as choice_msg
from handlers import messages as msg
from handlers.gathered import tell_requester
from services.delegation import Deciders, Delegations
from services.notices import Notices
from services.outbox import Outbox
from services.policy import Policy
from storage.models import EventKind, EventRow, OrderRow, RequestRow

log = logging.getLogger(__name__)

CONSUMER = "slack"
DECIDED = frozenset(
    {
        EventKind.REQUEST_APPROVED,
        EventKind.REQUEST_REJECTED,
        EventKind.REQUEST_CANCELLED,
        EventKind.REQUEST_EXPIRED,
    }
)
# The events with one-off messages of their own (see SlackSender._event).
ONE_OFF = frozenset(
    {
        EventKind.REQUEST_CREATED,
        EventKind.REQUEST_NEEDS_APPROVAL,
        EventKind.ORDER_PLACED,
        EventKind.ORDER_DELIVERED,
        EventKind.SYSTEM_ALERT,
        EventKind.DELEGATION_SET,
        EventKind.DELEGATION_ENDED,
        EventKind.CHOICE_OFFERED,  # the recipient's DM with "Choose my reward"
        EventKind.CHOICE_REMINDED,
        EventKind.ORDER_FAILED,  # a recipient who chose is told their card could not be ordered
        EventKind.WORKFLOW_CONSENT_EXPIRED,
        EventKind.WORKFLOW_CONSENT_ANSWERED,
    }
)
# A recipient's choice changes their Home ("Waiting for your choice") and the request's status.
CHOICE_CHANGES = frozenset(
    {EventKind.CHOICE_OFFERED, EventKind.CHOICE_MADE, EventKind.CHOICE_EXPIRED}
)
# What the requester is told of by DM (gathered: handlers/gathered.py), marked here as each
# event is handed over, so their DM keeps event order: marked from the event's own send and
# the status message's, which go concurrently, "complete" could come before "approved".
REQUESTER_UPDATES = frozenset(
    {
        EventKind.REQUEST_APPROVED,
        EventKind.REQUEST_REJECTED,
        EventKind.REQUEST_EXPIRED,
        EventKind.ORDER_FAILED,
        EventKind.ORDER_CANCELED,
        EventKind.ORDER_PARTIALLY_CANCELED,
        EventKind.ORDER_CODE_UNDELIVERED,
        EventKind.CHOICE_EXPIRED,
    }
)
# What changes a waiting request's place in the approvers' Home tabs ("Waiting for you").
WAITING_CHANGES = frozenset(
    {
        EventKind.REQUEST_CREATED,
        EventKind.REQUEST_NEEDS_APPROVAL,
        EventKind.REQUEST_ESCALATED,
        *DECIDED,
    }
)
# What changes the month's spend by reward type, shown to everyone who sees the company's part
# of the Home: the ledger lines of approved requests (an order placed changes it only when
# Xoxoday charged another amount than the estimate: see _changes_spend).
SPEND_CHANGES = frozenset(
    {
        EventKind.REQUEST_APPROVED,
        EventKind.ORDER_FAILED,
        EventKind.ORDER_CANCELED,
        EventKind.ORDER_PARTIALLY_CANCELED,
        EventKind.CHOICE_MADE,  # the change went back to the budget
        EventKind.CHOICE_EXPIRED,  # the whole amount did
    }
)
# What a recipient's Home shows ("Rewards you received").
RECEIVED_CHANGES = frozenset(
    {
        EventKind.ORDER_PLACED,
        EventKind.ORDER_DELIVERED,
        EventKind.ORDER_CANCELED,
        EventKind.ORDER_PARTIALLY_CANCELED,
    }
)


# How long a person's digest waits for the rest of its round: the schedule's rounds claim every
# due request at once, but requests made a few seconds apart fall due a few seconds apart.
DIGEST_GATHER_S = 5.0


def digest_gather(remind_after_s: float) -> float:
    """The gather for a schedule: DIGEST_GATHER_S, less when reminders come faster (tests)."""
    return min(DIGEST_GATHER_S, remind_after_s / 4)


class SlackNotifier:
    def __init__(
        self,
        outbox: Outbox,
        notices: Notices,
        policy: Policy,
        *,
        deciders: Deciders | None = None,
        delegations: Delegations | None = None,
        digest_gather_s: float = DIGEST_GATHER_S,
    ) -> None:
        self.digest_gather_s = digest_gather_s
        self.outbox = outbox
        self.notices = notices
        self.policy = policy
        self.deciders = deciders or Deciders(policy, delegations)
        self.delegations = delegations

    def notify(self, event: EventRow) -> None:
        if event.kind in ONE_OFF:
            self.outbox.mark(f"event:e{event.id}", request_id=event.request_id)
        request = self.notices.request(event.request_id) if event.request_id else None
        if request is not None:
            self._request_changed(event, request)
            self._tell_requester(event, request)
        if event.kind.startswith("delegation."):
            # Every waiting ask names who stands in for whom, and an old delegate's asks and
            # digests lose their buttons (handlers/sender.py, _asks).
            for waiting in self.notices.waiting():
                self.outbox.mark(f"asks:R{waiting.id}", request_id=waiting.id)
        self._homes(event, request)

    def _tell_requester(self, event: EventRow, request: RequestRow) -> None:
        """The requester's updates, in event order; the request complete once its last event
        (the one that ended its last order, or any after) is handed over, after the rest."""
        if event.kind in REQUESTER_UPDATES:
            key = f"e{event.id}:dm:{request.requester_id}"
            tell_requester(self.outbox, request, key, event=event.id)
        orders = self.notices.orders(request.id)
        ended = all(o.is_terminal for o in orders) and any(o.state != "withdrawn" for o in orders)
        if ended and self.notices.latest_event(request.id) == event.id:
            tell_requester(self.outbox, request, f"R{request.id}:complete", complete=True)

    def _request_changed(self, event: EventRow, request: RequestRow) -> None:
        rid = request.id
        if event.kind == EventKind.REQUEST_REMINDED:
            self._digest("remind", event, request, self._candidates(request))
        elif event.kind == EventKind.REQUEST_ESCALATED:
            escalation = self.policy.escalation_approvers - self.policy.approvers
            targets = [(p, a) for p, a in self._candidates(request) if (a or p) in escalation]
            if not targets:
                log.warning("%s is overdue but no escalation approver can decide it", request.ref)
            self._digest("escalate", event, request, targets)
        if event.kind in DECIDED or event.kind == EventKind.REQUEST_ESCALATED:
            self.outbox.mark(f"asks:R{rid}", request_id=rid)
        if event.kind in DECIDED or event.kind.startswith("order.") or event.kind in CHOICE_CHANGES:
            self.outbox.mark(f"status:R{rid}", request_id=rid)
        if event.kind in (EventKind.CHOICE_MADE, EventKind.CHOICE_EXPIRED):
            self.outbox.mark(f"offers:R{rid}", request_id=rid)  # the DM's button goes
        order = self.notices.order(event.order_id) if event.order_id else None
        reason = event.reason
        if event.kind == EventKind.REQUEST_NEEDS_APPROVAL:
            reason = str(event.data.get("public") or "")
        line = choice_msg.event_line(event, order, request) or msg.event_line(
            event.kind, order, request, reason
        )
        if line:
            self.outbox.mark(f"thread:R{rid}", request_id=rid, item={"e": event.id, "line": line})

    def _candidates(self, request: RequestRow) -> list[tuple[str, str | None]]:
        orders = self.notices.orders(request.id)
        return self.deciders.candidates(request, [o.recipient_id for o in orders])

    def _digest(
        self,
        why: str,
        event: EventRow,
        request: RequestRow,
        targets: list[tuple[str, str | None]],
    ) -> None:
        """The request joins this round's digest of each person who may decide it."""
        if request.state != "pending_approval":
            return  # decided between the schedule's round and this
        for person, acting_for in targets:
            entry = {
                "request_id": request.id,
                "acting_for": acting_for,
                "round": int(event.data.get("round") or 1),
                "of": int(event.data.get("of") or 1),
            }
            self.outbox.mark(
                f"digest:{why}:{person}", target=person, item=entry, delay=self.digest_gather_s
            )

    # --- Home tabs --------------------------------------------------------------------------------

    def _homes(self, event: EventRow, request: RequestRow | None) -> None:
        people = self._homes_changed(event, request)
        for user in sorted(self.notices.home_users(people)):
            self.outbox.mark(f"home:{user}", target=user)

    def _homes_changed(self, event: EventRow, request: RequestRow | None) -> set[str]:
        """The people whose Home tab shows something `event` changed: the requester (their
        requests), the recipient (what they received), who may decide the request (what
        waits for them), and everyone who sees the month's spend only when it changed; not
        every approver at every order's step (issue 20)."""
        if event.kind.startswith("delegation."):
            return {str(event.data.get("approver") or ""), str(event.data.get("delegate") or "")}
        if request is None:
            return set()
        people: set[str] = {request.requester_id}
        order = self.notices.order(event.order_id) if event.order_id else None
        # A recipient's Home shows what they received and the choices waiting for them.
        received = event.kind in RECEIVED_CHANGES or event.kind in CHOICE_CHANGES
        if received and order is not None and order.recipient_id:
            people.add(order.recipient_id)
        if event.kind in WAITING_CHANGES:
            people |= {person for person, _ in self._candidates(request)}
        if self._changes_spend(event, order):
            people |= self._decider_pool()
        return people

    @staticmethod
    def _changes_spend(event: EventRow, order: OrderRow | None) -> bool:
        if event.kind in SPEND_CHANGES:
            return True
        return (
            event.kind == EventKind.ORDER_PLACED
            and order is not None
            and order.amount_charged is not None
            and order.amount_charged != order.cost_estimate
        )

    def _decider_pool(self) -> set[str]:
        people = set(self.policy.approvers) | set(self.policy.escalation_approvers)
        if self.delegations is not None:
            people |= {d.delegate_id for d in self.delegations.running()}
        return people
