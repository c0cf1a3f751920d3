"""Reminders, escalation and expiry of waiting requests, scheduled from the database.

No timer lives in memory: each waiting request carries its due times (storage/schedule.py),
given once from when it started waiting, so a restart (or a SIGKILL) changes nothing about
when the next reminder is due. Each round (`tick`) claims what is due by compare-and-set, in a
write transaction together with the event it causes, so two schedulers (two threads, two
processes) never remind, escalate or expire the same request twice. The events go to Slack
through the notification outbox (services/notify.py), which retries each message on its own.

For a request waiting since T, with REWARDS_REMIND_AFTER = R, REWARDS_ESCALATE_AFTER = E and
REWARDS_EXPIRE_AFTER = X:
- reminders at T+R, T+2R, T+3R (at most MAX_REMINDERS), each to everyone who may decide it;
  after a stop, one late reminder is sent and the next comes an interval later, not a burst;
- escalation at T+E, once: REWARDS_ESCALATION_APPROVERS are asked too, and may decide from then
  on (without escalation approvers there is nothing to escalate);
- a workflow's question to its runner unanswered for a day expires (services/consent.py);
- delegations that no longer hold (last day passed, approver no longer one or deactivated)
  end first, each round, and their delegates are told (services/delegation.py);
- expiry at T+X: the request becomes `expired`, its orders are withdrawn and its budget given
  back (RewardService.expire). Whatever is due at once, expiry comes first: a request that
  expires is not reminded.

The worker's loop runs `tick` (services/worker.py), so `rewards-bot run` and `rewards-bot
worker` both schedule, and only the worker holding the lease does; the compare-and-set claims
are what makes any number of schedulers safe.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from services.consent import Consents
from services.deadlines import MAX_REMINDERS, Schedule, waiting_since
from services.delegation import Delegations
from services.durations import in_words
from services.errors import RequestNotPending
from services.policy import PeopleDirectory
from services.rewards import RewardService
from storage import events
from storage import schedule as store
from storage.db import Database
from storage.models import EventKind

log = logging.getLogger(__name__)

__all__ = ["MAX_REMINDERS", "Schedule", "Scheduler", "waiting_since"]


class Scheduler:
    def __init__(
        self,
        database: Database,
        rewards: RewardService,
        schedule: Schedule,
        *,
        name: str = "scheduler",
        clock: Callable[[], float] = time.time,
        delegations: Delegations | None = None,
        people: PeopleDirectory | None = None,
        consents: Consents | None = None,
    ) -> None:
        self.database = database
        self.rewards = rewards
        self.schedule = schedule
        self.name = name
        self._clock = clock
        # Delegations that no longer hold end here, each round (services/delegation.py).
        self.delegations = delegations
        self.people = people
        # Workflows' questions nobody answered within a day end here (services/consent.py).
        self.consents = consents

    def tick(self) -> int:
        """One round: schedule new waiting requests, then expire, escalate and remind what is
        due. Returns how many requests were expired, escalated or reminded by this caller."""
        now = self._clock()
        self._end_delegations()
        if self.consents is not None and self.consents.expire_due():
            log.info("workflow confirmations expired")
        self._schedule_new()
        done = self._expire(now)
        done += self._escalate(now)
        done += self._remind(now)
        return done

    def next_due(self) -> float | None:
        """The earliest due time of any waiting request (the worker sleeps no longer)."""
        return store.next_due(self.database)

    # --- the steps ------------------------------------------------------------------------------

    def _end_delegations(self) -> None:
        """Dated out, their approver no longer one or deactivated (as the directory already
        knows, without asking Slack here): ended, and each delegate told."""
        if self.delegations is None:
            return
        people = self.people
        ended = self.delegations.end_lapsed(people.is_active if people is not None else None)
        if ended:
            log.info("%d delegation(s) ended", ended)

    def _schedule_new(self) -> None:
        s = self.schedule
        for request in store.unscheduled(self.database):
            start = waiting_since(request)
            with self.database.tx() as db:
                store.schedule(
                    db,
                    request.id,
                    remind_at=start + s.remind_after.total_seconds() if s.max_reminders else None,
                    escalate_at=start + s.escalate_after.total_seconds() if s.escalates else None,
                    expires_at=start + s.expire_after.total_seconds(),
                )

    def _expire(self, now: float) -> int:
        expired = 0
        reason = self.schedule.expiry_reason()
        for request in store.due(self.database, "expires_at", now):
            try:
                self.rewards.expire(request.id, reason, actor=self.name)
            except RequestNotPending:
                continue  # decided, or expired by another scheduler, a moment ago
            log.info("%s expired: %s", request.ref, reason)
            expired += 1
        return expired

    def _escalate(self, now: float) -> int:
        escalated = 0
        for request in store.due(self.database, "escalate_at", now):
            with self.database.tx() as db:
                if not store.claim_escalation(db, request.id, now):
                    continue
                events.append(
                    db,
                    EventKind.REQUEST_ESCALATED,
                    request_id=request.id,
                    actor=self.name,
                    reason=f"waiting for {in_words(self.schedule.escalate_after)}",
                )
            log.info("%s escalated", request.ref)
            escalated += 1
        return escalated

    def _remind(self, now: float) -> int:
        interval = self.schedule.remind_after.total_seconds()
        reminded = 0
        for request in store.due(self.database, "remind_at", now):
            sent = request.reminders_sent + 1
            next_at = None
            if sent < self.schedule.max_reminders and request.remind_at is not None:
                # On time after a short stop; after a long one, an interval from now (no burst).
                next_at = request.remind_at + interval
                if next_at <= now:
                    next_at = now + interval
            with self.database.tx() as db:
                count = store.claim_reminder(db, request.id, request.reminders_sent, now, next_at)
                if count is None:
                    continue
                events.append(
                    db,
                    EventKind.REQUEST_REMINDED,
                    request_id=request.id,
                    actor=self.name,
                    data={"round": count, "of": self.schedule.max_reminders},
                )
            log.info("%s: reminder %d of %d", request.ref, count, self.schedule.max_reminders)
            reminded += 1
        return reminded
