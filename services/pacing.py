"""A pacer for a chat platform's Web API: at most N calls per window on each lane.

A lane is what the platform counts calls on: one method (its tier), or one conversation (posts
into one channel). A person's DM has two names, their user id and the D… channel a post to it
answers with; the pacer learns the pair from that answer (`same_conversation`) and keeps it in
the database, so both names are one lane in every process (`conversation`). The count lives
in the database (storage/slack_pace.py), so every process on the file paces against the same
record and a burst from two processes still stays under the limit. `reserve` never sleeps: it
takes a call now, or says how long until one may go, and the caller does other work meanwhile
(a lane that is held back never stalls another). A refusal from the platform (HTTP 429 with
Retry-After) holds the lane for that long.

Why not pyrate-limiter or limits: limits keeps shared counts only in Redis, Memcached, MongoDB
or etcd, none of which this bot runs; pyrate-limiter's SQLiteBucket counts every row of its
table against one rate (a table per lane, one per DM channel), needs its own connection and the
filelock package to be shared by processes, and leaks on a background thread. One table and two
statements do what is needed here.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from storage import slack_pace
from storage.db import Database

FORGET_EVERY_S = 60.0


@dataclass(frozen=True)
class Rule:
    limit: int  # calls …
    window_s: float  # … in any window this long


class Pacer:
    def __init__(self, database: Database, *, clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self._clock = clock
        self._lock = threading.Lock()
        self._blocked: dict[str, float] = {}  # lane -> until (this process's latest answer)
        self._dms: dict[str, str] = {}  # D… channel -> user id (it never changes)
        self._forgot = 0.0

    def now(self) -> float:
        return self._clock()

    def reserve(self, lane: str, rule: Rule) -> float:
        """0.0: one call of `lane` may go now (and is counted); else seconds to wait."""
        now = self._clock()
        with self._lock:
            until = self._blocked.get(lane, 0.0)
        if until > now:
            return until - now
        wait = slack_pace.reserve(self.database, lane, rule.limit, rule.window_s, now)
        if wait > 0:
            with self._lock:
                self._blocked[lane] = now + wait
        self._forget(now)
        return wait

    def conversation(self, channel: str) -> str:
        """The one name of the conversation `channel` is: a DM's D… channel is its person."""
        if not channel.startswith("D"):
            return channel
        with self._lock:
            known = self._dms.get(channel)
        if known is None:
            known = slack_pace.dm_user(self.database, channel)
            if known is None:
                return channel  # not learned yet: no post to the person has answered with it
            with self._lock:
                self._dms[channel] = known
        return known

    def same_conversation(self, channel: str, user_id: str) -> None:
        """A post to `user_id` landed in `channel`: from now on they are one lane."""
        with self._lock:
            if self._dms.get(channel) == user_id:
                return
            self._dms[channel] = user_id
        slack_pace.same_conversation(self.database, channel, user_id)

    def hold(self, lane: str, seconds: float) -> float:
        """The platform refused a call on `lane` for `seconds`: the time it may go again."""
        until = self._clock() + max(seconds, 0.0)
        slack_pace.hold(self.database, lane, until)
        with self._lock:
            self._blocked[lane] = max(self._blocked.get(lane, 0.0), until)
        return until

    def blocked(self) -> dict[str, float]:
        """Lanes this process knows to be held back, with until when."""
        now = self._clock()
        with self._lock:
            self._blocked = {k: v for k, v in self._blocked.items() if v > now}
            return dict(self._blocked)

    def _forget(self, now: float) -> None:
        if now - self._forgot < FORGET_EVERY_S:
            return
        self._forgot = now
        slack_pace.forget_before(self.database, now - 3600)
