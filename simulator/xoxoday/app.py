"""The simulator as a WSGI app: routing, auth, rate limits, faults, latency, settlement.

With the real-shapes switches on (config.REAL_SHAPES) it also answers the way a real account
was seen to (xoxoday-api.md §12, §13): most realtime orders complete with their codes, a
share processing first and settling later (some refunded, failed or partly cancelled), late
commits behind a gateway 504, PLE10010, auth.token_error, the refresh rate limit.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from plumbing.jsonutil import dumps
from plumbing.wsgi import Request, StartResponse, json_response, respond
from simulator.xoxoday import controls
from simulator.xoxoday.config import SimConfig
from simulator.xoxoday.envelope import Call, parse_call
from simulator.xoxoday.errors import (
    ApiError,
    SimError,
    invalid_token,
    rate_limited,
    refresh_limited,
    token_error,
)
from simulator.xoxoday.faults import BEFORE_COMMIT, LATE_COMMIT, REFRESH_OP, Fault
from simulator.xoxoday.oauth import bearer_token, issue_token, validate_token
from simulator.xoxoday.ops_catalog import get_filters, get_vouchers, lookup_mobile_number
from simulator.xoxoday.ops_orders import (
    commit_order,
    get_balance,
    get_order_details,
    get_order_history,
    payment_history,
    place_order,
    prepare_order,
)
from simulator.xoxoday.orders import (
    DELIVERED,
    FAILED,
    PENDING,
    REFUNDED,
    Order,
    settle,
    utcnow,
)
from simulator.xoxoday.scheduler import Scheduler
from simulator.xoxoday.state import SimState
from simulator.xoxoday.webhooks import WebhookSender

log = logging.getLogger(__name__)

OAUTH_PREFIX = "/chef/v1/oauth/"
# What a gateway (nginx, a load balancer) sends when Xoxoday is slow: HTML, not JSON.
GATEWAY_TIMEOUT_HTML = (
    b"<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n"
    b"<center><h1>504 Gateway Time-out</h1></center>\r\n</body>\r\n</html>\r\n"
)


@dataclass
class Answer:
    status: int
    body: Any
    raw: bytes | None = None  # sent as-is instead of body (malformed_json, late_commit)
    content_type: str = "application/json"


class SimulatorApp:
    """All state lives in memory behind one lock; every handler runs quickly under it."""

    def __init__(self, config: SimConfig | None = None) -> None:
        self._startup = (config or SimConfig()).copy()
        self.config = self._startup.copy()
        self.lock = threading.RLock()
        self.state = SimState(self.config)
        self.generation = 0  # bumped by reset so timers and retries of the old world stop
        self._interrupt = threading.Event()  # wakes held answers on reset and close
        self.scheduler = Scheduler()
        # poNumber -> [not-found answers still to give, the commit]: late commits that wait
        # for lookups (Fault.commit_after_lookups), not for a timer.
        self._held_commits: dict[str, list[Any]] = {}
        # poNumber -> a late commit waiting for that poNumber to be placed again.
        self._held_for_placing: dict[str, Callable[[], None]] = {}
        self.webhooks = WebhookSender(
            self.lock,
            state=lambda: self.state,
            config=lambda: self.config,
            generation=lambda: self.generation,
            scheduler=self.scheduler,
        )

    # ---- WSGI ---------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        req = Request.from_environ(environ)
        if req.path == "/_sim" or req.path.startswith("/_sim/"):
            status, body = controls.handle(self, req)
            return json_response(start_response, status, body)
        if req.path.startswith(OAUTH_PREFIX):
            answer = self._chef(req)
            self._hold(self.config.latency_ms / 1000)
        else:
            answer = Answer(404, {"code": 404, "error": f"no route for {req.path}"})
        if answer.raw is not None:
            return respond(start_response, answer.status, answer.raw, answer.content_type)
        return json_response(start_response, answer.status, answer.body)

    def _chef(self, req: Request) -> Answer:
        rest = req.path[len(OAUTH_PREFIX) :]
        try:
            if rest == "api" or rest.startswith("api/"):  # /api/placeOrder etc. are virtual
                return self._api(req)
            if rest == "token" or rest.startswith("token/"):
                segment = rest[len("token") :].strip("/")
                with self.lock:
                    if req.method == "GET" and not segment:
                        return Answer(200, validate_token(req, self.state.tokens))
                    if req.method == "POST":
                        self._check_refresh_limit()
                        return Answer(
                            200, issue_token(req, segment, self.state.tokens, self.config)
                        )
                return Answer(405, {"code": 405, "error": "Method Not Allowed"})
        except SimError as exc:
            return Answer(exc.status, exc.body)
        return Answer(404, {"code": 404, "error": f"no route for {req.path}"})

    # ---- the RPC endpoint ---------------------------------------------------------------

    def _check_refresh_limit(self) -> None:
        """The refresh-abuse answer, from a fault or over refresh_limit_per_min; under the lock."""
        fault = self.state.faults.take(REFRESH_OP, wildcard=False)
        if fault is not None:
            self.state.faults_applied[f"{REFRESH_OP}:{fault.kind}"] += 1
            raise refresh_limited(fault.http_status or 429)
        limit = self.config.refresh_limit_per_min
        if limit <= 0:
            return
        now, times = time.monotonic(), self.state.refreshes
        while times and times[0] <= now - 60:
            times.popleft()
        if len(times) >= limit:
            raise refresh_limited()
        times.append(now)

    def _api(self, req: Request) -> Answer:
        token = bearer_token(req)
        with self.lock:
            if self.state.tokens.access_pair(token, time.time()) is None:
                raise token_error() if self.config.token_error_shape else invalid_token()
        call = parse_call(req)
        with self.lock:
            penalty = self.state.limiter.check(
                call.op, time.monotonic(), self.config.rate_scale, self.config.rate_window_s
            )
            if penalty is not None:
                raise rate_limited(penalty)
            fault = self.state.faults.take(call.op)
            if fault is None and call.op == "placeOrder":
                fault = self._random_fault()
            if fault is not None:
                self.state.faults_applied[fault.kind] += 1
                if fault.kind in BEFORE_COMMIT:
                    return self._failed(fault, call)
            late = fault is not None and fault.kind == LATE_COMMIT
            if late:
                self._commit_late(fault, call)  # type: ignore[arg-type]
            else:
                answer = self._answer(call)
                self._after_lookup(call, answer)
                self._after_placing(call, answer)
        if late:
            self._hold(fault.delay_s)  # type: ignore[union-attr]
            return Answer(504, None, raw=GATEWAY_TIMEOUT_HTML, content_type="text/html")
        if fault is None:
            return answer
        return self._failed_after_commit(fault, answer)

    def _answer(self, call: Call) -> Answer:
        """Run the operation; called under the lock."""
        try:
            return Answer(200, {"data": {call.key: self._run(call)}})
        except ApiError as exc:
            return Answer(exc.status, exc.body)

    def _random_fault(self) -> Fault | None:
        """The real shapes' share of late commits and PLE10010s; under the lock."""
        config, rng = self.config, self.state.rng
        if config.late_commit_share and rng.random() < config.late_commit_share:
            return Fault("placeOrder", LATE_COMMIT, 1, delay_s=0.0)
        if config.redeem_failed_share and rng.random() < config.redeem_failed_share:
            return Fault("placeOrder", "redeem_failed", 1)
        return None

    def _commit_late(self, fault: Fault, call: Call) -> None:
        """Check the order now and commit it later; a refused one never commits. Under the lock."""
        try:
            order = prepare_order(
                self.state, call.data, self.config.wallet_currency, utcnow(), self._home()
            )
        except ApiError as exc:
            log.info("late commit refused: %s", exc.body)
            return
        generation = self.generation

        def commit() -> None:
            with self.lock:
                if generation != self.generation:
                    return
                if commit_order(self.state, order):
                    self._placed(order)
                else:
                    log.info("late commit of %s dropped: the wallet cannot pay", order.po_number)

        if fault.commit_after_lookups is not None:
            self._held_commits[order.po_number] = [fault.commit_after_lookups, commit]
            return
        if fault.commit_after_placed_again:
            self._held_for_placing[order.po_number] = commit
            return
        delay = self.config.late_commit_s if fault.commit_after_s is None else fault.commit_after_s
        self.scheduler.call_later(delay, commit)

    def _after_lookup(self, call: Call, answer: Answer) -> None:
        """A getOrderDetails answered "not found": a late commit waiting for that many lookups
        of its poNumber commits now, after this answer. Under the lock."""
        po_number = call.data.get("poNumber")
        held = self._held_commits.get(po_number) if isinstance(po_number, str) else None
        if call.op != "getOrderDetails" or answer.status != 404 or held is None:
            return
        held[0] -= 1
        if held[0] <= 0:
            del self._held_commits[po_number]  # type: ignore[arg-type]
            held[1]()

    def _after_placing(self, call: Call, answer: Answer) -> None:
        """A placeOrder placed an order: a late commit of its poNumber waiting for that (the
        client trusted "not found" and placed again) commits now, after it. Under the lock."""
        po_number = call.data.get("poNumber")
        if call.op != "placeOrder" or answer.status != 200 or not isinstance(po_number, str):
            return
        held = self._held_for_placing.pop(po_number, None)
        if held is not None:
            held()

    def _run(self, call: Call) -> dict[str, Any]:
        """The operation's body, {"status": 1, "data": ...}; called under the lock."""
        state, data, wallet = self.state, call.data, self.config.wallet_currency
        if call.op == "lookupMobileNumber":
            return lookup_mobile_number(state, data, self.config.operator_shape)
        if call.op == "placeOrder":
            order = place_order(state, data, wallet, utcnow(), self._home())
            self._placed(order)
            result: Any = order.placed_json()
        elif call.op == "getFilters":
            result = get_filters(state, data)
        elif call.op == "getVouchers":
            result = get_vouchers(state, data, wallet, self.config.inr_rate_rule)
        elif call.op == "getBalance":
            result = get_balance(state, wallet, self.config.balance_inr_rate)
        elif call.op == "getOrderDetails":
            result = get_order_details(state, data, self.config.cancel_in_product_status)
        elif call.op == "getOrderHistory":
            result = get_order_history(state, data)
        else:
            result = payment_history(state, data)
        return {"status": 1, "data": result}

    def _failed(self, fault: Fault, call: Call) -> Answer:
        """A fault that answers without running the operation."""
        if fault.kind == "rate_limit":
            self.state.limiter.note_limited(call.op)
            exc: SimError = rate_limited(fault.penalty_seconds)
        elif fault.kind == "invalid_token":
            exc = invalid_token()
        elif fault.kind == "token_error":
            exc = token_error()
        elif fault.kind == "redeem_failed":
            exc = ApiError(422, "PLE10010", "Failed to redeem points", "Failed to redeem points")
        elif fault.kind == "out_of_stock":
            exc = ApiError(502, "PLE10024", "Vouchers are out of stock", "Out of stock")
        elif fault.kind == "http_502":
            exc = ApiError(
                502,
                "PLE10025",
                "Failed to place order for the client",
                "Upstream vendor error, please retry later",
            )
        elif fault.kind == "status_zero":
            body = {"status": 0, "message": "Something went wrong, please try again"}
            return Answer(200, {"data": {call.key: body}})
        else:  # http_500_before_commit
            return Answer(500, {"code": 500, "error": "Internal server error"})
        return Answer(exc.status, exc.body)

    def _failed_after_commit(self, fault: Fault, answer: Answer) -> Answer:
        """A fault that lets the operation commit, then spoils the answer."""
        if fault.kind == "malformed_json":
            text = dumps(answer.body).encode("utf-8")
            return Answer(200, None, raw=text[: max(1, len(text) // 2)])
        if fault.kind == "wrong_key":
            return self._wrong_key(answer)
        if fault.kind == "timeout_after_commit":
            self._hold(fault.delay_s)
            return Answer(504, {"code": 504, "error": "Gateway Timeout"})
        return Answer(500, {"code": 500, "error": "Internal server error"})

    @staticmethod
    def _wrong_key(answer: Answer) -> Answer:
        """Relabel a successful answer as another operation's, a list as its first item."""
        data = answer.body.get("data") if isinstance(answer.body, dict) else None
        if answer.status != 200 or not isinstance(data, dict) or len(data) != 1:
            return answer
        ((key, result),) = data.items()
        other = "getOrderHistory" if key == "getOrderDetails" else "getOrderDetails"
        inner = result.get("data") if isinstance(result, dict) else None
        if isinstance(inner, list):
            result = {**result, "data": inner[0] if inner else {}}
        return Answer(200, {"data": {other: result}})

    def _hold(self, seconds: float) -> None:
        if seconds > 0:
            self._interrupt.wait(seconds)

    # ---- settlement ---------------------------------------------------------------------

    def _placed(self, order: Order) -> None:
        """A committed order starts its life: processing first (a share of them, in the real
        shapes), pending (a delayed product), or delivered at once. Under the lock."""
        if order.delivery_status == DELIVERED and self._processing_first():
            order.start_processing()
            self._settle_later(order, self.config.status_delay_s)
        elif order.delivery_status == PENDING:
            self._settle_later(order, self.config.delivery_delay_s)

    def _home(self) -> str | None:
        """The account's country when it may order only there (PLE10019), else None."""
        return self.config.account_country if self.config.domestic_only else None

    def _processing_first(self) -> bool:
        share = self.config.processing_share
        return share >= 1 or (share > 0 and self.state.rng.random() < share)

    def place_by_hand(self, data: dict[str, Any], when: datetime) -> Order:
        """placeOrder as the dashboard would, outside the API (no token, no rate limit, no
        fault): the audit's orphan. Raises ApiError as placeOrder would."""
        with self.lock:
            order = prepare_order(self.state, data, self.config.wallet_currency, when)
            if not commit_order(self.state, order):
                raise ApiError(422, "PLE10010", "Failed to redeem points", "Insufficient balance")
            self._placed(order)
            return order

    def _settle_later(self, order: Order, delay: float) -> None:
        generation = self.generation
        if delay >= 0:
            self.scheduler.call_later(delay, lambda: self._auto_settle(generation, order.order_id))

    def _outcome(self, order: Order) -> tuple[str, int]:
        """How an order settling by itself ends: delivered unless the real shapes' shares
        say refunded, failed or (several units) partly cancelled."""
        config, rng = self.config, self.state.rng
        draw = rng.random()
        if draw < config.refund_share:
            return REFUNDED, 0
        if draw < config.refund_share + config.fail_share:
            return FAILED, 0
        if order.quantity > 1 and rng.random() < config.partial_cancel_share:
            return DELIVERED, rng.randint(1, order.quantity - 1)
        return DELIVERED, 0

    def _auto_settle(self, generation: int, order_id: int) -> None:
        with self.lock:
            order = self.state.orders.get(order_id)
            if generation != self.generation or order is None or not order.is_open:
                return
            status, cancelled = self._outcome(order)
            settle(order, status, self.state.ledger, utcnow(), cancelled, self._refund_status())
        self.webhooks.notify(order, synchronous=False)

    def deliver(self, order: Order, status: str, cancelled_quantity: int = 0) -> dict[str, Any]:
        """Settle an open order now; the webhook's first attempt is made before returning."""
        with self.lock:
            if not order.is_open:
                raise ValueError(f"order {order.po_number!r} is {order.delivery_status}")
            settle(
                order,
                status,
                self.state.ledger,
                utcnow(),
                cancelled_quantity,
                self._refund_status(),
            )
        return self.webhooks.notify(order, synchronous=True)

    def _refund_status(self) -> str:
        return "Cancelled" if self.config.refunds_cancelled else "Complete"

    # ---- lifecycle ----------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.generation += 1
            self.config = self._startup.copy()
            self.state = SimState(self.config)
            self.scheduler.clear()
            self._held_commits.clear()
            self._held_for_placing.clear()
            interrupted, self._interrupt = self._interrupt, threading.Event()
        interrupted.set()

    def close(self) -> None:
        self._interrupt.set()
        self.scheduler.close()
        self.webhooks.close()
