"""What goes to one person as one message, gathered in the outbox first: an approver's
reminder or escalation digest (every request that waits for them this round), and a
requester's updates (ten requests approved in a burst are one DM, not ten), marked by the
notifier in event order and told in that order. Part of the sender (handlers/sender.py), which
it serves as a base class; each entry is still told once.
"""

from __future__ import annotations

import hashlib
import logging

from slack_sdk import WebClient

from handlers import ask_messages, choice_messages, digest_messages, dm_messages
from handlers import messages as msg
from handlers.targets import Targets, is_slack_user
from services.delegation import Deciders
from services.errors import PolicyRefusal
from services.notices import Notices
from services.notify import Steps
from services.outbox import Outbox, OutboxRow
from storage.models import EventKind, EventRow, OrderRow, RequestRow

log = logging.getLogger(__name__)


def public_reason(event: EventRow) -> str | None:
    """What everyone but the approvers may read about an event (the approvers' note can
    carry the wallet's figures); older events without it show nothing more."""
    if event.kind == EventKind.REQUEST_NEEDS_APPROVAL:
        return str(event.data.get("public") or "")
    return event.reason


def tell_requester(outbox: Outbox, request: RequestRow, key: str, **what: object) -> None:
    """A requester's update (an event's: `event=` its id; or `complete=True`) joins their next
    DM, so ten requests approved in a burst tell them in one message, not ten. Its words are
    written when it goes (_update_text). The notifier marks them as it hands each event over,
    in event order, so the DM reads in the order things happened. `key` is its step."""
    user = request.requester_id
    if is_slack_user(user):
        item = {"key": key, "request_id": request.id, **what}
        outbox.mark(f"dm:{user}", target=user, item=item)


class Gathered:
    notices: Notices
    outbox: Outbox
    targets: Targets
    steps: Steps
    client: WebClient
    deciders: Deciders

    # --- a requester's updates: a burst of them is one DM -------------------------------------

    def _update_text(self, entry: dict[str, object]) -> str | None:
        """What an update says, written now: an event's (approved, failed…) or the request
        complete. None when there is nothing to say (an automatic approval's event…)."""
        if "text" in entry:  # marked with its words (before they were written when sent)
            return str(entry["text"] or "") or None
        request = self.notices.request(int(str(entry["request_id"])))
        if request is None:
            return None
        if entry.get("complete"):
            return dm_messages.request_complete(request, self.notices.orders(request.id))
        event = self.notices.event(int(str(entry.get("event"))))
        if event is None:
            return None
        order = self.notices.order(event.order_id) if event.order_id else None
        if event.kind == EventKind.CHOICE_EXPIRED and order is not None:
            choice = self.notices.choice(order.id)
            if choice is None:
                return None
            return choice_messages.expired_to_requester(request, order, choice.amount)
        if event.kind == EventKind.REQUEST_APPROVED and any(
            o.state == "choosing" for o in self.notices.orders(request.id)
        ):
            return choice_messages.approved_to_requester(request)  # the recipients choose first
        return dm_messages.requester_update(event.kind, request, order, public_reason(event))

    def _updates(self, row: OutboxRow) -> int:
        """The updates waiting for one person, in the order they were marked (the order things
        happened), in as few DMs as fit Slack's text limit. Each update is a step: told once."""
        user = str(row.target)
        waiting: dict[str, dict[str, object]] = {}
        for entry in row.data:
            key = str(entry["key"])
            if key in waiting or self.steps.done(key):
                continue
            text = self._update_text(entry)
            if text is None:
                self.steps.settle(key, "done")
            else:
                waiting[key] = {**entry, "text": text}
        entries = list(waiting.values())
        texts = [str(e["text"]) for e in entries]
        sent = 0
        for message in msg.replies(texts):
            part = entries[sent : sent + len(message)]
            request = self.notices.request(int(str(part[0]["request_id"])))
            outcome, _ = self.targets.attempt(
                None,
                request,
                user,
                lambda message=message: self.client.chat_postMessage(
                    channel=user, text="\n".join(message)
                ),
            )
            if outcome == "later":
                break  # the failure is recorded: the row comes back with what is left
            for entry in part:
                self.steps.settle(str(entry["key"]), "done" if outcome == "ok" else "gave_up")
            sent += len(message)
        return len(row.data)

    # --- reminders and escalation: one digest per approver per round ----------------------------

    def _digest_entries(
        self, entries: list[dict[str, object]], why: str, reader: str
    ) -> list[digest_messages.Entry]:
        found = []
        for entry in entries:
            request = self.notices.request(int(str(entry["request_id"])))
            if request is not None:
                acting_for = str(entry.get("acting_for") or "") or None
                orders = self.notices.orders(request.id)
                found.append(
                    digest_messages.Entry(
                        request,
                        orders,
                        acting_for,
                        round=int(str(entry.get("round") or 0)) if why == "remind" else 0,
                        of=int(str(entry.get("of") or 0)),
                        closed=self._closed(reader, request, orders, acting_for),
                    )
                )
        return sorted(found, key=lambda e: e.request.waiting_since or e.request.created_at)

    def _numbered(self, person: str, entry: dict[str, object]) -> dict[str, object]:
        """A reminder numbered for `person` from what they were sent: someone asked from
        the escalation on never had reminder 1, so their first reads "1 of 2", not "2 of 3".
        Saved with the digest, so a redraw keeps the number it was sent with."""
        round_, of = int(str(entry.get("round") or 1)), int(str(entry.get("of") or 1))
        sent = self.outbox.digests_sent(person, "remind", int(str(entry["request_id"])))
        return {**entry, "round": sent + 1, "of": sent + 1 + max(0, of - round_)}

    def _closed(
        self, reader: str, request: RequestRow, orders: list[OrderRow], acting_for: str | None
    ) -> str:
        """Why `reader` may no longer decide a waiting request they were asked about (their
        delegation ended, they are no longer an approver); empty while they may."""
        if request.state != "pending_approval":
            return ""
        try:
            self.deciders.acting_for(reader, request, [o.recipient_id for o in orders])
        except PolicyRefusal:
            return ask_messages.no_longer_note(acting_for)
        return ""

    def _digest(self, row: OutboxRow) -> int:
        """What waits for one approver this round, in one DM; the requests decided since the
        reminder was due are left out (a digest with nothing left is not sent)."""
        person = str(row.target)
        why = row.key.split(":")[1]
        latest: dict[int, dict[str, object]] = {}
        for entry in row.data:
            latest[int(entry["request_id"])] = entry
        if why == "remind":
            latest = {rid: self._numbered(person, e) for rid, e in latest.items()}
        entries = [
            e
            for e in self._digest_entries(list(latest.values()), why, person)
            if e.request.state == "pending_approval" and not e.closed
        ]
        if not entries:
            return len(row.data)
        text, blocks = digest_messages.digest(why, entries, len(entries))
        kept = [e for e in latest.values() if int(str(e["request_id"])) in _ids(entries)]
        outcome, posted = self.targets.post(
            digest_step(why, person, row.data), None, person, text, blocks, tell=False
        )
        if posted:
            channel, ts, _target = posted
            self.outbox.save_digest(channel, ts, person, why, kept)
            # As for an ask (SlackSender.redraw_if_changed): a request decided while the digest
            # was being posted was redrawn without it; its entry is redrawn now.
            for entry in self._digest_entries(kept, why, person):
                if entry.request.state != "pending_approval" or entry.closed:
                    self.outbox.mark(f"asks:R{entry.request.id}", request_id=entry.request.id)
        elif outcome == "gone":
            log.warning("cannot remind %s in Slack: the requests wait on their Home tab", person)
        return len(row.data)


def digest_step(why: str, person: str, data: list[dict[str, object]]) -> str:
    """The digest's step: named by what it tells (each request and its round), which no later
    digest tells again. Not the outbox row's version: that starts again at 1 once the sent row
    is tidied (services/outbox.py, KEEP_SENT_S), so the next round's digest found its step
    'done' and was never sent. A retry of the same digest keeps its step: it is not sent twice."""
    told = sorted({f"{e.get('request_id')}.{e.get('round') or 1}" for e in data})
    digest = hashlib.sha256(",".join(told).encode()).hexdigest()[:16]
    return f"digest:{why}:{person}:{digest}"


def _ids(entries: list[digest_messages.Entry]) -> set[int]:
    return {e.request.id for e in entries}
