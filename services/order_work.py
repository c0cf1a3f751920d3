"""What happens to one order: place it, look it up when its answer was lost, adopt what
Xoxoday has, poll its delivery, requeue or fail it. The loop that claims orders and decides
when each is due is services/worker.py; this is everything it starts for one order, on one of
its pool's threads.

Placement outcomes:
- answer received -> placed (and delivered / canceled when Xoxoday says so at once);
- 5xx, timeout, broken answer, duplicate poNumber, a crash -> unknown: getOrderDetails(poNumber)
  adopts the order if Xoxoday has it, or queues it again with the same poNumber if not, but
  a "not found" only counts after the in-flight window (services/inflight.py);
- refused before any order exists (denomination, KYC, product, credentials, rate limit) ->
  failed with a reason, or queued again after a delay for the passing ones;
- any other answer (a 5xx, PLE10010 "failed to redeem points", "failed to confirm order"...)
  -> unknown, looked up, then placed again with a backoff. PLE10010 fails early only when a
  fresh getBalance shows the wallet cannot pay for the order.
An unknown order is failed only once Xoxoday says it has no order with that poNumber; while
the lookup itself fails, it stays unknown: the money may be spent. It is then looked up less
and less often (backoff on the failed lookups, capped at BACKOFF_MAX_S), and one
`system.alert` naming its poNumber tells the operators after LOOKUP_ALERT_AFTER failures or
LOOKUP_ALERT_AFTER_S.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from services import failpoints, inflight
from services.catalog import Catalog
from services.delivery import Delivery
from services.errors import RewardError
from services.metrics import Instruments
from services.rewards import order_request, spec_from_order
from services.wallet import Wallet
from services.xoxoday import errors as xe
from services.xoxoday.client import PLACE_ORDER_TIMEOUT_S, XoxodayClient
from storage import events, ledger
from storage import order_lookups as lookups
from storage import orders as order_store
from storage import requests as request_store
from storage.db import Database
from storage.models import EventKind, OrderRow

log = logging.getLogger(__name__)

MAX_ATTEMPTS = 8
BACKOFF_FIRST_S = 5.0
BACKOFF_MAX_S = 600.0
RECONCILE_AFTER_S = 2.0  # give a slow Xoxoday a moment before asking about a lost answer
AUTH_RETRY_S = 300.0
ALERT_EVERY_S = 600.0
# An unknown order whose lookups keep failing: the operators hear of it after this many failed
# lookups in a row, or this long after the first, whichever comes first (once per streak).
LOOKUP_ALERT_AFTER = 6
LOOKUP_ALERT_AFTER_S = 900.0


# Refusals Xoxoday gives before an order exists: failing them cannot lose a placed order.
REFUSED = (
    xe.OrderValidationFailed,
    xe.InvalidDenomination,
    xe.QuantityLimitExceeded,
    xe.ProductUnavailable,
    xe.KycNotApproved,
    xe.InternationalOrdersNotAllowed,
)


def backoff(attempt: int, first: float = BACKOFF_FIRST_S, cap: float = BACKOFF_MAX_S) -> float:
    return min(first * (2 ** max(attempt - 1, 0)), cap)


@dataclass
class OrderSettings:
    """How the worker treats each order: the tunables of placing, looking up and retrying,
    in one typed place (bot/runtime.py fills them from the settings; tests shorten them)."""

    max_attempts: int = MAX_ATTEMPTS  # placements tried before an order fails
    backoff_first_s: float = BACKOFF_FIRST_S  # the first retry's delay, doubling to a cap
    reconcile_after_s: float = RECONCILE_AFTER_S  # before asking about a lost answer
    auth_retry_s: float = AUTH_RETRY_S  # after Xoxoday refused our credentials
    # XOXODAY_PLACE_ORDER_TIMEOUT_S: the client's placeOrder read timeout is the window
    # (Xoxoday's "realtime within 120 s").
    inflight_window_s: float = PLACE_ORDER_TIMEOUT_S
    # When a "not found" inside the window is asked again (None: from the window).
    confirm_after_s: float | None = None
    lookup_alert_after: int = LOOKUP_ALERT_AFTER  # failed lookups in a row before the alert
    lookup_alert_after_s: float = LOOKUP_ALERT_AFTER_S  # or this long after the first

    def __post_init__(self) -> None:
        if self.confirm_after_s is None:
            self.confirm_after_s = inflight.confirm_delay(self.inflight_window_s)


class OrderWork:
    """One order at a time; safe to run for different orders on many threads at once (every
    change is a compare-and-set on the order's state)."""

    def __init__(
        self,
        database: Database,
        client: XoxodayClient,
        catalog: Catalog,
        delivery: Delivery,
        *,
        name: str,
        settings: OrderSettings | None = None,
        wallet: Wallet | None = None,
        metrics: Instruments | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.client = client
        self.catalog = catalog
        self.delivery = delivery
        self.name = name  # the actor of every event it records
        self.settings = settings if settings is not None else OrderSettings()
        self.wallet = wallet
        # Placements and reconciliations are counted here; /metrics shows them.
        self.metrics = metrics if metrics is not None else Instruments()
        self._clock = clock
        self._last_alert = -ALERT_EVERY_S

    def recovered(self, order_id: int, reason: str) -> None:
        """An order left `placing` (a crash, a task that ended in an error): its placeOrder may
        have gone out, so it becomes `unknown` and is looked up before anything else."""
        with self.database.tx() as db:
            order_store.transition(
                db,
                order_id,
                "placing",
                "unknown",
                actor=self.name,
                kind=EventKind.ORDER_RECOVERED,
                reason=reason,
                fields={"next_attempt_at": 0},
            )

    # --- placing ----------------------------------------------------------------------------

    def place(self, order: OrderRow) -> None:
        """Place a claimed order; whatever happens, its outcome is recorded."""
        try:
            self._place(order)
        except Exception as exc:  # a bug: we cannot tell whether the call went out
            log.exception("placing %s failed unexpectedly", order.po_number)
            self.metrics.placement("unknown")
            self._to_unknown(order, "placing", f"unexpected error: {type(exc).__name__}")

    def _place(self, order: OrderRow) -> None:
        failpoints.hit(failpoints.BEFORE_PLACE)
        try:
            _, product = self.catalog.product(order.product_id, refresh=True)
            request = order_request(order.reward_type, spec_from_order(order), order.po_number)
        except RewardError as exc:
            self.metrics.placement("failed")
            self._fail(order, exc.message, str(exc))
            return

        def sent() -> None:
            # Stored before the request leaves: the in-flight window counts from here.
            order_store.mark_sent(self.database, order.id, self._clock())

        try:
            result = self.client.place_order(request, product, on_send=sent)
        except xe.InvalidOrder as exc:
            self.metrics.placement("failed")
            self._fail(order, exc.message, str(exc))
        except xe.RateLimited as exc:
            # Refused before any work: it does not count as an attempt.
            self.metrics.placement("retry")
            self._requeue(order, exc.retry_after, str(exc), "Xoxoday's rate limit", count=False)
        except xe.AuthError as exc:  # refused at the door: nothing was created
            self.metrics.placement("retry")
            self._alert(f"Xoxoday refused the bot's credentials: {exc}")
            self._requeue_or_fail(
                order, str(exc), xe.plain_reason(exc), delay=self.settings.auth_retry_s
            )
        except xe.TransportError as exc:  # never reached Xoxoday
            self.metrics.placement("retry")
            self._requeue_or_fail(order, str(exc), "Xoxoday could not be reached")
        except REFUSED as exc:
            self.metrics.placement("failed")
            self._fail(order, xe.plain_reason(exc), str(exc))
        except xe.XoxodayError as exc:
            # Anything else may have created the order (a 5xx, a timeout, "failed to confirm
            # order"…): look it up by poNumber before deciding anything.
            self.metrics.placement("unknown")
            cause = exc.__cause__ if isinstance(exc, xe.OutcomeUnknown) and exc.__cause__ else exc
            self._to_unknown(order, "placing", str(exc), cause=cause)
        else:
            self.metrics.placement("placed")
            failpoints.hit(failpoints.AFTER_PLACE)
            self.delivery.adopt(order, result, from_state="placing", actor=self.name)
            failpoints.hit(failpoints.AFTER_STORE)

    def _fresh(self, order: OrderRow, state: str) -> OrderRow | None:
        """The order as it is now, if still in `state`: a row listed a moment ago may have
        been settled since by another thread or process (the compare-and-set would refuse
        the change anyway; this saves the call to Xoxoday)."""
        current = order_store.get(self.database, order.id)
        return current if current is not None and current.state == state else None

    def reconcile(self, order: OrderRow) -> None:
        """Xoxoday's rule: after a lost answer, look the order up by poNumber before placing."""
        fresh = self._fresh(order, "unknown")
        if fresh is None:
            return
        order = fresh
        try:
            found = self.client.get_order_details(po_number=order.po_number)
        except xe.OrderNotFound:
            self._not_found(order)
            return
        except xe.XoxodayError as exc:
            self.metrics.reconciliation("lookup_failed")
            self._lookup_failed(order, exc)
            return
        self.metrics.reconciliation("adopted")
        self.delivery.adopt(order, found, from_state="unknown", actor=self.name)

    def _lookup_failed(self, order: OrderRow, exc: xe.XoxodayError) -> None:
        """getOrderDetails itself failed: the order stays unknown (the money may be spent), is
        looked up again after a delay that grows with the failures in a row (capped at
        BACKOFF_MAX_S), and the operators are told once per streak, naming the poNumber."""
        now = self._clock()
        alerted = None
        with self.database.tx() as db:
            streak = lookups.streak(db, order.id)
            if streak is None:
                return  # settled meanwhile
            failures = streak.failures + 1
            since = streak.since or now
            delay = backoff(failures, self.settings.backoff_first_s)
            if isinstance(exc, xe.RateLimited):
                delay = max(delay, exc.retry_after)
            if streak.alerted_at is None and (
                failures >= self.settings.lookup_alert_after
                or now - since >= self.settings.lookup_alert_after_s
            ):
                alerted = (
                    f"order {order.po_number}: Xoxoday could not be asked whether it placed this "
                    f"order ({failures} failed lookups in {_duration(now - since)}; last: {exc}). "
                    "It stays unknown, since it may be paid, and is looked up again at most "
                    f"every {_duration(BACKOFF_MAX_S)}: check it with Xoxoday and "
                    f"`rewards-bot orders show {order.po_number}`"
                )
                events.append(
                    db,
                    EventKind.SYSTEM_ALERT,
                    request_id=order.request_id,
                    order_id=order.id,
                    actor=self.name,
                    reason=alerted,
                )
            lookups.record_failed_lookup(
                db,
                order.id,
                next_attempt_at=now + delay,
                error=f"lookup failed: {exc}",
                failures=failures,
                since=since,
                alerted_at=now if alerted else None,
            )
        if alerted:
            log.error(alerted)
        else:
            log.warning(
                "could not look up %s yet (%d in a row, next in %.0f s): %s",
                order.po_number,
                failures,
                delay,
                exc,
            )

    def _not_found(self, order: OrderRow) -> None:
        """Xoxoday has no order with this poNumber, for now: the in-flight window decides."""
        now = self._clock()
        verdict = inflight.judge_not_found(
            sent_at=order.sent_at,
            not_found_at=order.not_found_at,
            now=now,
            window_s=self.settings.inflight_window_s,
            confirm_after_s=self.settings.confirm_after_s,
        )
        if verdict.action == "place_again":
            self._place_again(order)
            return
        self.metrics.reconciliation("not_found")
        with self.database.tx() as db:
            changed = lookups.record_not_found(
                db,
                order.id,
                next_lookup_at=verdict.next_lookup_at,
                not_found_at=verdict.not_found_at,
                heard_at=now,
                why=verdict.why,
            )
            if changed:
                events.append(
                    db,
                    EventKind.ORDER_NOT_FOUND,
                    request_id=order.request_id,
                    order_id=order.id,
                    actor=self.name,
                    reason=verdict.why,
                    data={"action": verdict.action, "next_lookup_at": verdict.next_lookup_at},
                )
        log.info("%s: %s", order.po_number, verdict.why)

    def _place_again(self, order: OrderRow) -> None:
        """Two lookups after the window agree there is no order: place it again, same poNumber."""
        cause = order.failure_reason or "an earlier attempt got no answer"
        if order.attempts >= self.settings.max_attempts:
            self.metrics.reconciliation("gave_up")
            self._fail(order, f"{cause} (tried {order.attempts} times)", "gave up", "unknown")
            return
        refused_as = xe.ERROR_CLASSES.get(order.last_error_id or "")
        if refused_as is xe.InsufficientBalance and self._wallet_cannot_pay(order):
            self.metrics.reconciliation("gave_up")
            self._fail(
                order,
                xe.PLAIN_REASONS[xe.InsufficientBalance],
                f"{order.last_error_id} and a fresh getBalance below the order's cost",
                "unknown",
            )
            return
        self.metrics.reconciliation("placed_again")
        with self.database.tx() as db:
            order_store.transition(
                db,
                order.id,
                "unknown",
                "queued",
                actor=self.name,
                kind=EventKind.ORDER_REQUEUED,
                reason="not found at Xoxoday: placing it again with the same poNumber",
                fields={
                    "next_attempt_at": self._clock()
                    + backoff(order.attempts, self.settings.backoff_first_s),
                    "not_found_at": None,
                },
            )

    def _wallet_cannot_pay(self, order: OrderRow) -> bool:
        """A fresh getBalance below the order's cost; False when it cannot be told."""
        if order.cost_estimate is None:
            return False
        try:
            if self.wallet is not None:
                amount, _ = self.wallet.balance(max_age_s=0)
            else:
                amount = self.client.get_balance().amount
        except xe.XoxodayError as exc:
            log.warning("could not check the balance for %s: %s", order.po_number, exc)
            return False
        return amount < order.cost_estimate

    def poll(self, order: OrderRow) -> None:
        """The webhook's fallback: ask Xoxoday about a delivery that is still pending."""
        fresh = self._fresh(order, "placed")
        if fresh is None:
            return
        order = fresh
        try:
            found = self.client.get_order_details(
                order_id=order.xoxoday_order_id,
                po_number=None if order.xoxoday_order_id else order.po_number,
            )
        except xe.XoxodayError as exc:
            log.warning("polling %s failed: %s", order.po_number, exc)
            self.delivery.still_pending(order)
            return
        self.delivery.track(order, found, actor=f"{self.name}:poll")

    # --- transitions ------------------------------------------------------------------------

    def _to_unknown(
        self, order: OrderRow, from_state: str, error: str, cause: BaseException | None = None
    ) -> None:
        known = isinstance(cause, xe.XoxodayError) and not isinstance(cause, xe.OutcomeUnknown)
        reason = xe.plain_reason(cause) if known else None
        if isinstance(cause, xe.InsufficientBalance):
            # Not proven yet: only a fresh getBalance below the cost makes it the reason.
            reason = "Xoxoday could not redeem the wallet's points (PLE10010)"
        error_id = getattr(cause, "error_id", None)
        with self.database.tx() as db:
            order_store.transition(
                db,
                order.id,
                from_state,
                "unknown",
                actor=self.name,
                kind=EventKind.ORDER_UNKNOWN,
                reason=error,
                fields={
                    "last_error": error,
                    "last_error_id": error_id,
                    "failure_reason": reason or order.failure_reason,
                    "next_attempt_at": self._clock() + self.settings.reconcile_after_s,
                    "not_found_at": None,
                    "lookup_failures": 0,
                    "lookup_failed_since": None,
                    "lookup_alerted_at": None,
                },
            )

    def _requeue(
        self, order: OrderRow, delay: float, error: str, reason: str, *, count: bool = True
    ) -> None:
        fields = {
            "next_attempt_at": self._clock() + delay,
            "last_error": error,
            "failure_reason": reason,
        }
        if not count:
            fields["attempts"] = max(order.attempts - 1, 0)
        with self.database.tx() as db:
            order_store.transition(
                db,
                order.id,
                "placing",
                "queued",
                actor=self.name,
                kind=EventKind.ORDER_RETRY,
                reason=error,
                fields=fields,
            )

    def _requeue_or_fail(
        self, order: OrderRow, error: str, reason: str, delay: float | None = None
    ) -> None:
        if order.attempts >= self.settings.max_attempts:
            self._fail(order, f"{reason} (tried {order.attempts} times)", error)
        else:
            self._requeue(
                order,
                delay or backoff(order.attempts, self.settings.backoff_first_s),
                error,
                reason,
            )

    def _fail(self, order: OrderRow, reason: str, error: str, from_state: str = "placing") -> None:
        request = request_store.get(self.database, order.request_id)
        assert request is not None
        with self.database.tx() as db:
            failed = order_store.transition(
                db,
                order.id,
                from_state,
                "failed",
                actor=self.name,
                kind=EventKind.ORDER_FAILED,
                reason=reason,
                fields={"failure_reason": reason, "last_error": error, "settled_at": None},
            )
            if failed is not None:
                ledger.give_back(db, self.database, order, request, "release")
        log.warning("order %s failed: %s", order.po_number, reason)

    def _alert(self, message: str) -> None:
        """Tell the operators once per ALERT_EVERY_S, not once per order."""
        now = self._clock()
        if now - self._last_alert < ALERT_EVERY_S:
            return
        self._last_alert = now
        with self.database.tx() as db:
            events.append(db, EventKind.SYSTEM_ALERT, actor=self.name, reason=message)


def _duration(seconds: float) -> str:
    """Seconds as people read them in an alert: 45 s, 12 min, 3 h."""
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.0f} h"
