"""Domain events rendered into Slack: the status message and its thread, approvals, DMs.

Requests and decisions are shown at once. Order changes are collected and flushed at most once
per `min_interval_s` per request: one status update and one thread reply for everything that
changed, so a 40-recipient request stays well inside chat.update's and chat.postMessage's
rate limits while still reading as progress (12 of 40 placed…).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from decimal import Decimal

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers import messages as msg
from handlers.users import UserDirectory
from services.policy import Policy
from services.vouchers import VoucherSource
from storage import ledger
from storage import messages as refs
from storage import orders as order_store
from storage import requests as request_store
from storage.db import Database
from storage.models import EventRow, OrderRow, RequestRow

log = logging.getLogger(__name__)

UNREACHABLE = {"not_in_channel", "channel_not_found", "is_archived", "restricted_action"}


def is_slack_user(user_id: str | None) -> bool:
    return bool(user_id) and user_id[0] in "UW" and user_id[1:].isalnum()  # type: ignore[index]


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
    ) -> None:
        self.client = client
        self.database = database
        self.vouchers = vouchers
        self.policy = policy
        self.users = users or UserDirectory(client)
        self.approval_channel = approval_channel
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._lines: dict[int, list[str]] = {}  # request id -> changes not yet posted
        self._last_flush: dict[int, float] = {}

    # --- the Notifier interface ---------------------------------------------------------------

    def notify(self, event: EventRow) -> None:
        if event.kind == "system.alert":
            self._alert(event.reason or "")
            return
        if event.request_id is None:
            return
        request = request_store.get(self.database, event.request_id)
        if request is None:
            return
        order = order_store.get(self.database, event.order_id) if event.order_id else None
        if event.kind == "request.created":
            self._created(request, auto=bool(event.data.get("auto_approvable")))
        elif event.kind == "request.needs_approval":
            self._ask_approvers(request, note=event.reason or "")
            self._thread_now(request, msg.event_line(event.kind, None, request, event.reason))
        elif event.kind.startswith("request."):
            self._decided(request, event)
        elif order is not None:
            self._order_changed(request, order, event)

    def flush(self, force: bool = False) -> None:
        """Post the collected order changes of each request whose interval has passed."""
        now = self._clock()
        with self._lock:
            due = [
                request_id
                for request_id, lines in self._lines.items()
                if lines
                and (force or now - self._last_flush.get(request_id, -1e9) >= self.min_interval_s)
            ]
            batches = {request_id: self._lines.pop(request_id) for request_id in due}
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
            orders = order_store.for_request(self.database, request_id)
            self._update_status(request, orders)
            self._thread(request, "\n".join(lines))
            if all(o.is_terminal for o in orders) and any(o.state != "withdrawn" for o in orders):
                self._dm(request.requester_id, msg.request_complete(request, orders))

    # --- requests -------------------------------------------------------------------------------

    def _created(self, request: RequestRow, *, auto: bool) -> None:
        orders = order_store.for_request(self.database, request.id)
        if request.channel_id:
            text, blocks = msg.status_message(request, orders)
            posted = self._post(
                request.channel_id, text, blocks, fallback_user=request.requester_id
            )
            if posted:
                refs.save(self.database, request.id, "status", *posted)
        if request.state == "pending_approval" and not auto:
            self._ask_approvers(request)

    def _ask_approvers(self, request: RequestRow, note: str = "") -> None:
        if refs.for_request(self.database, request.id, "approval"):
            return  # already asked (a retry of this event)
        orders = order_store.for_request(self.database, request.id)
        text, blocks = msg.approval_message(
            request, orders, budget=self._budget(request), note=note
        )
        targets = (
            [self.approval_channel] if self.approval_channel else sorted(self.policy.approvers)
        )
        if not targets:
            log.warning("%s needs approval but REWARDS_APPROVERS is empty", request.ref)
        for target in targets:
            posted = self._post(target, text, blocks)  # type: ignore[arg-type]
            if posted:
                refs.save(self.database, request.id, "approval", *posted)

    def _budget(self, request: RequestRow) -> tuple[Decimal, Decimal] | None:
        """(committed this month, monthly budget) of the requester, for the approvers."""
        if self.policy.monthly_budget is None or request.source != "slack":
            return None
        spent = ledger.spent(
            self.database, request.requester_id, ledger.month_of(request.created_at)
        )
        return spent, self.policy.monthly_budget

    def _decided(self, request: RequestRow, event: EventRow) -> None:
        orders = order_store.for_request(self.database, request.id)
        text, blocks = msg.approval_message(request, orders)
        for ref in refs.for_request(self.database, request.id, "approval"):
            self._update(ref.channel, ref.ts, text, blocks)
        self._update_status(request, orders)
        self._thread_now(request, msg.event_line(event.kind, None, request, event.reason))
        if event.kind != "request.cancelled":
            self._dm(
                request.requester_id, msg.requester_update(event.kind, request, None, event.reason)
            )

    # --- orders ---------------------------------------------------------------------------------

    def _order_changed(self, request: RequestRow, order: OrderRow, event: EventRow) -> None:
        line = msg.event_line(event.kind, order, request, event.reason)
        if line:
            with self._lock:
                self._lines.setdefault(request.id, []).append(line)
        if event.kind == "order.delivered":
            self._deliver_to_recipient(request, order)
        elif event.kind == "order.placed" and order.state == "placed":
            recipient = self._recipient_id(order)
            if recipient:
                self._dm(recipient, msg.recipient_on_its_way(order, request))
        elif event.kind in ("order.failed", "order.canceled"):
            self._dm(
                request.requester_id, msg.requester_update(event.kind, request, order, event.reason)
            )

    def _deliver_to_recipient(self, request: RequestRow, order: OrderRow) -> None:
        recipient = self._recipient_id(order)
        if recipient is None:
            return  # not in Slack: Xoxoday emails them when asked to
        vouchers = self.vouchers.for_order(order)
        text, blocks = msg.recipient_delivered(order, request, vouchers)
        channel = self._dm_channel(recipient)
        if channel:
            self.client.chat_postMessage(
                channel=channel, text=text, blocks=blocks, unfurl_links=False
            )

    def _recipient_id(self, order: OrderRow) -> str | None:
        if order.recipient_id:
            return order.recipient_id
        return self.users.by_email(order.email) if order.email else None

    # --- Slack calls ----------------------------------------------------------------------------

    def _post(
        self, channel: str, text: str, blocks: msg.Blocks, *, fallback_user: str | None = None
    ) -> tuple[str, str] | None:
        """Post; when the bot cannot write there, fall back to the user's DM."""
        try:
            answer = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
        except SlackApiError as exc:
            error = exc.response.get("error")
            if error in UNREACHABLE and fallback_user and is_slack_user(fallback_user):
                log.warning("cannot post in %s (%s); using a DM", channel, error)
                return self._post(self._dm_channel(fallback_user) or fallback_user, text, blocks)
            if error in UNREACHABLE:
                log.warning("cannot post in %s (%s)", channel, error)
                return None
            raise
        return answer["channel"], answer["ts"]

    def _update(self, channel: str, ts: str, text: str, blocks: msg.Blocks) -> None:
        try:
            self.client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks)
        except SlackApiError as exc:
            if exc.response.get("error") not in (
                "message_not_found",
                "cant_update_message",
                *UNREACHABLE,
            ):
                raise
            log.warning("could not update %s/%s: %s", channel, ts, exc.response.get("error"))

    def _update_status(self, request: RequestRow, orders: list[OrderRow]) -> None:
        text, blocks = msg.status_message(request, orders)
        for ref in refs.for_request(self.database, request.id, "status"):
            self._update(ref.channel, ref.ts, text, blocks)

    def _thread(self, request: RequestRow, text: str) -> None:
        for ref in refs.for_request(self.database, request.id, "status"):
            self.client.chat_postMessage(channel=ref.channel, thread_ts=ref.ts, text=text)

    def _thread_now(self, request: RequestRow, line: str | None) -> None:
        if line:
            self._thread(request, line)

    def _dm_channel(self, user_id: str) -> str | None:
        if not is_slack_user(user_id):
            return None
        return self.client.conversations_open(users=user_id)["channel"]["id"]

    def _dm(self, user_id: str, text: str | None) -> None:
        if not text:
            return
        channel = self._dm_channel(user_id)
        if channel:
            self.client.chat_postMessage(channel=channel, text=text)

    def _alert(self, text: str) -> None:
        line, blocks = msg.alert_message(text)
        if self.approval_channel:
            self._post(self.approval_channel, line, blocks)
        else:
            for approver in sorted(self.policy.approvers):
                self._dm(approver, line)
