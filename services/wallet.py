"""The Xoxoday wallet balance, cached: getBalance allows only 10 calls a minute.

A balance whose `points` and `value` no rupee rate reconciles is still read as `points`, and
the approvers are told once (services/xoxoday/inr.py, reference §13 row 5).
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal

from services.xoxoday.client import XoxodayClient
from services.xoxoday.inr import balance_disagreement
from services.xoxoday.models import Balance
from storage import events, kv, orders
from storage.db import Database
from storage.models import UNPAID_STATES, EventKind

log = logging.getLogger(__name__)

BALANCE_TTL_S = 30.0
BALANCE_KEY = "wallet.balance"
INR_RATE_KEY = "wallet.inr_rate"
DISAGREES_KEY = "wallet.balance_disagrees"  # set while an alert about it stands


@dataclass(frozen=True)
class WalletView:
    balance: Decimal
    currency: str
    committed: Decimal  # approved orders not yet charged
    fetched_at: float

    @property
    def available(self) -> Decimal:
        return self.balance - self.committed


class Wallet:
    def __init__(
        self,
        client: XoxodayClient,
        database: Database,
        *,
        ttl_s: float = BALANCE_TTL_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.client = client
        self.database = database
        self.ttl_s = ttl_s
        self._clock = clock
        self._lock = threading.Lock()  # the cached figures (see balance())
        self._fetch_lock = threading.Lock()  # one getBalance at a time
        self._cached: tuple[Decimal, str, float] | None = None
        self._currency: str | None = None

    def balance(self, max_age_s: float | None = None) -> tuple[Decimal, str]:
        """(value, currency), from cache when younger than max_age_s (default: the TTL).

        Locks, in this order only: `_fetch_lock` makes one getBalance at a time; `_lock`
        guards the cached figures and is never held across a call to Xoxoday or SQLite. A
        placement records its charge with `_lock` from inside a database transaction, so
        holding it while waiting on Xoxoday's 10-a-minute limit, or on the database, would
        hold that transaction, and every other writer, behind it.
        """
        age_limit = self.ttl_s if max_age_s is None else max_age_s
        asked_at = self._clock()
        fresh = self._fresh(age_limit)
        if fresh is not None:
            return fresh
        with self._fetch_lock:
            # Another thread fetched while this one waited: an answer newer than this call is
            # as fresh as any caller can ask (max_age_s=0 included).
            with self._lock:
                cached = self._cached
                if cached and cached[2] >= asked_at:
                    return cached[0], cached[1]
            balance = self.client.get_balance()
            # `points` is the balance in the wallet's currency; `value` is documented as INR.
            fetched = (balance.amount, balance.currency, self._clock())
            with self._lock:
                self._cached = fetched
        self._check(balance)
        # Kept for other processes (/metrics reads it; getBalance is never asked there).
        kv.put(
            self.database,
            BALANCE_KEY,
            json.dumps(
                {
                    "amount": str(balance.amount),
                    "currency": balance.currency,
                    "fetched_at": fetched[2],
                }
            ),
        )
        if balance.currency and balance.currency != self._currency:
            self._currency = balance.currency
            kv.put(self.database, "wallet.currency", balance.currency)
        return balance.amount, balance.currency

    def _check(self, balance: Balance) -> None:
        """points and value that no rupee rate reconciles: one alert to the approvers, not
        one per fetch; told again only after a balance that agrees (services/xoxoday/inr.py)."""
        why = balance_disagreement(balance, self.inr_rate())
        if why is None:
            if kv.get(self.database, DISAGREES_KEY) is not None:
                kv.delete(self.database, DISAGREES_KEY)
            return
        with self.database.tx() as db:
            if kv.compare_and_set(self.database, DISAGREES_KEY, None, why):
                events.append(db, EventKind.SYSTEM_ALERT, actor="wallet", reason=why)
                log.error(why)

    def note_inr_rate(self, rate: Decimal | None) -> None:
        """The rupee rate of the wallet's currency the catalog implies (Catalog.refresh)."""
        if rate is not None:
            kv.put(self.database, INR_RATE_KEY, str(rate))

    def inr_rate(self) -> Decimal | None:
        stored = kv.get(self.database, INR_RATE_KEY)
        return Decimal(stored) if stored else None

    def _fresh(self, age_limit: float) -> tuple[Decimal, str] | None:
        with self._lock:
            cached = self._cached
            if cached and self._clock() - cached[2] <= age_limit:
                return cached[0], cached[1]
        return None

    def record_charge(self, amount: Decimal) -> None:
        """An order was just charged: the cached balance drops by as much, without a call."""
        with self._lock:
            if self._cached is not None:
                value, currency, fetched = self._cached
                self._cached = (value - amount, currency, fetched)

    def last_known(self) -> tuple[Decimal, str, float] | None:
        """(balance, currency, fetched_at) as last known, never asking Xoxoday: this
        process's cache (with the charges since), else the last fetch any process stored."""
        with self._lock:
            if self._cached is not None:
                return self._cached
        raw = kv.get(self.database, BALANCE_KEY)
        if not raw:
            return None
        stored = json.loads(raw)
        return Decimal(stored["amount"]), stored["currency"], float(stored["fetched_at"])

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None

    def known_currency(self) -> str | None:
        """The wallet's currency if already known (memory or database); never asks Xoxoday."""
        if self._currency is None:
            self._currency = kv.get(self.database, "wallet.currency")
        return self._currency

    def learn_currency(self) -> str:
        """The wallet's currency, asking Xoxoday only while it is unknown; the cached
        balance is left alone (for background work such as a catalog refresh)."""
        known = self.known_currency()
        if known:
            return known
        balance = self.client.get_balance()
        if balance.currency:
            self._currency = balance.currency
            kv.put(self.database, "wallet.currency", balance.currency)
        return balance.currency

    def currency(self) -> str:
        """The wallet's currency; remembered in the database, so a request never waits on it."""
        if self._currency is None:
            self._currency = kv.get(self.database, "wallet.currency")
        if self._currency is None:
            self.balance(max_age_s=0)
        return self._currency or ""

    def committed(self) -> Decimal:
        """What approved but not yet charged orders will take from the balance."""
        return orders.committed_cost(self.database, UNPAID_STATES)

    def view(self, max_age_s: float | None = None) -> WalletView:
        value, currency = self.balance(max_age_s)
        return WalletView(value, currency, self.committed(), self._clock())

    def cached_view(self) -> WalletView | None:
        """The last balance heard, however old, without asking Xoxoday (None: none yet);
        for views refreshed often, such as the Home tab."""
        with self._lock:
            cached = self._cached
        if cached is None:
            return None
        return WalletView(cached[0], cached[1], self.committed(), cached[2])
