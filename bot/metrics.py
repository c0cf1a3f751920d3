"""`GET /metrics`: the bot's numbers in Prometheus' text format, with prometheus-client.

Two kinds of numbers, in one registry per process:
- counted as the process works (services/metrics.py): Xoxoday calls by operation and
  outcome with their latency, rate-limit waits, placements, reconciliations, Slack API errors;
- read from the database when Prometheus scrapes (`DatabaseCollector`): orders and requests
  by state, the notification backlog, the worker lease and its last round, the wallet
  balance, the daily audit (when it last ran, its findings by kind). They are facts of the
  database, so every process that serves /metrics reports the same, whichever process is
  doing the work; nothing here calls Xoxoday (getBalance allows 10 calls a minute): the
  balance is the last one fetched.

No label names a person, a code or a poNumber, and no amount belongs to one person: the
wallet balance is the company's.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import time
from collections.abc import Callable, Iterator
from decimal import Decimal
from typing import Any, get_args

from prometheus_client import CollectorRegistry, make_wsgi_app
from prometheus_client.core import GaugeMetricFamily, Metric

from services.audit import KINDS as AUDIT_KINDS
from services.lease import Lease
from services.notify import backlog
from storage import audit as audit_store
from storage import orders as order_store
from storage import requests as request_store
from storage.db import Database
from storage.models import OrderState, RequestState

log = logging.getLogger(__name__)

BalanceSource = Callable[[], tuple[Decimal, str, float] | None]


class DatabaseCollector:
    """Gauges read from SQLite at scrape time (a custom collector: prometheus-client's
    "Custom Collectors", https://prometheus.github.io/client_python/collector/custom/)."""

    def __init__(
        self,
        database: Database,
        *,
        balance: BalanceSource | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.balance = balance
        self._clock = clock
        # Reads the lease as any other process would; it never takes it.
        self._lease = Lease(database, "metrics-reader")

    def collect(self) -> Iterator[Metric]:
        ok = GaugeMetricFamily(
            "rewards_database_ok", "1 when the database answered this scrape, else 0"
        )
        try:
            families = list(self._from_database())
        except sqlite3.Error as exc:
            log.warning("metrics: the database did not answer (%s)", exc)
            ok.add_metric([], 0)
            yield ok
            return
        ok.add_metric([], 1)
        yield ok
        yield from families

    def _from_database(self) -> Iterator[Metric]:
        orders = GaugeMetricFamily("rewards_orders", "Orders by state", labels=["state"])
        counts = order_store.count_by_state(self.database)
        for state in _states(OrderState, counts):
            orders.add_metric([state], counts.get(state, 0))
        yield orders

        requests = GaugeMetricFamily(
            "rewards_requests", "Reward requests by state", labels=["state"]
        )
        counts = request_store.count_by_state(self.database)
        for state in _states(RequestState, counts):
            requests.add_metric([state], counts.get(state, 0))
        yield requests

        waiting = GaugeMetricFamily(
            "rewards_notification_backlog",
            "Events people should hear about that a notifier (slack, log) has not handed "
            "over yet, or must try again (events counted up to 1,000 per consumer)",
            labels=["consumer"],
        )
        for consumer, count in sorted(backlog(self.database).items()):
            waiting.add_metric([consumer], count)
        yield waiting

        yield from self._lease_families()
        yield from self._balance_families()
        yield from self._audit_families()

    def _lease_families(self) -> Iterator[Metric]:
        holder = self._lease.live_holder()
        held = GaugeMetricFamily(
            "rewards_worker_lease_held", "1 while a live worker holds the placement lease"
        )
        held.add_metric([], 1 if holder else 0)
        yield held
        info = GaugeMetricFamily(
            "rewards_worker_lease_holder",
            "The worker holding the placement lease (1), by name, host and process id",
            labels=["holder", "host", "pid"],
        )
        if holder:
            info.add_metric(
                [str(holder.get("holder")), str(holder.get("host", "")), str(holder.get("pid"))],
                1,
            )
        yield info
        age = GaugeMetricFamily(
            "rewards_worker_last_round_age_seconds",
            "Seconds since the lease holder began its last round (stored with each lease "
            "renewal, every 10 s: a value past a minute means a worker holds the lease but "
            "does not work)",
        )
        last_round = holder.get("last_round_at") if holder else None
        if isinstance(last_round, int | float):
            age.add_metric([], max(self._clock() - float(last_round), 0.0))
        yield age

    def _balance_families(self) -> Iterator[Metric]:
        balance = GaugeMetricFamily(
            "rewards_wallet_balance",
            "The Xoxoday wallet balance as last fetched (never fetched for a scrape), in the "
            "wallet's currency",
            labels=["currency"],
        )
        age = GaugeMetricFamily(
            "rewards_wallet_balance_age_seconds", "Seconds since the wallet balance was fetched"
        )
        known = self.balance() if self.balance is not None else None
        if known is not None:
            amount, currency, fetched_at = known
            balance.add_metric([currency], float(amount))
            age.add_metric([], max(self._clock() - fetched_at, 0.0))
        yield balance
        yield age

    def _audit_families(self) -> Iterator[Metric]:
        """The daily audit against Xoxoday's books (services/audit.py): when it last finished,
        what it found in the last day audited, and days whose audit is failing."""
        last = audit_store.latest_done(self.database)
        ran = GaugeMetricFamily(
            "rewards_audit_last_run_timestamp_seconds",
            "When the last audit of a day against Xoxoday's books finished (Unix time); "
            "alert when more than two days old",
        )
        findings = GaugeMetricFamily(
            "rewards_audit_findings",
            "Findings of the last day audited, by kind: orphan, missing, charge_mismatch "
            "(differences) and topup, refund, adjustment (wallet movements)",
            labels=["kind"],
        )
        counts: dict[str, int] = {}
        if last is not None:
            ran.add_metric([], float(last["finished_at"]))
            counts = json.loads(last["summary"] or "{}").get("findings", {})
        for kind in AUDIT_KINDS:
            findings.add_metric([kind], counts.get(kind, 0))
        failing = GaugeMetricFamily(
            "rewards_audit_failing_days",
            "Days whose audit failed (Xoxoday unreadable) and waits to be tried again",
        )
        failing.add_metric([], audit_store.failing_days(self.database))
        yield ran
        yield findings
        yield failing


def _states(literal: object, found: dict[str, int]) -> list[str]:
    """Every state the code knows (so a state at 0 is still a series), then any other found."""
    known = list(get_args(literal))
    return known + sorted(state for state in found if state not in known)


def build_registry(
    database: Database, counters: CollectorRegistry, balance: BalanceSource | None = None
) -> CollectorRegistry:
    """The process's registry (its counters) with the database gauges added."""
    counters.register(DatabaseCollector(database, balance=balance))
    return counters


def metrics_app(registry: CollectorRegistry) -> Callable[..., Any]:
    """The WSGI app of `GET /metrics`: prometheus-client's own, so the scraper's Accept
    header picks the text format or OpenMetrics, and gzip when asked."""
    return make_wsgi_app(registry)
