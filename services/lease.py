"""One active worker per database.

Recovery treats every `placing` order as possibly in flight; that is only safe when no other
worker is placing at the same time. The worker holds a lease row that it renews; another
worker waits until it expires, or takes over at once when the holder's process is gone.
"""

from __future__ import annotations

import json
import os
import socket
import time
from collections.abc import Callable
from typing import Any

from storage import kv
from storage.db import Database

LEASE_KEY = "worker.lease"
LEASE_S = 30.0


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def free_for(current: dict, holder: str, host: str, now: float) -> bool:
    """Whether what `current` records (holder, host, pid, expires_at) may be taken by
    `holder` on `host`: it is its own, it expired, or its process on this machine is gone
    (killed: no need to wait for expiry). The worker's lease and the delivery room's claims
    (services/outbox.py) share this one rule."""
    if current.get("holder") == holder:
        return True
    if current.get("expires_at", 0) < now:
        return True
    return current.get("host") == host and not _alive(int(current.get("pid", 0)))


class Lease:
    def __init__(
        self,
        database: Database,
        holder: str,
        *,
        ttl_s: float = LEASE_S,
        clock: Callable[[], float] = time.time,
        details: Callable[[], dict[str, Any]] | None = None,
        key: str = LEASE_KEY,
    ) -> None:
        self.database = database
        self.key = key  # another lease than the worker's: the catalog refresh's
        # More facts stored with each renewal (the worker's last round, for /metrics).
        self._details = details
        self.holder = holder
        self.ttl_s = ttl_s
        self._clock = clock
        self._host = socket.gethostname()

    def _value(self) -> str:
        return json.dumps(
            {
                "holder": self.holder,
                "host": self._host,
                "pid": os.getpid(),
                "expires_at": self._clock() + self.ttl_s,
                **(self._details() if self._details else {}),
            }
        )

    def _free(self, current: dict) -> bool:
        return free_for(current, self.holder, self._host, self._clock())

    def try_acquire(self) -> bool:
        """Take or renew the lease; False when another live worker holds it."""
        raw = kv.get(self.database, self.key)
        if raw is not None and not self._free(json.loads(raw)):
            return False
        return kv.compare_and_set(self.database, self.key, raw, self._value())

    def live_holder(self) -> dict | None:
        """Who holds the lease now, if a live worker does (not expired, process not gone)."""
        info = self.holder_info()
        if not info or not info.get("holder") or info.get("holder") == self.holder:
            return None
        return None if self._free(info) else info

    def holder_info(self) -> dict | None:
        raw = kv.get(self.database, self.key)
        return json.loads(raw) if raw else None

    def release(self) -> None:
        raw = kv.get(self.database, self.key)
        if raw and json.loads(raw).get("holder") == self.holder:
            kv.compare_and_set(
                self.database, self.key, raw, json.dumps({"holder": None, "expires_at": 0})
            )
