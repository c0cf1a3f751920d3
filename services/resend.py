"""A recipient asks for their code to be emailed again: Xoxoday's resend, from Slack.

Xoxoday re-sends a delivered order's voucher email when getOrderDetails is asked with
`sendMailToReceiver: 1` (reference §3.7; PLE10034 when it cannot), to the address the order
was placed with. The same call serves `rewards-bot orders resend PO` for an operator. Here
the decision is the service's, from the signed user id: only the order's recipient may ask,
only for a delivered reward that comes as a code and has an email address, and once an hour
per order (claimed by compare-and-set, so a double click or two processes send one email).
The operator's command goes through the same hour (`resend_for_operator`): one fact, here.
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
        try:
            self._send(order, user_id, "the recipient asked for the code to be emailed again")
        except _TooSoon as soon:
            raise ResendRefused(
                "Xoxoday emailed this code again less than an hour ago; you can ask again "
                f"from {_hhmm(soon.next_at)} UTC. Check your spam folder meanwhile."
            ) from None
        except _Lost as lost:
            raise ResendRefused(
                "Xoxoday may have emailed your code just now, but its answer was lost. "
                "Check your inbox and spam folder; you can ask again from "
                f"{_hhmm(lost.next_at)} UTC."
            ) from lost.__cause__
        except _NotSent as failed:
            raise ResendRefused(
                "Xoxoday could not email your code just now; please try again in a few minutes."
            ) from failed.__cause__
        log.info("Xoxoday emails the code of %s again, as its recipient asked", order.po_number)
        return order

    def resend_for_operator(self, po_number: str, operator: str = "operator") -> OrderRow:
        """`rewards-bot orders resend PO`: an operator (who holds the database and the
        Xoxoday credentials already) has Xoxoday email a delivered code to the order's
        address: a code the bot could not give in Slack. The same hour as the recipient's
        button, shared with it. Raises ResendRefused with one line for the terminal."""
        order = order_store.by_po(self.database, po_number)
        if order is None:
            raise ResendRefused(f"no order with poNumber {po_number}")
        codes = kind_or_default(order.reward_type).codes
        if order.state != "delivered" or not order.email or not codes:
            missing = "" if order.email else " and has no email"
            raise ResendRefused(
                f"{order.po_number} is {order.state}{missing}: only a delivered order with a "
                "code and an email can be sent again"
            )
        try:
            self._send(order, operator, "an operator had the code emailed again")
        except _TooSoon as soon:
            raise ResendRefused(
                f"Xoxoday emailed the code of {order.po_number} again less than an hour ago; "
                f"it can be sent again from {_hhmm(soon.next_at)} UTC"
            ) from None
        except _Lost as lost:
            raise ResendRefused(
                f"Xoxoday may have emailed the code of {order.po_number} just now, but its "
                f"answer was lost ({lost.__cause__}); it can be sent again from "
                f"{_hhmm(lost.next_at)} UTC"
            ) from lost.__cause__
        except _NotSent as failed:
            raise ResendRefused(
                f"Xoxoday could not email {order.po_number}: {failed.__cause__}"
            ) from failed.__cause__
        log.info("Xoxoday emails the code of %s again, as an operator asked", order.po_number)
        return order

    def _send(self, order: OrderRow, actor: str, reason: str) -> None:
        """Claim the order's hour, ask Xoxoday, record it; the hour is given back only when
        Xoxoday's answer says it sent nothing."""
        now = self._clock()
        with self.database.tx() as db:
            taken, before = order_store.claim_email_resend(db, order.id, now, self.every_s)
            if not taken:
                if before is None:  # no longer delivered
                    raise ResendRefused(_why_not(order))
                raise _TooSoon(before + self.every_s)
        try:
            self.client.get_order_details(po_number=order.po_number, email_voucher=True)
        except xe.XoxodayError as exc:
            if not xe.said_not_done(exc):
                # A 5xx or a lost answer may come after the email went: the hour stays
                # taken, or each press of an impatient recipient sends one more email.
                log.warning("resend of %s: Xoxoday's answer was lost: %s", order.po_number, exc)
                raise _Lost(now + self.every_s) from exc
            with self.database.tx() as db:
                order_store.release_email_resend(db, order.id, now, before)
            log.warning("resend of %s failed: %s", order.po_number, exc)
            raise _NotSent() from exc
        with self.database.tx() as db:
            events.append(
                db,
                EventKind.ORDER_VOUCHER_RESENT,
                request_id=order.request_id,
                order_id=order.id,
                actor=actor,
                reason=reason,
            )


class _TooSoon(Exception):
    def __init__(self, next_at: float) -> None:
        self.next_at = next_at


class _Lost(Exception):
    """Xoxoday's answer was lost after the work: the email may have gone."""

    def __init__(self, next_at: float) -> None:
        self.next_at = next_at


class _NotSent(Exception):
    """Xoxoday said it sent nothing: the hour was given back."""


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
