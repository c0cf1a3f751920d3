"""The approval asks, as part of the sender (handlers/sender.py, which it serves as a base
class): who is asked (the approval channel, or each approver by DM when the bot cannot post
there; a delegate by DM, with whom they stand in for), what each reader may see of it (through
services/visibility.py, the one rule), and every ask and digest listing a request redrawn when
it changed. An ask saved after a decision that came while it was being posted is redrawn then
(redraw_if_changed), so no ask keeps buttons for a decided request."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import TYPE_CHECKING

from handlers import ask_messages, digest_messages
from handlers import messages as msg
from handlers.targets import Targets, is_slack_user
from services.delegation import Deciders, Delegation, Delegations
from services.duplicates import Duplicates, EarlierReward
from services.errors import PolicyRefusal
from services.notices import MessageRef, Notices
from services.outbox import Outbox
from services.policy import Policy
from services.rewards import SLACK_SOURCES
from services.visibility import Visibility
from storage.models import EventRow, OrderRow, RequestRow

log = logging.getLogger(__name__)


class AskSending:
    notices: Notices
    outbox: Outbox
    targets: Targets
    policy: Policy
    deciders: Deciders
    delegations: Delegations | None
    duplicates: Duplicates | None
    visibility: Visibility
    approval_channel: str | None

    if TYPE_CHECKING:  # Gathered's (handlers/gathered.py), beside this in SlackSender

        def _closed(
            self, reader: str, request: RequestRow, orders: list[OrderRow], acting_for: str | None
        ) -> str: ...  # handlers/gathered.py

        def _digest_entries(
            self, entries: list[dict[str, object]], why: str, reader: str
        ) -> list[digest_messages.Entry]: ...  # handlers/gathered.py

    def _asks(self, request: RequestRow) -> None:
        """The approval asks and every digest listing the request show where it stands, and
        whether their reader may still decide it (a delegation ended: no buttons)."""
        orders = self.notices.orders(request.id)
        for ref in self.notices.refs(request.id, "approval"):
            if ref.target == self.approval_channel or not is_slack_user(ref.addressee):
                text, blocks = self._ask_for(request, orders, None)
            else:
                text, blocks = self._ask_for(request, orders, ref.addressee, ref.acting_for)
            self.targets.update(request, ref, text, blocks, tell=False)
        for digest in self.outbox.digests_listing(request.id):
            shown = self._digest_entries(digest.entries, digest.why, digest.target)
            text, blocks = digest_messages.digest(digest.why, shown, len(digest.entries))
            ref = MessageRef(request.id, "digest", digest.channel, digest.ts, digest.target)
            self.targets.update(request, ref, text, blocks, tell=False)

    def _asked_by_another_event(self, event: EventRow, request: RequestRow) -> bool:
        """Whether an earlier event of the request asked the approvers already (a
        needs_approval after its created). A retry of the event that asks is not."""
        marker = f"R{request.id}:asked"
        mine = f"{marker}:e{event.id}"
        if self.steps.done(mine):
            return False
        if self.steps.done(marker) or self.notices.refs(request.id, "approval"):
            return True
        self.steps.settle(marker, "done")
        self.steps.settle(mine, "done")
        return False

    def _ask_approvers(self, event: EventRow, request: RequestRow) -> None:
        if self._asked_by_another_event(event, request):
            return
        if request.state != "pending_approval":
            return  # decided before the ask went: nothing to ask
        orders = self.notices.orders(request.id)
        approvers = sorted(self.policy.approvers)
        if not self.approval_channel and not approvers:
            log.warning("%s needs approval but REWARDS_APPROVERS is empty", request.ref)
        key = f"e{event.id}:approval"
        # Someone standing in for an approver may not be in the approval channel: they are
        # asked by DM, with whom they stand in for.
        stand_ins = [(p, a) for p, a in self._candidates(request) if a and p not in approvers]
        for person, acting_for in stand_ins:
            text, blocks = self._ask_for(request, orders, person, acting_for)
            self._ask(f"e{event.id}:stand-in", request, person, text, blocks, acting_for)
        if self.approval_channel:
            text, blocks = self._ask_for(request, orders, None)
            outcome = self._ask(key, request, self.approval_channel, text, blocks)
            if outcome != "gone":
                return
            # The bot cannot post in the approval channel (not a member, read-only, threads
            # only…): each approver is asked by DM.
        reached = False
        for approver in approvers:
            text, blocks = self._ask_for(request, orders, approver)
            reached |= self._ask(key, request, approver, text, blocks) in ("ok", "done", "later")
        if approvers and not reached:
            log.error("%s: no approver can be reached in Slack", request.ref)

    def _ask(
        self,
        key: str,
        request: RequestRow,
        target: str,
        text: str,
        blocks: msg.Blocks,
        acting_for: str | None = None,
    ) -> str:
        outcome, posted = self.targets.post(key, request, target, text, blocks, tell=False)
        if posted:
            self.notices.save_ref(request.id, "approval", *posted, acting_for)
            buttons = any(b.get("type") == "actions" for b in blocks)
            self.redraw_if_changed(request.id, target, acting_for, buttons=buttons)
        return outcome

    def redraw_if_changed(
        self, request_id: int, target: str, acting_for: str | None, *, buttons: bool = True
    ) -> None:
        """An ask is on record only once Slack answered its post: a decision (or a delegation's
        end) in between redrew the request's asks without it, and it would keep its buttons
        (a CI run met it: the approval came while the channel's ask was being posted). Read
        afresh after the save: if its reader may no longer decide it, it is redrawn. (Not for a
        budget line grown stale meanwhile: that is redrawn with the request's next change.)"""
        request = self.notices.request(request_id)
        if request is None:
            return
        reader = None if target == self.approval_channel else target
        orders = self.notices.orders(request_id) if reader else []
        # `buttons`: an ask posted closed (to an approver who is the requester) stays closed.
        if request.state != "pending_approval" or (
            buttons and reader and self._closed(reader, request, orders, acting_for)
        ):
            self.outbox.mark(f"asks:R{request_id}", request_id=request_id)

    def _ask_for(
        self,
        request: RequestRow,
        orders: list[OrderRow],
        reader: str | None,
        asked_for: str | None = None,
    ) -> tuple[str, msg.Blocks]:
        """The ask as `reader` may see it, through the one rule (services/visibility.py).
        None: the approval channel, whose members are not all approvers, so it reads as
        anyone: earlier requests by number, the approvers' note in its public words, and the
        running delegations named. A person stood in for `asked_for` when asked; one who may
        no longer decide the request reads why in place of the buttons."""
        if request.state != "pending_approval":
            return ask_messages.approval_message(request, orders)
        approvers_note, public_note = self.notices.approval_note(request.id)
        earlier = self._earlier(request, orders)
        if reader is None:
            return ask_messages.approval_message(
                request,
                orders,
                budget=self._budget(request),
                note=public_note,
                earlier=earlier,
                stand_ins=self._stand_ins(request),
            )
        recipients = [o.recipient_id for o in orders]
        try:
            acting_for = self.deciders.acting_for(reader, request, recipients)
        except PolicyRefusal:
            closed = ask_messages.no_longer_note(asked_for)
            return ask_messages.approval_message(request, orders, closed=closed)
        company = self.visibility.sees_company(reader)
        return ask_messages.approval_message(
            request,
            orders,
            budget=self._budget(request),
            note=approvers_note if company else public_note,
            earlier=earlier,
            visible=self._visible(reader, earlier),
            stand_ins=[] if acting_for else self._stand_ins(request),
            notes=[ask_messages.standing_in_note(acting_for)] if acting_for else [],
        )

    def _visible(self, reader: str, earlier: list[EarlierReward]) -> set[int]:
        """The earlier requests `reader` may read in full."""
        seen: set[int] = set()
        for each in {e.request.id: e.request for e in earlier}.values():
            recipients = [o.recipient_id for o in self.notices.orders(each.id)]
            if self.visibility.sees_request(reader, each, recipients):
                seen.add(each.id)
        return seen

    def _earlier(self, request: RequestRow, orders: list[OrderRow]) -> list[EarlierReward]:
        """The recipients' rewards in earlier requests within REWARDS_DUPLICATE_WINDOW."""
        if self.duplicates is None:
            return []
        return self.duplicates.earlier(
            [o.recipient_id for o in orders if o.recipient_id],
            [o.email for o in orders if not o.recipient_id and o.email],
            before_request=request.id,
        )

    def _stand_ins(self, request: RequestRow) -> list[Delegation]:
        """Running delegations of the people who may decide `request` in their own right."""
        if self.delegations is None:
            return []
        escalated = request.escalated_at is not None
        return [
            d
            for d in self.delegations.running()
            if self.policy.may_approve(d.approver_id, escalated=escalated)
        ]

    def _candidates(self, request: RequestRow) -> list[tuple[str, str | None]]:
        orders = self.notices.orders(request.id)
        return self.deciders.candidates(request, [o.recipient_id for o in orders])

    def _budget(self, request: RequestRow) -> tuple[Decimal, Decimal] | None:
        """(committed this month, monthly budget) of the requester, for the approvers."""
        if self.policy.monthly_budget is None or request.source not in SLACK_SOURCES:
            return None
        return self.notices.spent(request), self.policy.monthly_budget
