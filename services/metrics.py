"""What the process counts as it works: Xoxoday calls, rate-limit waits, placements,
reconciliations, Slack API errors.

Counters and histograms live in a `CollectorRegistry` of their own per process (not
prometheus_client's global one), so a test can run several stacks side by side, each with
its own numbers. Gauges whose value is in the database (orders by state, the lease…) are
read at scrape time instead (bot/metrics.py). Labels name operations, outcomes and Slack
methods, never a person, a code or an amount: those stay out of /metrics.

Rates are PromQL's job: `rewards_placements_total` is a counter, and placements per minute
are `60 * rate(rewards_placements_total{outcome="placed"}[5m])`.
"""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram

# Xoxoday answers in 50 ms to 120 s (realtime placeOrder): buckets cover the whole range.
CALL_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 130)
RATE_LIMIT_MARK = "request_limit_exceeded"  # Xoxoday's rate-limit answer, at any status

# What placing one order can end in, and what a lookup of a lost answer can find.
PLACEMENT_OUTCOMES = ("placed", "unknown", "failed", "retry")
RECONCILE_RESULTS = ("adopted", "not_found", "placed_again", "gave_up", "lookup_failed")


def call_outcome(status: int | None, error: str | None, response: Any = None) -> str:
    """One word per Xoxoday exchange, from what came back on the wire:
    ok, rate_limited, refused (another 4xx), server_error (5xx), no_answer (none came)."""
    if status is None:
        return "no_answer"
    if status == 429 or RATE_LIMIT_MARK in str(response or ""):
        return "rate_limited"
    if status >= 500:
        return "server_error"
    if status >= 400:
        return "refused"
    return "ok"


class Instruments:
    """The in-process counters of one bot process."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self.xoxoday_calls = Counter(
            "rewards_xoxoday_calls",
            "Xoxoday API calls by operation and outcome (ok, rate_limited, refused, "
            "server_error, no_answer)",
            ["op", "outcome"],
            registry=r,
        )
        self.xoxoday_seconds = Histogram(
            "rewards_xoxoday_call_seconds",
            "Time for one Xoxoday API call to answer, by operation",
            ["op"],
            buckets=CALL_BUCKETS,
            registry=r,
        )
        self.rate_limit_waits = Counter(
            "rewards_xoxoday_rate_limit_waits",
            "Calls held back by the client's rate limiter (its own limits or a penalty "
            "Xoxoday asked for), by operation",
            ["op"],
            registry=r,
        )
        self.rate_limit_wait_seconds = Counter(
            "rewards_xoxoday_rate_limit_wait_seconds",
            "Seconds calls spent held back by the client's rate limiter, by operation",
            ["op"],
            registry=r,
        )
        self.placements = Counter(
            "rewards_placements",
            "placeOrder attempts by outcome: placed (answered), unknown (answer lost: looked "
            "up), failed, retry (refused before any order existed, tried again later); "
            'per minute: 60 * rate(rewards_placements_total{outcome="placed"}[5m])',
            ["outcome"],
            registry=r,
        )
        self.reconciliations = Counter(
            "rewards_reconciliations",
            "Lookups by poNumber of orders whose placeOrder answer was lost, by what they "
            "found: adopted (Xoxoday had it), not_found (not yet trusted), placed_again, "
            "gave_up, lookup_failed",
            ["result"],
            registry=r,
        )
        self.slack_errors = Counter(
            "rewards_slack_api_errors",
            "Slack Web API calls that failed, by method and Slack's error (connection: no answer)",
            ["method", "error"],
            registry=r,
        )
        # Every series known in advance starts at 0, so a rate() sees its first increase.
        for outcome in PLACEMENT_OUTCOMES:
            self.placements.labels(outcome)
        for result in RECONCILE_RESULTS:
            self.reconciliations.labels(result)

    # --- hooks --------------------------------------------------------------------------------

    def xoxoday_exchange(self, exchange: Any) -> None:
        """The Xoxoday client's `on_exchange` hook (an `Exchange`: op, status, timing)."""
        outcome = call_outcome(exchange.status, exchange.error, exchange.response)
        self.xoxoday_calls.labels(exchange.op, outcome).inc()
        self.xoxoday_seconds.labels(exchange.op).observe(exchange.duration_ms / 1000)

    def rate_limit_wait(self, op: str, seconds: float) -> None:
        """The rate limiter's `on_wait` hook: a call of `op` was held for `seconds`."""
        self.rate_limit_waits.labels(op).inc()
        self.rate_limit_wait_seconds.labels(op).inc(max(seconds, 0.0))

    def placement(self, outcome: str) -> None:
        self.placements.labels(outcome).inc()

    def reconciliation(self, result: str) -> None:
        self.reconciliations.labels(result).inc()

    def slack_error(self, method: str, error: str) -> None:
        self.slack_errors.labels(method, error).inc()
