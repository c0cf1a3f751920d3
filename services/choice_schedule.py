"""Reminders and expiry of choices not made yet, scheduled from the database.

Modelled on the approval schedule (services/reminders.py): each offer waiting for its
recipient's choice carries its due times (storage/choices.py), given once from when it was
offered, so a restart changes nothing about when the next reminder is due; each round claims
what is due by compare-and-set in a write transaction with the event it causes, so two
schedulers never remind or expire the same offer twice. The events reach Slack through the
outbox like every other.

For an offer made at T, with REWARDS_CHOICE_REMIND = r1, r2… and REWARDS_CHOICE_EXPIRE = X:
- a reminder at T+r1, T+r2…, each to the recipient, with the button; after a long stop, one
  reminder for all that fell due (never a burst), and the next one as listed;
- expiry at T+X: the order is withdrawn, the amount it held goes back to the requester's
  budget, and the requester and the request's channel are told. Expiry comes first when both
  are due: an offer that expires is not reminded.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Protocol

from services.choices import Choices
from services.durations import in_words
from storage import choices as store
from storage import events
from storage.db import Database
from storage.models import EventKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ChoiceSchedule:
    remind_after: tuple[timedelta, ...] = field(
        default_factory=lambda: (timedelta(days=3), timedelta(days=10))
    )
    expire_after: timedelta = timedelta(days=30)


class ChoiceScheduler:
    def __init__(
        self,
        database: Database,
        choices: Choices,
        schedule: ChoiceSchedule,
        *,
        name: str = "scheduler",
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.choices = choices
        self.schedule = schedule
        self.name = name
        self._clock = clock

    def tick(self) -> int:
        """One round: schedule new offers, then expire and remind what is due; how many."""
        now = self._clock()
        self._schedule_new()
        return self._expire(now) + self._remind(now)

    def next_due(self) -> float | None:
        return store.next_due(self.database)

    def _offsets(self) -> list[float]:
        return [d.total_seconds() for d in self.schedule.remind_after]

    def _schedule_new(self) -> None:
        offsets = self._offsets()
        expire = self.schedule.expire_after.total_seconds()
        for choice in store.unscheduled(self.database):
            start = choice.offered_at or self._clock()
            with self.database.tx() as db:
                store.schedule(
                    db,
                    choice.order_id,
                    remind_at=start + offsets[0] if offsets else None,
                    expires_at=start + expire,
                )

    def _expire(self, now: float) -> int:
        expired = 0
        reason = f"not chosen within {in_words(self.schedule.expire_after)}"
        for choice in store.due(self.database, "expires_at", now):
            if self.choices.expire(choice.order_id, reason, actor=self.name):
                log.info("R-%s: the choice of order %s expired", choice.request_id, choice.order_id)
                expired += 1
        return expired

    def _remind(self, now: float) -> int:
        offsets = self._offsets()
        reminded = 0
        for choice in store.due(self.database, "remind_at", now):
            start = choice.offered_at or now
            # Every reminder that fell due counts as sent by this one: no burst after a stop.
            count = max(choice.reminders_sent + 1, sum(1 for o in offsets if start + o <= now))
            next_at = start + offsets[count] if count < len(offsets) else None
            with self.database.tx() as db:
                if not store.claim_reminder(
                    db, choice.order_id, choice.reminders_sent, count, now, next_at
                ):
                    continue
                events.append(
                    db,
                    EventKind.CHOICE_REMINDED,
                    request_id=choice.request_id,
                    order_id=choice.order_id,
                    actor=self.name,
                    data={
                        "round": count,
                        "of": len(offsets),
                        "expires_at": choice.expires_at,
                        "recipient": choice.recipient_id,
                    },
                )
            log.info("R-%s: choice reminder %d of %d", choice.request_id, count, len(offsets))
            reminded += 1
        return reminded


class Ticking(Protocol):
    """A schedule the worker's loop runs (services/reminders.py Scheduler, ChoiceScheduler)."""

    def tick(self) -> int: ...

    def next_due(self) -> float | None: ...


class Schedules:
    """Several schedules run as one in the worker's loop (the approvals', the choices'); one
    failing does not keep the others from their round."""

    def __init__(self, *schedules: Ticking) -> None:
        self.schedules = schedules

    def tick(self) -> int:
        done = 0
        for schedule in self.schedules:
            try:
                done += schedule.tick()
            except Exception:
                log.exception("%s's round failed; trying again next round", type(schedule).__name__)
        return done

    def next_due(self) -> float | None:
        due = [t for s in self.schedules if (t := s.next_due()) is not None]
        return min(due) if due else None
