"""How each kind of outbox work reaches Slack, rendered from the latest state when it goes.

The notifier (handlers/notifier.py) decided what is stale; the delivery room (delivery.py) picks
what is due and calls `send`. A status message, an approval ask or a Home tab is rendered now,
from the database, so however many changes were marked since the last send, one call shows them
all; the lines a thread waits for go as one reply. One-off messages (an event's DMs, asks and
alerts, a code) are steps (targets.py), so a send that comes back repeats only what failed.
Returns how many data entries went (thread lines, digest entries).
"""

from __future__ import annotations

import logging
from datetime import date
from typing import TYPE_CHECKING

from slack_sdk import WebClient

from handlers import dm_messages
from handlers import messages as msg
from handlers.ask_sending import AskSending
from handlers.choice_sending import ChoiceSending
from handlers.consent_sender import CONSENT_KINDS, send_consent_event
from handlers.gathered import Gathered, tell_requester
from handlers.notifier import REQUESTER_UPDATES
from handlers.paced_client import NotYet
from handlers.targets import CONSUMER, Targets, is_slack_user
from handlers.users import UserDirectory
from services.delegation import Deciders, Delegations
from services.duplicates import Duplicates
from services.notices import MessageRef, Notices
from services.outbox import Outbox, OutboxRow
from services.policy import Policy
from services.reward_types import kind_or_default
from services.visibility import Visibility
from services.vouchers import VoucherSource
from storage.models import EventKind, EventRow, OrderRow, RequestRow

if TYPE_CHECKING:
    from handlers.home import HomeTabs

log = logging.getLogger(__name__)

STATUS_SHOWN = "R{}:status-shown"  # the step: the status message was posted (or cannot be)
NOT_YET_SHOWN_S = 1.0
SETTLED = {"ok": "done", "done": "done", "gone": "gave_up", "refused": "refused"}


class ComeBack(Exception):
    """Not ready (the status message it belongs under is not posted yet): later."""


class SlackSender(AskSending, ChoiceSending, Gathered):
    def __init__(
        self,
        client: WebClient,
        notices: Notices,
        outbox: Outbox,
        vouchers: VoucherSource,
        policy: Policy,
        *,
        users: UserDirectory | None = None,
        approval_channel: str | None = None,
        deciders: Deciders | None = None,
        delegations: Delegations | None = None,
        duplicates: Duplicates | None = None,
        home: HomeTabs | None = None,
        visibility: Visibility | None = None,
    ) -> None:
        self.client = client
        self.notices = notices
        self.outbox = outbox
        self.vouchers = vouchers
        self.policy = policy
        self.users = users or UserDirectory(client)
        self.approval_channel = approval_channel
        self.deciders = deciders or Deciders(policy, delegations)
        self.delegations = delegations
        self.duplicates = duplicates
        self.home = home
        # What each reader of an ask may see of other requests and the wallet: the one rule.
        self.visibility = visibility or Visibility(notices.database, policy, self.deciders)
        self.targets = Targets(client, notices)
        self.steps = self.targets.steps

    def send(self, row: OutboxRow) -> int:
        """Send `row`; Pending when part of it failed for now, ComeBack when it is not ready,
        NotYet (paced_client) when its lane is full."""
        self.targets.begin()
        consumed = 0
        if row.kind == "event":
            self._event(int(row.key.removeprefix("event:e")))
        elif row.kind == "home" and row.target and self.home is not None:
            self.home.publish(row.target)
        elif row.kind == "digest" and row.target:
            consumed = self._digest(row)
        elif row.kind == "dm" and row.target:
            consumed = self._updates(row)
        elif row.request_id is not None:
            request = self.notices.request(row.request_id)
            consumed = len(row.data) if request is None else self._for_request(row, request)
        self.targets.end(row.key)
        return consumed

    def given_up(self, row: OutboxRow) -> None:
        """The delivery room gave `row` up after its tries (about a day and a half). A code
        that never reached its recipient is not left at a log line: the requester and the
        operators are told (once), with how to have it sent again."""
        if row.kind != "event":
            return
        event = self.notices.event(int(row.key.removeprefix("event:e")))
        if event is None or event.kind != EventKind.ORDER_DELIVERED or not event.order_id:
            return
        order = self.notices.order(event.order_id)
        if order is None or not kind_or_default(order.reward_type).codes:
            return
        if self.steps.done(f"e{event.id}:undelivered:alert"):
            return  # the recipient was out of reach and that was told already
        why = "Slack failed every try to message them for about a day and a half"
        with self.notices.database.tx():  # the record and its step in one transaction: once
            if self.steps.settle(f"e{event.id}:code-given-up", "done"):
                alert = dm_messages.code_given_up_alert(order, why)
                self.notices.code_undelivered(order, why=why, alert=alert, actor=CONSUMER)
                log.error("the code of %s never reached its recipient: %s", order.po_number, why)

    def _for_request(self, row: OutboxRow, request: RequestRow) -> int:
        if row.kind == "status":
            self._status(request)
        elif row.kind == "asks":
            self._asks(request)
        elif row.kind == "thread":
            return self._thread(request, row.data)
        elif row.kind == "offers":
            self._offers(request)
        return 0

    # --- rendered now ----------------------------------------------------------------------------

    def _shown(self, request: RequestRow) -> bool:
        """Whether the status message was posted (or given up): until then, updates and thread
        lines have nowhere to go and come back."""
        return not request.channel_id or self.steps.done(STATUS_SHOWN.format(request.id))

    def _status(self, request: RequestRow) -> None:
        if not self._shown(request):
            raise ComeBack(f"{request.ref}: its status message is not posted yet")
        orders = self.notices.orders(request.id)
        text, blocks = msg.status_message(request, orders)
        for ref in self.notices.refs(request.id, "status"):
            self.targets.update(request, ref, text, blocks)

    def _thread(self, request: RequestRow, lines: list[dict[str, object]]) -> int:
        """The waiting lines as one reply under each status message (several when long)."""
        if not self._shown(request):
            raise ComeBack(f"{request.ref}: its status message is not posted yet")
        texts: dict[object, str] = {}
        for entry in lines:
            if entry.get("e") not in texts:
                texts[entry.get("e")] = str(entry.get("line") or "")
        waiting = [(e, text) for e, text in texts.items() if text]
        for ref in self.notices.refs(request.id, "status"):
            self._replies(request, ref, waiting)
        self.targets.end(f"{request.ref}'s thread")  # a failed reply: the row comes back
        return len(lines)

    def _replies(
        self, request: RequestRow, ref: MessageRef, lines: list[tuple[object, str]]
    ) -> None:
        """The lines not yet posted under `ref`, in as few replies as fit. Each line is a step
        settled with the reply that carried it (as a requester's gathered updates are), so a
        send that comes back (the lane full after the first reply, a failure under another
        status message) posts only the rest."""

        def key(e: object) -> str:
            return f"e{e}:thread:{ref.channel}:{ref.ts}"

        waiting = [(e, t) for e, t in lines if e is None or not self.steps.done(key(e))]
        sent = 0
        for reply in msg.replies([text for _e, text in waiting]):
            part = waiting[sent : sent + len(reply)]
            sent += len(reply)
            outcome, _ = self.targets.attempt(
                None,
                request,
                ref.addressee,
                lambda reply=reply: self.client.chat_postMessage(
                    channel=ref.channel, thread_ts=ref.ts, text="\n".join(reply)
                ),
            )
            if outcome == "later":
                return  # recorded: the row comes back with what is left
            with self.notices.database.tx():
                for e, _text in part:
                    if e is not None:
                        self.steps.settle(key(e), SETTLED[outcome])

    # --- one-off messages of an event -----------------------------------------------------------

    def _event(self, event_id: int) -> None:
        event = self.notices.event(event_id)
        if event is None:
            return
        if event.kind == EventKind.SYSTEM_ALERT:
            self._alert(event, event.reason or "")
            return
        if event.kind.startswith("delegation."):
            self._delegation(event)
            return
        if event.kind in CONSENT_KINDS:
            send_consent_event(self.targets, self.client, event)
            return
        request = self.notices.request(event.request_id) if event.request_id else None
        if request is None:
            return
        order = self.notices.order(event.order_id) if event.order_id else None
        if event.kind == EventKind.REQUEST_CREATED:
            self._created(event, request, auto=bool(event.data.get("auto_approvable")))
        elif event.kind == EventKind.REQUEST_NEEDS_APPROVAL:
            self._ask_approvers(event, request)
        elif event.kind.startswith("choice.") and order is not None:
            self._choice(event, request, order)
        elif event.kind in REQUESTER_UPDATES:
            # A row marked before the notifier told requesters itself: the same update, once.
            key = f"e{event.id}:dm:{request.requester_id}"
            tell_requester(self.outbox, request, key, event=event.id)
            if event.kind == EventKind.ORDER_FAILED and order is not None:
                self._choice_failed(event, request, order)
        elif order is not None:
            self._order_changed(event, request, order)

    def _created(self, event: EventRow, request: RequestRow, *, auto: bool) -> None:
        if request.channel_id:
            orders = self.notices.orders(request.id)
            text, blocks = msg.status_message(request, orders)
            key = f"e{event.id}:status"
            # Where the bot cannot post, the requester gets the status message by DM instead.
            outcome, posted = self.targets.post(
                key, request, request.channel_id, text, blocks, tell=False
            )
            if outcome == "gone" and is_slack_user(request.requester_id):
                log.info("%s: the status message goes to the requester's DM", request.ref)
                outcome, posted = self.targets.post(
                    key, request, request.requester_id, text, blocks
                )
            if posted:
                self.notices.save_ref(request.id, "status", *posted)
                self.targets.shown(posted[0], posted[1], text, blocks)
            if outcome != "later":
                self.steps.settle(STATUS_SHOWN.format(request.id), "done")
                self.outbox.mark(f"status:R{request.id}", request_id=request.id)
        if request.state == "pending_approval" and not auto:
            self._ask_approvers(event, request)

    # --- delegation, alerts ----------------------------------------------------------------------

    def _delegation(self, event: EventRow) -> None:
        """The delegate hears that they stand in for an approver, or no longer do."""
        delegate = str(event.data.get("delegate") or "")
        approver = str(event.data.get("approver") or "")
        until = date.fromisoformat(str(event.data.get("until")))
        text = dm_messages.delegation_text(event.kind, approver, until, event.reason)
        self.targets.dm(f"e{event.id}:dm:{delegate}", None, delegate, text)

    def _alert(self, event: EventRow, text: str) -> None:
        line, blocks = msg.alert_message(text)
        key = f"e{event.id}:alert"
        if self.approval_channel:
            outcome, _posted = self.targets.post(key, None, self.approval_channel, line, blocks)
            if outcome != "gone":
                return
        for approver in sorted(self.policy.approvers):
            self.targets.dm(f"{key}:{approver}", None, approver, line)

    # --- orders ---------------------------------------------------------------------------------

    def _order_changed(self, event: EventRow, request: RequestRow, order: OrderRow) -> None:
        if event.kind == EventKind.ORDER_DELIVERED:
            self._deliver_to_recipient(event, request, order)
        elif event.kind == EventKind.ORDER_PLACED and order.state == "placed":
            found, recipient = self._find_recipient(order)
            if found and recipient:
                self.targets.dm(
                    f"e{event.id}:dm:{recipient}",
                    request,
                    recipient,
                    dm_messages.recipient_on_its_way(order, request),
                )

    def _deliver_to_recipient(self, event: EventRow, request: RequestRow, order: OrderRow) -> None:
        """The code to the recipient's DM (several DMs when the codes do not fit one); when
        that cannot be, and Xoxoday was not asked to email it either, the requester and the
        operators are told, so a paid reward never silently reaches nobody."""
        found, recipient = self._find_recipient(order)
        if not found:
            return  # Slack did not answer: the send comes back, this step with it
        if recipient is None or not is_slack_user(recipient):
            self._undelivered(event, request, order, "they are not in this Slack workspace")
            return
        vouchers = self.vouchers.for_order(order)
        parts = dm_messages.recipient_delivered(order, request, vouchers)
        for number, (text, blocks) in enumerate(parts):
            key = f"e{event.id}:dm:{recipient}" + (f":{number}" if number else "")
            outcome, _ = self.targets.attempt(
                key,
                request,
                recipient,
                lambda text=text, blocks=blocks: self.client.chat_postMessage(
                    channel=recipient, text=text, blocks=blocks, unfurl_links=False
                ),
            )
            if outcome == "gone":
                self._undelivered(event, request, order, "Slack will not let me message them")
                return

    def _find_recipient(self, order: OrderRow) -> tuple[bool, str | None]:
        """(answered, Slack user id or None). A CSV recipient is found by email; when Slack
        fails to answer, the failure is noted so the send comes back later."""
        if order.recipient_id:
            return True, order.recipient_id
        if not order.email:
            return True, None
        try:
            return True, self.users.by_email(order.email)
        except NotYet:
            raise
        except Exception as exc:  # Slack unreachable or failing: not "no such person"
            self.targets.fail(exc)
            return False, None

    def _undelivered(self, event: EventRow, request: RequestRow, order: OrderRow, why: str) -> None:
        if order.notify_receiver_email:
            return  # Xoxoday emails the voucher to them
        warning = dm_messages.undelivered_code(order, request, why)
        with self.notices.database.tx():  # the alert and its step in one transaction: once
            if self.steps.settle(f"e{event.id}:undelivered:alert", "done"):
                self.notices.alert(
                    dm_messages.undelivered_alert(order, why),
                    request_id=request.id,
                    order_id=order.id,
                    actor=CONSUMER,
                )
        self.targets.dm(f"e{event.id}:undelivered", request, request.requester_id, warning)
