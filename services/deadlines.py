"""When a waiting request escalates and expires, read from the clock.

The scheduler (services/reminders.py) acts at these times, but a decision never waits for it:
with the worker stopped, on standby or in a long round, a click after the expiry would
otherwise be accepted, and an escalation approver's right would hang on the scheduler having
run. So the decision (services/rewards.py, inside the transaction that records it) and
Deciders (services/delegation.py) ask this module, with the time of the click:

- a request expires at its stored `expires_at`, or, before the scheduler gave it one, at
  `waiting_since + REWARDS_EXPIRE_AFTER`;
- it is escalated once the scheduler marked it so (`escalated_at`), or from its stored
  `escalate_at`, or, before the scheduler gave it one, from `waiting_since +
  REWARDS_ESCALATE_AFTER`, whichever comes first.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from services.durations import in_words
from storage.models import RequestRow

MAX_REMINDERS = 3


@dataclass(frozen=True)
class Schedule:
    remind_after: timedelta = timedelta(hours=24)
    escalate_after: timedelta = timedelta(hours=72)
    expire_after: timedelta = timedelta(days=7)
    escalates: bool = False  # REWARDS_ESCALATION_APPROVERS is not empty
    max_reminders: int = MAX_REMINDERS

    def expiry_reason(self) -> str:
        return f"nobody decided within {in_words(self.expire_after)}"


def waiting_since(request: RequestRow) -> float:
    """When the request's schedule starts (epoch seconds)."""
    return datetime.fromisoformat(request.waiting_since or request.created_at).timestamp()


def expires_at(request: RequestRow, schedule: Schedule | None) -> float | None:
    """When `request` expires (None: never, as far as anything here knows)."""
    if request.expires_at is not None:
        return request.expires_at
    if schedule is None:
        return None
    return waiting_since(request) + schedule.expire_after.total_seconds()


def is_expired(request: RequestRow, schedule: Schedule | None, now: float) -> bool:
    due = expires_at(request, schedule)
    return request.state == "pending_approval" and due is not None and now >= due


def is_escalated(request: RequestRow, schedule: Schedule | None, now: float) -> bool:
    """Whether escalation approvers may decide `request` at `now`."""
    if request.escalated_at is not None:
        return True
    if schedule is None or not schedule.escalates:
        return False
    due = request.escalate_at
    if due is None:
        due = waiting_since(request) + schedule.escalate_after.total_seconds()
    return now >= due
