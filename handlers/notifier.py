"""Domain events rendered into Slack: the status message and its thread, approvals, DMs.

Requests and decisions are shown at once. Order changes are collected and flushed at most once
per `min_interval_s` per request: one status update and one thread reply for everything that
changed, so a 40-recipient request stays well inside chat.update's and chat.postMessage's
rate limits while still reading as progress (12 of 40 placed…).

Each message is one step, retried on its own (services.notify.Steps): a DM that fails for now
makes the event come back later without repeating the thread reply or the channel post already
made. A person or channel Slack says can never be reached (a deactivated user, a bot, an
archived channel, one the bot is not in after falling back to a DM...) is given up for that
request with one log line and one note to the requester: by DM, or in the request's channel
when the requester is the one who cannot be reached.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import date
from decimal import Decimal
from typing import TYPE_CHECKING, TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers import messages as msg
from handlers.users import UserDirectory
from services.delegation import Deciders, Delegation, Delegations
from services.duplicates import Duplicates, EarlierReward
from services.notify import Steps
from services.policy import Policy
from services.rewards import SLACK_SOURCES
from services.vouchers import VoucherSource
from storage import events, ledger
from storage import messages as refs
from storage import orders as order_store
from storage import requests as request_store
from storage.db import Database
from storage.models import EventKind, EventRow, OrderRow, RequestRow

if TYPE_CHECKING:
    from handlers.home import HomeTabs

log = logging.getLogger(__name__)

T = TypeVar("T")

# Slack's answers that no retry will change, with what they mean to the requester
# (errors sections of docs.slack.dev/reference/methods/chat.postMessage, chat.update,
# conversations.open).
UNREACHABLE: dict[str, str] = {
    "not_in_channel": "the bot is not a member of that channel",
    "channel_not_found": "the bot cannot see that channel",
    "is_archived": "the channel is archived",
    "restricted_action": "the workspace does not let the bot post there",
    "user_disabled": "their Slack account is deactivated",
    "account_inactive": "the account is inactive",
    "cannot_dm_bot": "it is a bot",
    "user_not_found": "Slack does not know this person",
    "users_not_found": "Slack does not know this person",
    "messages_tab_disabled": "the bot's Messages tab is turned off",
}
# Slack refused what we sent: a bug of ours that no retry will fix either.
REFUSED = {"invalid_blocks", "invalid_arguments", "msg_too_long", "no_text", "missing_scope"}
CONSUMER = "slack"
# What changes a waiting request's place in the approvers' Home tabs ("Waiting for you").
WAITING_CHANGES = frozenset(
    {
        EventKind.REQUEST_CREATED,
        EventKind.REQUEST_NEEDS_APPROVAL,
        EventKind.REQUEST_APPROVED,
        EventKind.REQUEST_REJECTED,
        EventKind.REQUEST_CANCELLED,
        EventKind.REQUEST_EXPIRED,
        EventKind.REQUEST_ESCALATED,
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
# chat.postMessage cuts `text` beyond 4,000 characters (docs.slack.dev/reference/methods/
# chat.postMessage#truncating): a long batch of changes goes out as several replies.
REPLY_MAX = 4000


def is_slack_user(user_id: str | None) -> bool:
    return bool(user_id) and user_id[0] in "UW" and user_id[1:].isalnum()  # type: ignore[index]


def _error(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or "")


def _replies(lines: list[str], limit: int = REPLY_MAX) -> list[list[str]]:
    """Lines grouped into replies of at most `limit` characters, in order."""
    replies: list[list[str]] = []
    size = 0
    for line in (line[:limit] for line in lines):
        if replies and size + 1 + len(line) <= limit:
            replies[-1].append(line)
            size += 1 + len(line)
        else:
            replies.append([line])
            size = len(line)
    return replies


def _public_reason(event: EventRow) -> str | None:
    """What everyone but the approvers may read about an event (the approvers' note can
    carry the wallet's figures); older events without it show nothing more."""
    if event.kind == EventKind.REQUEST_NEEDS_APPROVAL:
        return str(event.data.get("public") or "")
    return event.reason


def _shown(target: str) -> str:
    return f"<@{target}>" if is_slack_user(target) else f"<#{target}>"


class Pending(Exception):
    """Some of an event's messages failed for now; trying the event again repeats only them."""


class SlackNotifier:
    def __init__(
        self,
        client: WebClient,
        database: Database,
        vouchers: VoucherSource,
        policy: Policy,
        *,
        users: UserDirectory | None = None,
        approval_channel: str | None = None,
        min_interval_s: float = 1.5,
        clock: Callable[[], float] = time.monotonic,
        deciders: Deciders | None = None,
        delegations: Delegations | None = None,
        duplicates: Duplicates | None = None,
        home: HomeTabs | None = None,
    ) -> None:
        self.client = client
        self.database = database
        self.vouchers = vouchers
        self.policy = policy
        self.users = users or UserDirectory(client)
        self.approval_channel = approval_channel
        self.min_interval_s = min_interval_s
        self.deciders = deciders or Deciders(policy, delegations)
        self.delegations = delegations
        self.duplicates = duplicates
        self.home = home
        self.steps = Steps(database, CONSUMER)
        self._clock = clock
        self._lock = threading.Lock()
        self._lines: dict[int, list[str]] = {}  # request id -> changes not yet posted
        self._stale: set[int] = set()  # requests whose status message missed an update
        self._last_flush: dict[int, float] = {}
        self._local = threading.local()  # the failures of the notify() or flush() running

    # --- the Notifier interface ---------------------------------------------------------------

    def notify(self, event: EventRow) -> None:
        self._local.failed = []
        self._notify(event)
        if self.home is not None:
            self.home.touch(self._homes_changed(event))
        failed: list[Exception] = self._local.failed
        if failed:
            raise Pending(f"{len(failed)} message(s) of event #{event.id} failed") from failed[0]

    def _notify(self, event: EventRow) -> None:
        if event.kind == EventKind.SYSTEM_ALERT:
            self._alert(event, event.reason or "")
            return
        if event.kind.startswith("delegation."):
            self._delegation(event)
            return
        if event.request_id is None:
            return
        request = request_store.get(self.database, event.request_id)
        if request is None:
            return
        order = order_store.get(self.database, event.order_id) if event.order_id else None
        if event.kind == EventKind.REQUEST_CREATED:
            self._created(event, request, auto=bool(event.data.get("auto_approvable")))
        elif event.kind == EventKind.REQUEST_NEEDS_APPROVAL:
            self._ask_approvers(event, request, note=event.reason or "")
            public = _public_reason(event)
            self._thread_now(event, request, msg.event_line(event.kind, None, request, public))
        elif event.kind == EventKind.REQUEST_REMINDED:
            self._remind(event, request)
        elif event.kind == EventKind.REQUEST_ESCALATED:
            self._escalate(event, request)
        elif event.kind.startswith("request."):
            self._decided(event, request)
        elif order is not None:
            self._order_changed(event, request, order)

    def flush(self, force: bool = False) -> None:
        """Post the collected order changes of each request whose interval has passed, then
        publish the Home tabs that changed."""
        self._flush_requests(force)
        if self.home is not None:
            self.home.flush(force)

    def _flush_requests(self, force: bool) -> None:
        now = self._clock()
        with self._lock:
            due = [
                request_id
                for request_id in {*self._lines, *self._stale}
                if force or now - self._last_flush.get(request_id, -1e9) >= self.min_interval_s
            ]
            batches = {request_id: self._lines.pop(request_id, []) for request_id in due}
            self._stale -= set(due)
            for request_id in due:
                self._last_flush[request_id] = now
            self._last_flush = {
                k: v
                for k, v in self._last_flush.items()
                if now - v < self.min_interval_s or k in due
            }
        for request_id, lines in batches.items():
            request = request_store.get(self.database, request_id)
            if request is None:
                continue
            self._local.failed = []
            orders = order_store.for_request(self.database, request_id)
            if not self._update_status(request, orders):
                with self._lock:
                    self._stale.add(request_id)
            replies = _replies(lines)
            for sent, reply in enumerate(replies):
                if not self._thread(request, "\n".join(reply)):
                    unsent = [line for later in replies[sent:] for line in later]
                    with self._lock:  # for now only: posted with the next changes
                        self._lines[request_id] = unsent + self._lines.get(request_id, [])
                    break
            if all(o.is_terminal for o in orders) and any(o.state != "withdrawn" for o in orders):
                self._dm(
                    f"R{request.id}:complete",
                    request,
                    request.requester_id,
                    msg.request_complete(request, orders),
                )
            if self._local.failed:
                log.warning(
                    "posting the changes of %s failed for now (%s); trying again with the next",
                    request.ref,
                    self._local.failed[0],
                )

    # --- steps and targets ----------------------------------------------------------------------

    def _attempt(
        self,
        key: str | None,
        request: RequestRow | None,
        target: str,
        action: Callable[[], T],
        *,
        tell: bool = True,
    ) -> tuple[str, T | None]:
        """Run one message (`action`, to `target`) and say how it went: "ok"; "done" (it went
        through on an earlier try); "gone" (the target cannot be reached: given up for the
        request, once); "refused" (Slack refused what we sent); "later" (failed for now: the
        step stays open and notify() reports it, so the event is tried again). A `key` makes
        it a recorded step; without one (batched lines, re-queued on failure) it is not."""
        if request is not None and self._given_up(request, target):
            return "gone", None
        if key is not None and self.steps.done(key):
            return "done", None
        try:
            result = action()
        except SlackApiError as exc:
            error = _error(exc)
            if error in UNREACHABLE:
                if key is not None:
                    self.steps.settle(key, "gave_up", error)
                if request is not None:
                    self._give_up(request, target, error, tell=tell)
                else:
                    log.warning("cannot send Slack messages to %s: %s", target, error)
                return "gone", None
            if error in REFUSED:
                if key is not None:
                    self.steps.settle(key, "refused", error)
                log.error("Slack refused a message to %s (%s): %s", target, key, error)
                return "refused", None
            self._local.failed.append(exc)
            return "later", None
        except Exception as exc:  # Slack unreachable, a timeout: for now
            self._local.failed.append(exc)
            return "later", None
        if key is not None:
            self.steps.settle(key, "done")
        return "ok", result

    def _step(
        self,
        key: str | None,
        request: RequestRow | None,
        target: str,
        action: Callable[[], T],
        *,
        tell: bool = True,
    ) -> T | None:
        return self._attempt(key, request, target, action, tell=tell)[1]

    @staticmethod
    def _unreachable_key(request: RequestRow, target: str) -> str:
        return f"R{request.id}:unreachable:{target}"

    def _given_up(self, request: RequestRow, target: str) -> bool:
        return self.steps.done(self._unreachable_key(request, target))

    def _give_up(self, request: RequestRow, target: str, error: str, *, tell: bool) -> None:
        """Once per request and target: one log line, and one note to the requester."""
        if not self.steps.settle(self._unreachable_key(request, target), "gave_up", error):
            return
        log.warning(
            "%s: giving up on Slack messages to %s: %s (%s)",
            request.ref,
            target,
            error,
            UNREACHABLE.get(error, ""),
        )
        if tell:
            self._tell_requester(request, target, error)

    def _tell_requester(self, request: RequestRow, target: str, error: str) -> None:
        why = UNREACHABLE.get(error, error)
        if target != request.requester_id:
            text = (
                f"⚠️ I cannot message {_shown(target)} about your reward request {request.ref}: "
                f"{why}. The request itself goes on."
            )
            self._dm(f"R{request.id}:note:{target}", request, request.requester_id, text)
            return
        # The requester is the one who cannot be reached: say so where the request is shown.
        text = (
            f"⚠️ I cannot message {_shown(target)} about {request.ref}: {why}. "
            "Updates stay in this thread."
        )
        for ref in refs.for_request(self.database, request.id, "status"):
            if ref.addressee == target:
                continue
            self._step(
                f"R{request.id}:note:{target}:{ref.channel}",
                request,
                ref.channel,
                lambda ref=ref: self.client.chat_postMessage(
                    channel=ref.channel, thread_ts=ref.ts, text=text
                ),
                tell=False,
            )

    # --- requests -------------------------------------------------------------------------------

    def _created(self, event: EventRow, request: RequestRow, *, auto: bool) -> None:
        orders = order_store.for_request(self.database, request.id)
        if request.channel_id:
            text, blocks = msg.status_message(request, orders)
            key = f"e{event.id}:status"
            # Where the bot cannot post, the requester gets the status message by DM instead.
            outcome, posted = self._post(key, request, request.channel_id, text, blocks, tell=False)
            if outcome == "gone" and is_slack_user(request.requester_id):
                log.info("%s: the status message goes to the requester's DM", request.ref)
                outcome, posted = self._post(key, request, request.requester_id, text, blocks)
            if posted:
                refs.save(self.database, request.id, "status", *posted)
        if request.state == "pending_approval" and not auto:
            self._ask_approvers(event, request)

    def _asked_by_another_event(self, event: EventRow, request: RequestRow) -> bool:
        """Whether an earlier event of the request asked the approvers already (a
        needs_approval after its created). A retry of the event that asks is not: its asks
        that went through are steps, so only those that failed are made again."""
        marker = f"R{request.id}:asked"
        mine = f"{marker}:e{event.id}"
        if self.steps.done(mine):
            return False
        if self.steps.done(marker) or refs.for_request(self.database, request.id, "approval"):
            return True
        self.steps.settle(marker, "done")
        self.steps.settle(mine, "done")
        return False

    def _ask_approvers(self, event: EventRow, request: RequestRow, note: str = "") -> None:
        if self._asked_by_another_event(event, request):
            return
        orders = order_store.for_request(self.database, request.id)
        text, blocks = msg.approval_message(
            request,
            orders,
            budget=self._budget(request),
            note=note,
            earlier=self._earlier(request, orders),
            stand_ins=self._stand_ins(request),
        )
        approvers = sorted(self.policy.approvers)
        if not self.approval_channel and not approvers:
            log.warning("%s needs approval but REWARDS_APPROVERS is empty", request.ref)
        key = f"e{event.id}:approval"
        # Someone standing in for an approver may not be in the approval channel: they are
        # asked by DM, with whom they stand in for.
        stand_ins = [(p, a) for p, a in self._candidates(request) if a and p not in approvers]
        if stand_ins:
            self._ask_by_dm(event, request, "stand-in", "", stand_ins, note=note)
        if self.approval_channel:
            outcome, posted = self._post(
                key, request, self.approval_channel, text, blocks, tell=False
            )
            if posted:
                refs.save(self.database, request.id, "approval", *posted)
            if outcome != "gone":
                return
            # The bot cannot post in the approval channel: each approver is asked by DM.
        reached = False
        for approver in approvers:
            outcome, posted = self._post(key, request, approver, text, blocks, tell=False)
            if posted:
                refs.save(self.database, request.id, "approval", *posted)
            reached |= outcome in ("ok", "done", "later")
        if approvers and not reached:
            log.error("%s: no approver can be reached in Slack", request.ref)

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

    # --- the approval schedule: reminders and escalation ----------------------------------------

    def _remind(self, event: EventRow, request: RequestRow) -> None:
        """Each person who may decide the request gets it by DM, with working buttons."""
        if request.state != "pending_approval":
            return  # decided between the reminder and this notification
        note = msg.reminder_note(
            request, int(event.data.get("round") or 1), int(event.data.get("of") or 1)
        )
        self._ask_by_dm(event, request, "remind", note, self._candidates(request))

    def _escalate(self, event: EventRow, request: RequestRow) -> None:
        """The escalation approvers (and their stand-ins) are asked too."""
        if request.state != "pending_approval":
            return
        escalation = self.policy.escalation_approvers - self.policy.approvers
        targets = [(p, a) for p, a in self._candidates(request) if (a or p) in escalation]
        if not targets:
            log.warning("%s is overdue but no escalation approver can decide it", request.ref)
        self._ask_by_dm(event, request, "escalate", msg.escalation_note(request), targets)

    def _candidates(self, request: RequestRow) -> list[tuple[str, str | None]]:
        orders = order_store.for_request(self.database, request.id)
        return self.deciders.candidates(request, [o.recipient_id for o in orders])

    def _ask_by_dm(
        self,
        event: EventRow,
        request: RequestRow,
        why: str,
        line: str,
        targets: list[tuple[str, str | None]],
        *,
        note: str = "",
    ) -> None:
        """The approval ask by DM to each target (`why`: remind, escalate, stand-in; `line`
        the mrkdwn line saying why), kept as an approval message of the request so that a
        decision (or expiry) takes its buttons away like everywhere else."""
        orders = order_store.for_request(self.database, request.id)
        prefix = {"remind": "⏰ Reminder: ", "escalate": "⏫ Escalated: "}.get(why, "")
        for person, acting_for in targets:
            lines = [line, msg.standing_in_note(acting_for)]
            text, blocks = msg.approval_message(
                request,
                orders,
                budget=self._budget(request),
                note=note,
                earlier=self._earlier(request, orders),
                notes=[n for n in lines if n],
            )
            _outcome, posted = self._post(
                f"e{event.id}:{why}", request, person, prefix + text, blocks, tell=False
            )
            if posted:
                refs.save(self.database, request.id, "approval", *posted)

    # --- delegation ------------------------------------------------------------------------------

    def _delegation(self, event: EventRow) -> None:
        """The delegate hears that they stand in for an approver, or no longer do."""
        delegate = str(event.data.get("delegate") or "")
        approver = str(event.data.get("approver") or "")
        until = date.fromisoformat(str(event.data.get("until")))
        text = msg.delegation_text(event.kind, approver, until, event.reason)
        self._dm(f"e{event.id}:dm:{delegate}", None, delegate, text)

    # --- Home tabs --------------------------------------------------------------------------------

    def _homes_changed(self, event: EventRow) -> set[str]:
        """The people whose Home tab shows something `event` changed."""
        if event.kind.startswith("delegation."):
            return {str(event.data.get("approver") or ""), str(event.data.get("delegate") or "")}
        if event.request_id is None:
            return set()
        request = request_store.get(self.database, event.request_id)
        if request is None:
            return set()
        people: set[str] = {request.requester_id}
        if event.kind in RECEIVED_CHANGES and event.order_id:
            order = order_store.get(self.database, event.order_id)
            if order is not None and order.recipient_id:
                people.add(order.recipient_id)
        if event.kind in WAITING_CHANGES or event.kind.startswith("order."):
            people |= self._decider_pool()  # what waits for them, and this month's spend
        return people

    def _decider_pool(self) -> set[str]:
        people = set(self.policy.approvers) | set(self.policy.escalation_approvers)
        if self.delegations is not None:
            people |= {d.delegate_id for d in self.delegations.running()}
        return people

    def _budget(self, request: RequestRow) -> tuple[Decimal, Decimal] | None:
        """(committed this month, monthly budget) of the requester, for the approvers."""
        if self.policy.monthly_budget is None or request.source not in SLACK_SOURCES:
            return None
        spent = ledger.spent(
            self.database, request.requester_id, ledger.month_of(request.created_at)
        )
        return spent, self.policy.monthly_budget

    def _decided(self, event: EventRow, request: RequestRow) -> None:
        orders = order_store.for_request(self.database, request.id)
        text, blocks = msg.approval_message(request, orders)
        for ref in refs.for_request(self.database, request.id, "approval"):
            self._update(request, ref, text, blocks, tell=False)
        self._update_status(request, orders)
        self._thread_now(event, request, msg.event_line(event.kind, None, request, event.reason))
        if event.kind != EventKind.REQUEST_CANCELLED:
            self._dm(
                f"e{event.id}:dm:{request.requester_id}",
                request,
                request.requester_id,
                msg.requester_update(event.kind, request, None, _public_reason(event)),
            )

    # --- orders ---------------------------------------------------------------------------------

    def _order_changed(self, event: EventRow, request: RequestRow, order: OrderRow) -> None:
        line = msg.event_line(event.kind, order, request, event.reason)
        if line:
            # Recorded as a step, so a retry of this event never adds the same line again.
            def collect() -> None:
                with self._lock:
                    self._lines.setdefault(request.id, []).append(line)

            self.steps.once(f"e{event.id}:line", collect)
        if event.kind == EventKind.ORDER_DELIVERED:
            self._deliver_to_recipient(event, request, order)
        elif event.kind == EventKind.ORDER_PLACED and order.state == "placed":
            found, recipient = self._find_recipient(order)
            if found and recipient:
                self._dm(
                    f"e{event.id}:dm:{recipient}",
                    request,
                    recipient,
                    msg.recipient_on_its_way(order, request),
                )
        elif event.kind in (
            EventKind.ORDER_FAILED,
            EventKind.ORDER_CANCELED,
            EventKind.ORDER_PARTIALLY_CANCELED,
        ):
            self._dm(
                f"e{event.id}:dm:{request.requester_id}",
                request,
                request.requester_id,
                msg.requester_update(event.kind, request, order, event.reason),
            )

    def _deliver_to_recipient(self, event: EventRow, request: RequestRow, order: OrderRow) -> None:
        """The code to the recipient's DM; when that cannot be, and Xoxoday was not asked to
        email it either, the requester and the operators are told, so a paid reward never
        silently reaches nobody."""
        found, recipient = self._find_recipient(order)
        if not found:
            return  # Slack did not answer: the event comes back, this step with it
        if recipient is None or not is_slack_user(recipient):
            self._undelivered(event, request, order, "they are not in this Slack workspace")
            return

        def send() -> None:
            vouchers = self.vouchers.for_order(order)
            text, blocks = msg.recipient_delivered(order, request, vouchers)
            self.client.chat_postMessage(
                channel=recipient, text=text, blocks=blocks, unfurl_links=False
            )

        outcome, _ = self._attempt(f"e{event.id}:dm:{recipient}", request, recipient, send)
        if outcome == "gone":
            self._undelivered(event, request, order, "Slack will not let me message them")

    def _find_recipient(self, order: OrderRow) -> tuple[bool, str | None]:
        """(answered, Slack user id or None). A CSV recipient is found by email; when Slack
        fails to answer, the failure is noted so the event is tried again later."""
        if order.recipient_id:
            return True, order.recipient_id
        if not order.email:
            return True, None
        try:
            return True, self.users.by_email(order.email)
        except Exception as exc:  # Slack unreachable or failing: not "no such person"
            self._local.failed.append(exc)
            return False, None

    def _undelivered(self, event: EventRow, request: RequestRow, order: OrderRow, why: str) -> None:
        if order.notify_receiver_email:
            return  # Xoxoday emails the voucher to them
        warning = msg.undelivered_code(order, request, why)

        with self.database.tx() as db:  # the alert and its step in one transaction: once
            if self.steps.settle(f"e{event.id}:undelivered:alert", "done"):
                events.append(
                    db,
                    EventKind.SYSTEM_ALERT,
                    request_id=request.id,
                    order_id=order.id,
                    actor=CONSUMER,
                    reason=msg.undelivered_alert(order, why),
                )
        self._dm(f"e{event.id}:undelivered", request, request.requester_id, warning)

    # --- Slack calls ----------------------------------------------------------------------------

    def _post(
        self,
        key: str,
        request: RequestRow | None,
        channel: str,
        text: str,
        blocks: msg.Blocks,
        *,
        tell: bool = True,
    ) -> tuple[str, tuple[str, str, str] | None]:
        """One post as a step: its outcome (see _attempt) and, when "ok", (channel, ts,
        target): Slack's channel id for it (an opaque D… id for a DM) and what it was
        addressed to, kept with the message so later edits know whom they reach."""

        def post() -> tuple[str, str, str]:
            answer = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
            return answer["channel"], answer["ts"], channel

        return self._attempt(f"{key}:{channel}", request, channel, post, tell=tell)

    def _update(
        self,
        request: RequestRow,
        ref: refs.MessageRef,
        text: str,
        blocks: msg.Blocks,
        *,
        tell: bool = True,
    ) -> bool:
        """Edit a message in place (an edit is the same however often it is made, so it is not
        recorded as a step). False when it failed for now."""
        channel, ts, target = ref.channel, ref.ts, ref.addressee
        if self._given_up(request, target):
            return True
        try:
            self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except SlackApiError as exc:
            error = _error(exc)
            if error in UNREACHABLE:
                self._give_up(request, target, error, tell=tell)
                return True
            if error in ("message_not_found", "cant_update_message", *REFUSED):
                log.warning("could not update %s/%s: %s", channel, ts, error)
                return True
            self._local.failed.append(exc)
            return False
        except Exception as exc:
            self._local.failed.append(exc)
            return False
        return True

    def _update_status(self, request: RequestRow, orders: list[OrderRow]) -> bool:
        text, blocks = msg.status_message(request, orders)
        return all(
            [
                self._update(request, ref, text, blocks)
                for ref in refs.for_request(self.database, request.id, "status")
            ]
        )

    def _thread(self, request: RequestRow, text: str, key: str | None = None) -> bool:
        """A reply under each status message; False when one failed for now. Without a `key`
        (batched lines, which are re-queued on failure) the reply is not a recorded step."""
        went_through = True
        for ref in refs.for_request(self.database, request.id, "status"):
            target = ref.addressee
            if self._given_up(request, target):
                continue
            outcome, _answer = self._attempt(
                f"{key}:{ref.channel}" if key else None,
                request,
                target,
                lambda ref=ref: self.client.chat_postMessage(
                    channel=ref.channel, thread_ts=ref.ts, text=text
                ),
            )
            went_through &= outcome != "later"
        return went_through

    def _thread_now(self, event: EventRow, request: RequestRow, line: str | None) -> None:
        if line:
            self._thread(request, line, key=f"e{event.id}:thread")

    def _dm(self, key: str, request: RequestRow | None, user_id: str, text: str | None) -> None:
        """A DM: posted to the person's id, which Slack delivers in the app's DM with them
        (docs.slack.dev/reference/methods/chat.postMessage#app_home). One call, not a
        conversations.open (Tier 3: 50 a minute) before each: a 50-person request would
        otherwise wait on Retry-After."""
        if not text or not is_slack_user(user_id):
            return
        self._step(
            key, request, user_id, lambda: self.client.chat_postMessage(channel=user_id, text=text)
        )

    def _alert(self, event: EventRow, text: str) -> None:
        line, blocks = msg.alert_message(text)
        key = f"e{event.id}:alert"
        if self.approval_channel:
            outcome, _posted = self._post(key, None, self.approval_channel, line, blocks)
            if outcome != "gone":
                return
        for approver in sorted(self.policy.approvers):
            self._dm(f"{key}:{approver}", None, approver, line)
