"""The placement and tracking loop: the order table is its queue.

Each round it gives back the budget of orders a decision withdrew (services/releases.py),
(1) looks up orders whose outcome is unknown, (2) claims queued orders by compare-and-set
and places them on a bounded thread pool, (3) polls deliveries still pending, (4) runs the
approval schedule and starts the daily audit. What happens to each
order it starts is services/order_work.py. Telling people is not its business: the delivery
room (handlers/delivery.py, started beside it) does, so Slack can never stall a round. One
worker at a time holds the lease (services/lease.py). On start it first turns every `placing`
order into `unknown` and reconciles it, before anything new is placed.
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TYPE_CHECKING

from services.catalog import Catalog
from services.delivery import Delivery
from services.errors import RewardError
from services.lease import Lease
from services.logcontext import log_refs
from services.metrics import Instruments
from services.order_work import OrderSettings, OrderWork, backoff
from services.releases import BudgetReleases
from services.wallet import Wallet
from services.xoxoday import errors as xe
from services.xoxoday.client import XoxodayClient
from storage import orders as order_store
from storage.db import Database
from storage.models import OrderRow

if TYPE_CHECKING:
    from services.audit_schedule import DailyAudit
    from services.choice_schedule import Ticking

log = logging.getLogger(__name__)

__all__ = ["OrderSettings", "Worker", "backoff"]


class Worker:
    def __init__(
        self,
        database: Database,
        client: XoxodayClient,
        catalog: Catalog,
        delivery: Delivery,
        *,
        concurrency: int = 4,
        orders: OrderSettings | None = None,
        idle_sleep_s: float = 1.0,
        wallet: Wallet | None = None,
        metrics: Instruments | None = None,
        name: str | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.client = client
        self.catalog = catalog
        self.concurrency = concurrency
        self.idle_sleep_s = idle_sleep_s
        self.name = name or f"worker-{uuid.uuid4().hex[:8]}"
        self._clock = clock
        # What happens to each order it starts (placing, lookups, polls, settling).
        self.orders = OrderWork(
            database,
            client,
            catalog,
            delivery,
            name=self.name,
            settings=orders,
            wallet=wallet,
            metrics=metrics,
            clock=clock,
        )
        # Reserves of withdrawn orders, given back after the decision's answer.
        self.releases = BudgetReleases(database)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="place")
        self._slots = threading.Semaphore(concurrency)
        self._in_flight: set[Future[None]] = set()
        self._busy_orders: set[int] = set()  # orders a pool thread is working on
        self._orphans: set[int] = set()  # orders whose task raised (see _recover_orphans)
        self._claimed: list[OrderRow] = []  # claimed while still busy: placed next round
        # A condition, so drain() can wait until _done has run for what it waits on.
        self._in_flight_lock = threading.Condition(threading.Lock())
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.lease = Lease(database, self.name, details=self._lease_details)
        self._last_housekeeping = 0.0
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

    # The per-order settings, kept on OrderWork; here for the runtime and tests that tune them.
    @property
    def max_attempts(self) -> int:
        return self.orders.settings.max_attempts

    @max_attempts.setter
    def max_attempts(self, value: int) -> None:
        self.orders.settings.max_attempts = value

    @property
    def reconcile_after_s(self) -> float:
        return self.orders.settings.reconcile_after_s

    @reconcile_after_s.setter
    def reconcile_after_s(self, value: float) -> None:
        self.orders.settings.reconcile_after_s = value

    @property
    def auth_retry_s(self) -> float:
        return self.orders.settings.auth_retry_s

    @auth_retry_s.setter
    def auth_retry_s(self, value: float) -> None:
        self.orders.settings.auth_retry_s = value

    @property
    def metrics(self) -> Instruments:
        return self.orders.metrics

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
            if self._thread.is_alive():  # a round in a busy database: the lease is its until done
                log.warning("the worker's round is still running after %.0f s", timeout)
                self._thread.join()
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
            pending = set(self._in_flight)
            # A future's result is visible before its done callback (_done) has run: wait for
            # that too, or the next step() could find the order still busy and its slot taken.
            self._in_flight_lock.wait_for(lambda: not pending & self._in_flight)
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
        if running or any(counts.get(s) for s in ("queued", "placing", "unknown")):
            return False
        return self.releases.pending() == 0

    def is_settled(self) -> bool:
        """Idle, and no placed order waits for a poll (delivered, canceled, or given up on)."""
        tracked = order_store.next_due_time(self.database, "placed", "next_poll_at")
        return self.is_idle() and tracked is None

    # --- one round --------------------------------------------------------------------------

    def recover(self) -> int:
        """After a restart: every `placing` order may have reached Xoxoday; look it up first."""
        stranded = order_store.in_states(self.database, ["placing"])
        for order in stranded:
            self.orders.recovered(order.id, "the worker stopped while placing this order")
        if stranded:
            log.warning("recovered %d order(s) left in placing", len(stranded))
        # Every lost answer is looked up before anything new is placed.
        for order in order_store.in_states(self.database, ["unknown"]):
            self._start(order, self.orders.reconcile, wait=True)
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
        busy |= self._release_budgets()
        for order in order_store.due(self.database, "unknown", "next_attempt_at", now, limit=50):
            started = self._start(order, self.orders.reconcile)
            if started is None:
                break
            busy |= started
        while not self._lease_lost.is_set() and self._slots.acquire(blocking=False):
            claimed = self._claimed.pop(0) if self._claimed else None
            order = claimed or order_store.claim_next(self.database, self.name, self._clock())
            if order is None:
                self._slots.release()
                break
            if self._start(order, self.orders.place, have_slot=True) is False:
                # Claimed while the task that queued it again (a lookup) is still returning:
                # placed next round, never left in `placing` with nobody working on it.
                self._claimed.append(order)
                break
            busy = True
        for order in order_store.due(self.database, "placed", "next_poll_at", now, limit=20):
            started = self._start(order, self.orders.poll)
            if started is None:
                break
            busy |= started
        if self.scheduler is not None and not self._lease_lost.is_set():
            busy |= self._schedule()
        if self.audit is not None and self._auditing and not self._lease_lost.is_set():
            self._start_audit()
        self._housekeeping(now)
        return busy

    def _release_budgets(self) -> bool:
        """Withdrawn orders' reserves given back (a bounded number per round); a failure is
        logged and never stops placement: they stay queued for the next round."""
        try:
            return self.releases.run() > 0
        except Exception:
            log.exception("giving back withdrawn orders' budget failed; trying again next round")
            return False

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
            self._busy_orders.discard(order_id)
            if failed:
                self._orphans.add(order_id)
        self._slots.release()
        with self._in_flight_lock:  # last: drain() returns once the order and slot are free
            self._in_flight.discard(future)
            self._in_flight_lock.notify_all()
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
            self.orders.recovered(
                order_id, "placing it ended in an error before its outcome was recorded"
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
