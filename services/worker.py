"""The placement and tracking worker: the order table is its queue.

Each round it (1) looks up orders whose outcome is unknown, (2) claims queued orders by
compare-and-set and places them on a bounded thread pool, (3) polls deliveries still
pending, (4) runs the approval schedule. Telling people is not its business: the delivery
room (handlers/delivery.py, started beside it) does, so Slack can never stall a round. On start
it first turns every `placing` order into `unknown` and reconciles it, before anything new is
placed.

Placement outcomes:
- answer received -> placed (and delivered / canceled when Xoxoday says so at once);
- 5xx, timeout, broken answer, duplicate poNumber, a crash -> unknown: getOrderDetails(poNumber)
  adopts the order if Xoxoday has it, or queues it again with the same poNumber if not, but
  a "not found" only counts after the in-flight window (services/inflight.py);
- refused before any order exists (denomination, KYC, product, credentials, rate limit) ->
  failed with a reason, or queued again after a delay for the passing ones;
- any other answer (a 5xx, PLE10010 "failed to redeem points", "failed to confirm order"…)
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
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from services import failpoints, inflight
from services.catalog import Catalog
from services.delivery import Delivery
from services.errors import RewardError
from services.lease import Lease
from services.logcontext import log_refs
from services.metrics import Instruments
from services.rewards import order_request, spec_from_order
from services.wallet import Wallet
from services.xoxoday import errors as xe
from services.xoxoday.client import PLACE_ORDER_TIMEOUT_S, XoxodayClient
from storage import events, ledger
from storage import orders as order_store
from storage import requests as request_store
from storage.db import Database, fetch_one
from storage.models import EventKind, OrderRow

if TYPE_CHECKING:
    from services.audit_schedule import DailyAudit
    from services.choice_schedule import Ticking

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


class Worker:
    def __init__(
        self,
        database: Database,
        client: XoxodayClient,
        catalog: Catalog,
        delivery: Delivery,
        *,
        concurrency: int = 4,
        max_attempts: int = MAX_ATTEMPTS,
        backoff_first_s: float = BACKOFF_FIRST_S,
        reconcile_after_s: float = RECONCILE_AFTER_S,
        idle_sleep_s: float = 1.0,
        auth_retry_s: float = AUTH_RETRY_S,
        inflight_window_s: float = PLACE_ORDER_TIMEOUT_S,
        confirm_after_s: float | None = None,
        lookup_alert_after: int = LOOKUP_ALERT_AFTER,
        lookup_alert_after_s: float = LOOKUP_ALERT_AFTER_S,
        wallet: Wallet | None = None,
        metrics: Instruments | None = None,
        name: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.client = client
        self.catalog = catalog
        self.delivery = delivery
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff_first_s = backoff_first_s
        self.reconcile_after_s = reconcile_after_s
        self.idle_sleep_s = idle_sleep_s
        self.auth_retry_s = auth_retry_s
        # XOXODAY_PLACE_ORDER_TIMEOUT_S: the client's placeOrder read timeout is the window.
        self.inflight_window_s = inflight_window_s
        if confirm_after_s is None:
            confirm_after_s = inflight.confirm_delay(inflight_window_s)
        self.confirm_after_s = confirm_after_s
        self.lookup_alert_after = lookup_alert_after
        self.lookup_alert_after_s = lookup_alert_after_s
        self.wallet = wallet
        # Placements and reconciliations are counted here; /metrics shows them.
        self.metrics = metrics if metrics is not None else Instruments()
        self.name = name or f"worker-{uuid.uuid4().hex[:8]}"
        self._clock = clock
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="place")
        self._slots = threading.Semaphore(concurrency)
        self._in_flight: set[Future[None]] = set()
        self._busy_orders: set[int] = set()  # orders a pool thread is working on
        self._orphans: set[int] = set()  # orders whose task raised (see _recover_orphans)
        self._in_flight_lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lease = Lease(database, self.name, details=self._lease_details)
        self._last_housekeeping = 0.0
        self._last_alert = -ALERT_EVERY_S
        self._lease_lost = threading.Event()
        self.last_round = time.monotonic()
        self.rounds = 0
        self.standby = False
        # Reminders, escalation and expiry (services/reminders.py) and the choices' reminders
        # and expiry (services/choice_schedule.py), run each round by the worker holding the
        # lease; set by bot/runtime.py.
        self.scheduler: Ticking | None = None
        # The daily audit against Xoxoday's books (services/audit_schedule.py), started each
        # round by the worker holding the lease; set by bot/runtime.py.
        self.audit: DailyAudit | None = None
        self._auditing = False  # only a worker that keeps running audits (not --until-idle)

    # --- life cycle -------------------------------------------------------------------------

    def wake(self) -> None:
        """Something new to do (an approval, a webhook): skip the idle sleep."""
        self._wake.set()

    def start(self) -> Worker:
        self._thread = threading.Thread(target=self.run, name=self.name, daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=True, cancel_futures=False)
        if self.audit is not None:
            self.audit.wait(timeout)
        self.lease.release()

    @property
    def status(self) -> str:
        """For the health check: active, standby (another worker holds the lease), stalled
        (no round for a minute) or stopped."""
        if self._thread is None or not self._thread.is_alive():
            return "stopped"
        if self.standby:
            return "standby"
        if time.monotonic() - self.last_round > max(60.0, 3 * self.idle_sleep_s):
            return "stalled"
        return "active"

    def run(self, until_idle: bool = False, until_settled: bool = False) -> None:
        """Work until stopped; with until_idle, until nothing is left to place; with
        until_settled, also until no placed order is still being polled."""
        if not self._hold_lease():
            return  # stopped while another worker held the lease: touch nothing
        self._auditing = not (until_idle or until_settled)
        finished = threading.Event()
        heartbeat = threading.Thread(
            target=self._keep_lease, args=(finished,), name=f"{self.name}-lease", daemon=True
        )
        heartbeat.start()
        try:
            self._rounds(until_idle or until_settled, until_settled)
        finally:
            finished.set()
            heartbeat.join(timeout=5)
        if not self._lease_lost.is_set():
            self.lease.release()

    def _rounds(self, until_idle: bool, until_settled: bool = False) -> None:
        self.recover()
        failures = 0
        while not self._stop.is_set() and not self._lease_lost.is_set():
            self.last_round = time.monotonic()
            self.rounds += 1
            try:
                busy = self.step()
                failures = 0
            except Exception:
                # A bug or a locked database must not end the worker: log, wait, go on.
                failures += 1
                log.exception("worker round failed (%d in a row)", failures)
                self._stop.wait(min(2.0**failures, 60.0))
                continue
            done = self.is_settled if until_settled else self.is_idle
            if until_idle and done():
                self._drain()
                if done():
                    break
            if not busy:
                self._wake.wait(self._sleep_time())
                self._wake.clear()
        self._drain()

    def _hold_lease(self) -> bool:
        """Wait for the lease; False when stopped first."""
        while not self.lease.try_acquire():
            self.standby = True
            holder = self.lease.holder_info() or {}
            log.warning("another worker (%s) is active; waiting", holder.get("holder"))
            if self._stop.wait(5.0):
                return False
        self.standby = False
        self.last_round = time.monotonic()
        return True

    def _keep_lease(self, finished: threading.Event) -> None:
        """Renew the lease on its own thread, so a long round can never let it lapse."""
        while not finished.wait(self.lease.ttl_s / 3):
            try:
                held = self.lease.try_acquire()
            except Exception:
                log.exception("could not renew the worker lease")
                continue
            if not held:
                log.error("lost the worker lease to another worker; stopping this one")
                self._lease_lost.set()
                self._wake.set()
                return

    def _lease_details(self) -> dict[str, float]:
        """Stored with each lease renewal: when the last round began, as wall-clock time, so
        any process can tell a worker that holds the lease but no longer works (/metrics)."""
        return {"last_round_at": time.time() - (time.monotonic() - self.last_round)}

    def drain(self) -> None:
        """Wait for the work already started (tests and shutdown)."""
        self._drain()

    def _drain(self) -> None:
        with self._in_flight_lock:
            pending = list(self._in_flight)
        for future in pending:
            future.result()

    def _sleep_time(self) -> float:
        now = self._clock()
        times = [
            order_store.next_due_time(self.database, "queued", "next_attempt_at"),
            order_store.next_due_time(self.database, "unknown", "next_attempt_at"),
            order_store.next_due_time(self.database, "placed", "next_poll_at"),
            self.scheduler.next_due() if self.scheduler is not None else None,
            self.audit.next_due() if self.audit is not None else None,
        ]
        upcoming = [t - now for t in times if t is not None]
        return max(0.05, min([self.idle_sleep_s, *upcoming]))

    def is_idle(self) -> bool:
        counts = order_store.count_by_state(self.database)
        with self._in_flight_lock:
            running = bool(self._in_flight)
        return not running and not any(counts.get(s) for s in ("queued", "placing", "unknown"))

    def is_settled(self) -> bool:
        """Idle, and no placed order waits for a poll (delivered, canceled, or given up on)."""
        tracked = order_store.next_due_time(self.database, "placed", "next_poll_at")
        return self.is_idle() and tracked is None

    # --- one round --------------------------------------------------------------------------

    def recover(self) -> int:
        """After a restart: every `placing` order may have reached Xoxoday; look it up first."""
        stranded = order_store.in_states(self.database, ["placing"])
        for order in stranded:
            with self.database.tx() as db:
                order_store.transition(
                    db,
                    order.id,
                    "placing",
                    "unknown",
                    actor=self.name,
                    kind=EventKind.ORDER_RECOVERED,
                    reason="the worker stopped while placing this order",
                    fields={"next_attempt_at": 0},
                )
        if stranded:
            log.warning("recovered %d order(s) left in placing", len(stranded))
        # Every lost answer is looked up before anything new is placed.
        for order in order_store.in_states(self.database, ["unknown"]):
            self._start(order, self._reconcile, wait=True)
        self._drain()
        return len(stranded)

    def step(self) -> bool:
        """One round of work; True when anything was started.

        Lost answers are looked up first, then new orders are claimed, then pending
        deliveries polled; all of it on the bounded pool, so a slow Xoxoday holds a slot,
        never the loop.
        """
        now = self._clock()
        busy = False
        self._recover_orphans()
        for order in order_store.due(self.database, "unknown", "next_attempt_at", now, limit=50):
            started = self._start(order, self._reconcile)
            if started is None:
                break
            busy |= started
        while not self._lease_lost.is_set() and self._slots.acquire(blocking=False):
            order = order_store.claim_next(self.database, self.name, self._clock())
            if order is None:
                self._slots.release()
                break
            self._start(order, self._place_safely, have_slot=True)
            busy = True
        for order in order_store.due(self.database, "placed", "next_poll_at", now, limit=20):
            started = self._start(order, self._poll)
            if started is None:
                break
            busy |= started
        if self.scheduler is not None and not self._lease_lost.is_set():
            busy |= self._schedule()
        if self.audit is not None and self._auditing and not self._lease_lost.is_set():
            self._start_audit()
        self._housekeeping(now)
        return busy

    def _schedule(self) -> bool:
        """The approval schedule's round; its failure is logged and never stops placement."""
        assert self.scheduler is not None
        try:
            return self.scheduler.tick() > 0
        except Exception:
            log.exception("the approval schedule's round failed; trying again next round")
            return False

    def _start_audit(self) -> None:
        """Start the daily audit when one is due (it runs on its own thread); its failure is
        logged and never stops placement."""
        assert self.audit is not None
        try:
            self.audit.tick()
        except Exception:
            log.exception("could not start the daily audit; trying again next round")

    def _start(
        self,
        order: OrderRow,
        work: Callable[[OrderRow], None],
        *,
        have_slot: bool = False,
        wait: bool = False,
    ) -> bool | None:
        """Run `work(order)` on the pool: True when started, False when that order is being
        worked on already, None when no slot is free (try next round)."""
        with self._in_flight_lock:
            already = order.id in self._busy_orders
        if already:
            if have_slot:
                self._slots.release()
            return False
        if not have_slot and not self._slots.acquire(blocking=wait):
            return None
        with self._in_flight_lock:
            self._busy_orders.add(order.id)
        future = self._pool.submit(self._work_on, work, order)
        with self._in_flight_lock:
            self._in_flight.add(future)
        future.add_done_callback(lambda f, order_id=order.id: self._done(f, order_id))
        return True

    @staticmethod
    def _work_on(work: Callable[[OrderRow], None], order: OrderRow) -> None:
        # Every line logged meanwhile names the order (LOG_FORMAT=json shows it).
        with log_refs(request=f"R-{order.request_id}", order=order.id, po=order.po_number):
            work(order)

    def _done(self, future: Future[None], order_id: int) -> None:
        failed = not future.cancelled() and future.exception() is not None
        with self._in_flight_lock:
            self._in_flight.discard(future)
            self._busy_orders.discard(order_id)
            if failed:
                self._orphans.add(order_id)
        self._slots.release()
        if failed:
            log.error("worker task failed", exc_info=future.exception())
        self._wake.set()

    def _recover_orphans(self) -> None:
        """Orders whose task ended in an exception before recording any outcome (the database
        locked for longer than its busy timeout, a bug): one left in `placing` would wait for
        the next start of the worker, and `--until-idle` for ever. Its placeOrder may have gone
        out, so it becomes `unknown` and is looked up, as after a crash."""
        with self._in_flight_lock:
            orphans = sorted(self._orphans - self._busy_orders)
        for order_id in orphans:
            with self.database.tx() as db:
                order_store.transition(
                    db,
                    order_id,
                    "placing",
                    "unknown",
                    actor=self.name,
                    kind=EventKind.ORDER_RECOVERED,
                    reason="placing it ended in an error before its outcome was recorded",
                    fields={"next_attempt_at": 0},
                )
            with self._in_flight_lock:
                self._orphans.discard(order_id)

    def _housekeeping(self, now: float) -> None:
        if now - self._last_housekeeping < 300:
            return
        self._last_housekeeping = now
        try:
            self.client.tokens.access_token()  # refreshes ahead of expiry, even when idle
            # On a thread of its own: a real catalog takes minutes at 50 pages a minute, and
            # the loop keeps placing meanwhile.
            self.catalog.refresh_if_stale()
        except (xe.XoxodayError, RewardError) as exc:
            log.warning("housekeeping: %s", exc)

    # --- placing ----------------------------------------------------------------------------

    def _place_safely(self, order: OrderRow) -> None:
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
            self._requeue_or_fail(order, str(exc), xe.plain_reason(exc), delay=self.auth_retry_s)
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

    def _reconcile(self, order: OrderRow) -> None:
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
            row = fetch_one(
                db,
                "SELECT lookup_failures, lookup_failed_since, lookup_alerted_at FROM orders "
                "WHERE id = ? AND state = 'unknown'",
                [order.id],
            )
            if row is None:
                return  # settled meanwhile
            failures = (row["lookup_failures"] or 0) + 1
            since = row["lookup_failed_since"] or now
            delay = backoff(failures, self.backoff_first_s)
            if isinstance(exc, xe.RateLimited):
                delay = max(delay, exc.retry_after)
            if row["lookup_alerted_at"] is None and (
                failures >= self.lookup_alert_after or now - since >= self.lookup_alert_after_s
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
            db.execute(
                "UPDATE orders SET next_attempt_at = ?, last_error = ?, lookup_failures = ?, "
                "lookup_failed_since = ?, lookup_alerted_at = COALESCE(lookup_alerted_at, ?) "
                "WHERE id = ? AND state = 'unknown'",
                [
                    now + delay,
                    f"lookup failed: {exc}",
                    failures,
                    since,
                    now if alerted else None,
                    order.id,
                ],
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
            window_s=self.inflight_window_s,
            confirm_after_s=self.confirm_after_s,
        )
        if verdict.action == "place_again":
            self._place_again(order)
            return
        self.metrics.reconciliation("not_found")
        with self.database.tx() as db:
            changed = db.execute(
                "UPDATE orders SET next_attempt_at = ?, not_found_at = ?, "
                "sent_at = COALESCE(sent_at, ?), last_error = ?, "
                # Xoxoday answered: a streak of failed lookups is over.
                "lookup_failures = 0, lookup_failed_since = NULL, lookup_alerted_at = NULL "
                "WHERE id = ? AND state = 'unknown'",
                [verdict.next_lookup_at, verdict.not_found_at, now, verdict.why, order.id],
            ).rowcount
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
        if order.attempts >= self.max_attempts:
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
                    + backoff(order.attempts, self.backoff_first_s),
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

    def _poll(self, order: OrderRow) -> None:
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
                    "next_attempt_at": self._clock() + self.reconcile_after_s,
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
        if order.attempts >= self.max_attempts:
            self._fail(order, f"{reason} (tried {order.attempts} times)", error)
        else:
            self._requeue(
                order, delay or backoff(order.attempts, self.backoff_first_s), error, reason
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
