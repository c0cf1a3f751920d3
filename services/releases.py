"""Giving back the budget of withdrawn orders, after the answer (issue 20).

Rejecting, cancelling or expiring a request withdraws its orders and queues their reserves in
the decision's own transaction (storage/ledger.py `queue_releases`), and answers: the person
clicking does not wait for one ledger row per order. Each worker round then gives back a
bounded number of them, a chunk per transaction, each taken from the queue in the same
transaction as its release row: a crash before the commit leaves it queued, one after leaves
it done, so every reserve comes back exactly once. Meanwhile every reader counts a withdrawn
order's reserve as nothing (`ledger.spent`), so no figure is ever wrong in between.
"""

from __future__ import annotations

import logging

from services import failpoints
from storage import ledger
from storage import orders as order_store
from storage import requests as request_store
from storage.db import Database

log = logging.getLogger(__name__)

CHUNK = 100  # releases per transaction: the write lock is held for a few milliseconds
PER_ROUND = 1000  # releases per worker round, so placement never waits long behind them


class BudgetReleases:
    def __init__(self, database: Database, *, chunk: int = CHUNK) -> None:
        self.database = database
        self.chunk = chunk

    def run(self, limit: int = PER_ROUND) -> int:
        """Give back up to `limit` queued reserves; how many were given back."""
        done = 0
        while done < limit:
            due = ledger.releases_due(self.database, min(self.chunk, limit - done))
            if not due:
                break
            done += self._release(due)
        if done:
            log.info("gave back the budget of %d withdrawn order(s)", done)
        return done

    def pending(self) -> int:
        return ledger.releases_pending(self.database)

    def _release(self, order_ids: list[int]) -> int:
        released = 0
        with self.database.tx() as db:
            for order_id in order_ids:
                if not ledger.take_release(db, order_id):
                    continue  # another round took it first
                order = order_store.get(self.database, order_id)
                request = request_store.get(self.database, order.request_id) if order else None
                if order is None or request is None:
                    continue
                ledger.give_back(db, self.database, order, request, "release")
                failpoints.hit(failpoints.DURING_RELEASE)
                released += 1
        return released
