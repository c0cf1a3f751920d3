"""Nobody's budget is spent without them knowing: a workflow's reward waits for its runner.

A `send_reward` step spends the budget of whoever ran the workflow (its `runner`, a
user_context Slack fills from the click that started it), and whoever clicks a shared
workflow's button becomes its runner. So the step first asks that person by DM, and nothing
is recorded, held or shown to approvers until they press Send (issue 16: four clicks on
"🍕 Click to RSVP" had held 392 of a colleague's 500 USD, unseen).

A question per step execution, in `workflow_consents`:

    asked ──Send──▶ sending ──recorded──▶ sent (its request id)
      │                 ├──refused by the intake (budget, limits…)──▶ refused
      │                 └──still sending SENDING_GRACE_S after expires_at──▶ expired
      ├──Don't send──▶ declined
      └──no answer by expires_at (a day)──▶ expired

Every move is a compare-and-set, so Send and Don't send clicked at once, or a click and the
expiry, end the question once. A click checks the clock itself: past `expires_at` it expires
the question whether or not the scheduler has run (services/deadlines.py does the same for
decisions). `sending` is re-entrant for Send (a crash or an unexpected error after the claim:
clicked again, the intake's idempotency key finds or makes the one request), as is `sent` (a
completion Slack lost: pressed again, the same request completes the step); both are closed
to Don't send. `sending` is not open for ever: SENDING_GRACE_S after the day it lapses like
an unanswered question (or is `sent`, when its request was recorded after all), so a press
weeks later records nothing.
An expiry is an event (workflow.consent_expired) the Slack side turns into the step's failure
and the DM's last word; every other answer is one too (workflow.consent_answered: the DM's
last word, said with the bot's token, since a step's token is revoked once the step ends).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from services.errors import RewardError
from storage import consents as store
from storage import events
from storage import requests as request_store
from storage.consents import ConsentRow
from storage.db import Database
from storage.models import EventKind

ANSWER_WITHIN_S = 86_400.0  # a day to press Send
# A Send pressed just before the day ends may still be recording its request: a question left
# `sending` (the recording raised something unexpected) lapses this long after the day.
SENDING_GRACE_S = 900.0
STALLED_S = 60.0  # a question whose DM was not recorded this long after: ask it again
# Where Send may be pressed: again after a crash (sending), or after a completion Slack lost
# (sent: the same request answers the step again).
OPEN = (store.ASKED, store.SENDING, "sent")

EXPIRED = "nobody pressed Send within a day, so nothing was sent and nothing was recorded"
DECLINED = "{who} chose not to send it, so nothing was sent and nothing was recorded"
LAPSED = (
    "Send was pressed but the request could not be recorded within a day, so nothing was "
    "sent and nothing was recorded"
)


def request_key(execution_id: str) -> str:
    """The idempotency key of the request a step execution records (one per execution)."""
    return f"slack:function:{execution_id}"


class ConsentClosed(RewardError):
    """The question was answered already (or expired): `row` says how."""

    def __init__(self, message: str, row: ConsentRow) -> None:
        super().__init__(message)
        self.row = row


class NotTheRunner(RewardError):
    """Someone other than the person who ran the workflow clicked."""


@dataclass(frozen=True)
class Asked:
    row: ConsentRow
    new: bool  # False: asked before (Slack replayed the step)


class Consents:
    def __init__(
        self,
        database: Database,
        *,
        clock: Callable[[], float] = time.time,
        answer_within_s: float = ANSWER_WITHIN_S,
    ) -> None:
        self.database = database
        self._clock = clock
        self.answer_within_s = answer_within_s

    def get(self, execution_id: str) -> ConsentRow | None:
        return store.get(self.database, execution_id)

    def ask(
        self,
        execution_id: str,
        runner: str,
        inputs: dict[str, Any],
        workflow_execution_id: str | None = None,
    ) -> Asked:
        """Record the question (once per execution)."""
        now = self._clock()
        with self.database.tx() as db:
            new = store.insert(
                db,
                execution_id=execution_id,
                workflow_execution_id=workflow_execution_id,
                runner=runner,
                inputs=inputs,
                asked_at=now,
                expires_at=now + self.answer_within_s,
            )
        row = self.get(execution_id)
        assert row is not None
        return Asked(row, new)

    def stalled(self, row: ConsentRow) -> bool:
        """Asked a while ago and its DM never recorded: the process asking stopped."""
        return row.ts is None and self._clock() - row.asked_at > STALLED_S

    def posted(self, execution_id: str, channel: str, ts: str) -> None:
        """Where the DM that asks is. Answered already (the runner pressed a button while
        Slack's answer to the post was on its way): the answer's event had no DM to change,
        so its last word is said again, now with the DM (the approval asks' race)."""
        with self.database.tx() as db:
            store.set_message(db, execution_id, channel, ts)
        row = self.get(execution_id)
        if row is None or row.state in (store.ASKED, store.SENDING):
            return
        detail = {"sent": f"R-{row.request_id}", "refused": row.reason or ""}.get(row.state, "")
        lapsed = row.state == "expired" and row.reason == LAPSED
        with self.database.tx() as db:
            _answered(db, row, "lapsed" if lapsed else row.state, detail)

    def claim_send(self, execution_id: str, user_id: str) -> ConsentRow:
        """`user_id` pressed Send: the question moves to `sending` (or stays there, after a
        crash). ConsentClosed when it was answered or has expired (then it is expired here,
        in the same transaction)."""
        row = self._theirs(execution_id, user_id)
        with self.database.tx() as db:
            # A request recorded after all (`sent` now) is completed again by this Send.
            expired = self._expire_if_due(db, row) == "expired"
            moved = None if expired else store.move(db, execution_id, OPEN, store.SENDING)
        if expired:  # after the commit: the expiry (and its event) stays
            current = self._now_row(execution_id)
            raise ConsentClosed(current.reason or EXPIRED, current)
        if moved is None:
            current = self._now_row(execution_id)
            raise ConsentClosed(f"it was {current.state} already", current)
        return moved

    def sent(self, execution_id: str, request_id: int, ref: str) -> None:
        """The step was completed with request `ref`: the DM says so (an event)."""
        with self.database.tx() as db:
            moved = store.move(db, execution_id, (store.SENDING,), "sent", request_id=request_id)
            if moved is not None:
                _answered(db, moved, "sent", ref)

    def refused(self, execution_id: str, reason: str) -> None:
        """Send was pressed but the intake refused the request (over budget, a limit…)."""
        with self.database.tx() as db:
            moved = store.move(db, execution_id, (store.SENDING,), "refused", reason=reason)
            if moved is not None:
                _answered(db, moved, "refused", reason)

    def decline(self, execution_id: str, user_id: str) -> ConsentRow:
        """`user_id` pressed Don't send. ConsentClosed when it was answered or has expired."""
        row = self._theirs(execution_id, user_id)
        with self.database.tx() as db:
            expired = self._expire_if_due(db, row) == "expired"
            moved = None if expired else store.move(db, execution_id, (store.ASKED,), "declined")
            if moved is not None:
                _answered(db, moved, "declined", "")
        if expired:
            current = self._now_row(execution_id)
            raise ConsentClosed(current.reason or EXPIRED, current)
        if moved is None:
            current = self._now_row(execution_id)
            raise ConsentClosed(f"it was {current.state} already", current)
        return moved

    def expire_due(self) -> int:
        """Questions nobody answered in time, and those left `sending` past the day and its
        grace (the recording raised something unexpected): ended, each with an event the
        Slack side turns into the step's failure and the DM's last word. Returns how many."""
        now = self._clock()
        ended = 0
        due = store.due(self.database, store.ASKED, now) + store.due(
            self.database, store.SENDING, now - SENDING_GRACE_S
        )
        for row in due:
            with self.database.tx() as db:
                if self._expire_if_due(db, row) is not None:
                    ended += 1
        return ended

    # --- helpers --------------------------------------------------------------------------

    def _theirs(self, execution_id: str, user_id: str) -> ConsentRow:
        row = self.get(execution_id)
        if row is None:
            raise ConsentClosed("this confirmation is no longer open", _missing(execution_id))
        if row.runner != user_id:
            raise NotTheRunner(
                "only the person who ran the workflow can send a reward from their budget"
            )
        return row

    def _now_row(self, execution_id: str) -> ConsentRow:
        row = self.get(execution_id)
        assert row is not None
        return row

    def _expire_if_due(self, db: Any, row: ConsentRow) -> str | None:
        """End `row` if its time has passed and it is still unanswered (inside the caller's
        transaction), with the event that ends the step: `asked` at the end of the day,
        `sending` SENDING_GRACE_S later (Send may be pressed again until then). A `sending`
        question whose request was recorded after all is `sent` instead. Returns the new
        state, or None when it stays as it is."""
        now = self._clock()
        if now < row.expires_at:
            return None
        moved = store.move(db, row.execution_id, (store.ASKED,), "expired", reason=EXPIRED)
        if moved is None and now >= row.expires_at + SENDING_GRACE_S:
            recorded = request_store.by_idempotency_key(
                self.database, request_key(row.execution_id)
            )
            if recorded is not None:  # "nothing was recorded" would be false
                sent = store.move(
                    db, row.execution_id, (store.SENDING,), "sent", request_id=recorded.id
                )
                if sent is None:
                    return None
                # Nobody completed the step (the Send that recorded it died first): the
                # delivery room completes it with the bot's token (handlers/consent_sender.py).
                _answered(db, sent, "sent", recorded.ref, complete=True)
                return "sent"
            moved = store.move(db, row.execution_id, (store.SENDING,), "expired", reason=LAPSED)
            if moved is not None:
                _expired(db, moved, LAPSED, was=store.SENDING)
                return "expired"
        if moved is None:
            return None
        _expired(db, moved, EXPIRED)
        return "expired"


def _expired(db: Any, row: ConsentRow, reason: str, was: str | None = None) -> None:
    """The step fails with `reason`, and the DM loses its buttons (said by the Slack side)."""
    data: dict[str, Any] = {
        "execution_id": row.execution_id,
        "runner": row.runner,
        "channel": row.channel,
        "ts": row.ts,
    }
    if was:
        data["was"] = was
    events.append(db, EventKind.WORKFLOW_CONSENT_EXPIRED, actor="clock", reason=reason, data=data)


def _answered(
    db: Any, row: ConsentRow, outcome: str, detail: str, *, complete: bool = False
) -> None:
    """The DM's last word, said by the Slack side with the bot's own token (a step's token is
    revoked once the step ends); `complete`: the step too, with its request's outputs."""
    data: dict[str, Any] = {
        "execution_id": row.execution_id,
        "runner": row.runner,
        "channel": row.channel,
        "ts": row.ts,
        "outcome": outcome,
    }
    if complete:
        data.update(complete=True, request_id=row.request_id)
    events.append(
        db,
        EventKind.WORKFLOW_CONSENT_ANSWERED,
        actor=row.runner,
        reason=detail or None,
        data=data,
    )


def _missing(execution_id: str) -> ConsentRow:
    return ConsentRow(
        execution_id=execution_id,
        workflow_execution_id=None,
        runner="",
        inputs={},
        state="missing",
        asked_at=0.0,
        expires_at=0.0,
        channel=None,
        ts=None,
        request_id=None,
        reason=None,
        updated_at="",
    )
