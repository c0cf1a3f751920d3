"""A recipient asks for their code to be emailed again: Xoxoday's resend, from Slack.

Xoxoday re-sends a delivered order's voucher email when getOrderDetails is asked with
`sendMailToReceiver: 1` (reference §3.7; PLE10034 when it cannot), to the address the order
was placed with. The same call serves `rewards-bot orders resend PO` for an operator. Here
the decision is the service's, from the signed user id: only the order's recipient may ask,
only for a delivered reward that comes as a code and has an email address, and once an hour
per order (claimed by compare-and-set, so a double click or two processes send one email).
When Xoxoday's answer says it sent nothing (PLE10034, a refusal before the work), the hour is
given back and the recipient may try again; when the answer is lost after the work (a 5xx, a
timeout), the email may have gone, so the hour stays taken.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import UTC, datetime

from services.errors import RewardError
from services.reward_types import kind_or_default
from services.xoxoday import errors as xe
from services.xoxoday.client import XoxodayClient
from storage import events
from storage import orders as order_store
from storage.db import Database
from storage.models import EventKind, OrderRow

log = logging.getLogger(__name__)

EVERY_S = 3600.0


class ResendRefused(RewardError):
    """Not sent: the sentence says why (and when it may be asked again)."""


class VoucherResend:
    def __init__(
        self,
        database: Database,
        client: XoxodayClient,
        *,
        every_s: float = EVERY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.client = client
        self.every_s = every_s
        self._clock = clock

    def resend(self, order_id: int, po_number: str, user_id: str) -> OrderRow:
        """Have Xoxoday email the code of `order_id` again, for `user_id` (the signed user).

        `po_number` is what the button named: a button drawn for another order with this id
        (after a restore) is refused. Raises ResendRefused with a sentence for the person.
        """
        order = order_store.get(self.database, order_id)
        if order is None or order.po_number != po_number:
            raise ResendRefused("This reward no longer exists.")
        if order.recipient_id != user_id:
            raise ResendRefused("Only the person who received this reward can have it re-sent.")
        if not can_resend(order):
            raise ResendRefused(_why_not(order))
        now = self._clock()
        with self.database.tx() as db:
            taken, before = order_store.claim_email_resend(db, order.id, now, self.every_s)
            if not taken:
                if before is None:  # no longer delivered
                    raise ResendRefused(_why_not(order))
                raise ResendRefused(
                    "Xoxoday emailed this code again less than an hour ago; you can ask again "
                    f"from {_hhmm(before + self.every_s)} UTC. Check your spam folder meanwhile."
                )
        try:
            self.client.get_order_details(po_number=order.po_number, email_voucher=True)
        except xe.XoxodayError as exc:
            if not xe.said_not_done(exc):
                # A 5xx or a lost answer may come after the email went: the hour stays
                # taken, or each press of an impatient recipient sends one more email.
                log.warning("resend of %s: Xoxoday's answer was lost: %s", order.po_number, exc)
                raise ResendRefused(
                    "Xoxoday may have emailed your code just now, but its answer was lost. "
                    "Check your inbox and spam folder; you can ask again from "
                    f"{_hhmm(now + self.every_s)} UTC."
                ) from exc
            with self.database.tx() as db:
                order_store.release_email_resend(db, order.id, now, before)
            log.warning("resend of %s for its recipient failed: %s", order.po_number, exc)
            raise ResendRefused(
                "Xoxoday could not email your code just now; please try again in a few minutes."
            ) from exc
        with self.database.tx() as db:
            events.append(
                db,
                EventKind.ORDER_VOUCHER_RESENT,
                request_id=order.request_id,
                order_id=order.id,
                actor=user_id,
                reason="the recipient asked for the code to be emailed again",
            )
        log.info("Xoxoday emails the code of %s again, as its recipient asked", order.po_number)
        return order


def can_resend(order: OrderRow) -> bool:
    """Whether "Email my code again" is offered for `order` (a delivered reward that comes as
    a code, with an email address, received by a Slack member); who may press it is checked
    on the press."""
    return (
        order.state == "delivered"
        and bool(order.email)
        and bool(order.recipient_id)
        and kind_or_default(order.reward_type).codes
    )


def _why_not(order: OrderRow) -> str:
    if not kind_or_default(order.reward_type).codes:
        return "This reward has no code to send by email."
    if order.state != "delivered":
        return "This reward is not delivered yet: its code comes once it is."
    return "Xoxoday has no email address for this reward, so it cannot send it again."


def _hhmm(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).strftime("%H:%M")
