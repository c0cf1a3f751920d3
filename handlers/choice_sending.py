"""What a recipient's choice sends, as part of the sender (handlers/sender.py, which it serves
as a base class): the offer with "Choose my reward" to the recipient (and each reminder), the
offers' DMs updated in place once the choice was made or expired (no button left), and a
recipient told when the card they chose could not be ordered. Each one-off message is a step,
told once. The requester hears of an expiry among their gathered updates (handlers/gathered.py)."""

from __future__ import annotations

from handlers import choice_messages
from handlers.targets import Targets, is_slack_user
from services.notices import Notices
from services.outbox import Outbox
from storage.models import EventKind, EventRow, OrderRow, RequestRow


class ChoiceSending:
    notices: Notices
    outbox: Outbox
    targets: Targets

    def _choice(self, event: EventRow, request: RequestRow, order: OrderRow) -> None:
        """The offer (and each reminder) to the recipient, with the button. The offers are
        kept, to take their buttons out once it ended."""
        choice = self.notices.choice(order.id)
        if choice is None:
            return
        if event.kind == EventKind.CHOICE_EXPIRED:
            return  # the requester is told by the notifier's gathered updates (_update_text)
        if order.state != "choosing" or not is_slack_user(order.recipient_id):
            return  # chosen or expired before this went: the Home and thread say so
        reminder = None
        if event.kind == EventKind.CHOICE_REMINDED:
            reminder = (int(event.data.get("round") or 1), int(event.data.get("of") or 1))
        text, blocks = choice_messages.offer_message(
            request, order, choice.amount, choice.expires_at, reminder=reminder
        )
        recipient = str(order.recipient_id)
        _outcome, posted = self.targets.post(f"e{event.id}:offer", request, recipient, text, blocks)
        if posted:
            self.notices.save_ref(request.id, "offer", *posted)
            # Chosen (or expired) while the offer was being posted: the offers' redraw found
            # none on record then, so it is marked again (as an ask, AskSending.redraw_if_changed).
            now = self.notices.order(order.id)
            if now is not None and now.state != "choosing":
                self.outbox.mark(f"offers:R{request.id}", request_id=request.id)

    def _offers(self, request: RequestRow) -> None:
        """Each offer DM of the request shows where its choice stands (no button once made)."""
        orders = {o.recipient_id: o for o in self.notices.orders(request.id) if o.recipient_id}
        for ref in self.notices.refs(request.id, "offer"):
            order = orders.get(ref.addressee)
            choice = self.notices.choice(order.id) if order is not None else None
            if order is None or choice is None or order.state == "choosing":
                continue
            text, blocks = choice_messages.offer_closed(
                request, order, choice.amount, expired=choice.expired_at is not None
            )
            self.targets.update(request, ref, text, blocks, tell=False)

    def _choice_failed(self, event: EventRow, request: RequestRow, order: OrderRow) -> None:
        """The recipient chose and waits for a code: say it will not come, and why."""
        if self.notices.choice(order.id) is None or not is_slack_user(order.recipient_id):
            return
        recipient = str(order.recipient_id)
        self.targets.dm(
            f"e{event.id}:dm:{recipient}",
            request,
            recipient,
            choice_messages.choice_failed(request, order, event.reason),
        )
