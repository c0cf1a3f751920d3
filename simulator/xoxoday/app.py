"""The simulator as a WSGI app: routing, auth, rate limits, faults, latency, settlement."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from bot.wsgi import Request, StartResponse, json_response, respond
from services.jsonutil import dumps
from simulator.xoxoday import controls
from simulator.xoxoday.config import SimConfig
from simulator.xoxoday.envelope import Call, parse_call
from simulator.xoxoday.errors import ApiError, SimError, invalid_token, rate_limited
from simulator.xoxoday.faults import BEFORE_COMMIT, Fault
from simulator.xoxoday.oauth import bearer_token, issue_token, validate_token
from simulator.xoxoday.ops_catalog import get_filters, get_vouchers, lookup_mobile_number
from simulator.xoxoday.ops_orders import (
    get_balance,
    get_order_details,
    get_order_history,
    payment_history,
    place_order,
)
from simulator.xoxoday.orders import DELIVERED, PENDING, Order, settle, utcnow
from simulator.xoxoday.scheduler import Scheduler
from simulator.xoxoday.state import SimState
from simulator.xoxoday.webhooks import WebhookSender

log = logging.getLogger(__name__)

OAUTH_PREFIX = "/chef/v1/oauth/"


@dataclass
class Answer:
    status: int
    body: Any
    raw: bytes | None = None  # sent as-is instead of body (the malformed_json fault)


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
            return respond(start_response, answer.status, answer.raw)
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
                        return Answer(
                            200, issue_token(req, segment, self.state.tokens, self.config)
                        )
                return Answer(405, {"code": 405, "error": "Method Not Allowed"})
        except SimError as exc:
            return Answer(exc.status, exc.body)
        return Answer(404, {"code": 404, "error": f"no route for {req.path}"})

    # ---- the RPC endpoint ---------------------------------------------------------------

    def _api(self, req: Request) -> Answer:
        token = bearer_token(req)
        with self.lock:
            if self.state.tokens.access_pair(token, time.time()) is None:
                raise invalid_token()
        call = parse_call(req)
        with self.lock:
            penalty = self.state.limiter.check(call.op, time.monotonic(), self.config.rate_scale)
            if penalty is not None:
                raise rate_limited(penalty)
            fault = self.state.faults.take(call.op)
            if fault is not None:
                self.state.faults_applied[fault.kind] += 1
                if fault.kind in BEFORE_COMMIT:
                    return self._failed(fault, call)
            try:
                answer = Answer(200, {"data": {call.key: self._run(call)}})
            except ApiError as exc:
                answer = Answer(exc.status, exc.body)
        if fault is None:
            return answer
        return self._failed_after_commit(fault, answer)

    def _run(self, call: Call) -> dict[str, Any]:
        """The operation's body, {"status": 1, "data": ...}; called under the lock."""
        state, data, wallet = self.state, call.data, self.config.wallet_currency
        if call.op == "lookupMobileNumber":
            return lookup_mobile_number(state, data)
        if call.op == "placeOrder":
            order = place_order(state, data, wallet, utcnow())
            if order.delivery_status == PENDING:
                self._schedule_delivery(order)
            result: Any = order.placed_json()
        elif call.op == "getFilters":
            result = get_filters(state, data)
        elif call.op == "getVouchers":
            result = get_vouchers(state, data, wallet)
        elif call.op == "getBalance":
            result = get_balance(state, wallet)
        elif call.op == "getOrderDetails":
            result = get_order_details(state, data)
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
        if fault.kind == "timeout_after_commit":
            self._hold(fault.delay_s)
            return Answer(504, {"code": 504, "error": "Gateway Timeout"})
        return Answer(500, {"code": 500, "error": "Internal server error"})

    def _hold(self, seconds: float) -> None:
        if seconds > 0:
            self._interrupt.wait(seconds)

    # ---- settlement ---------------------------------------------------------------------

    def _schedule_delivery(self, order: Order) -> None:
        delay, generation = self.config.delivery_delay_s, self.generation
        if delay >= 0:
            self.scheduler.call_later(delay, lambda: self._auto_settle(generation, order.order_id))

    def _auto_settle(self, generation: int, order_id: int) -> None:
        with self.lock:
            order = self.state.orders.get(order_id)
            if generation != self.generation or order is None or order.delivery_status != PENDING:
                return
            settle(order, DELIVERED, self.state.ledger, utcnow())
        self.webhooks.notify(order, synchronous=False)

    def deliver(self, order: Order, status: str) -> dict[str, Any]:
        """Settle a pending order now; the webhook's first attempt is made before returning."""
        with self.lock:
            if order.delivery_status != PENDING:
                raise ValueError(f"order {order.po_number!r} is {order.delivery_status}")
            settle(order, status, self.state.ledger, utcnow())
        return self.webhooks.notify(order, synchronous=True)

    # ---- lifecycle ----------------------------------------------------------------------

    def reset(self) -> None:
        with self.lock:
            self.generation += 1
            self.config = self._startup.copy()
            self.state = SimState(self.config)
            self.scheduler.clear()
            interrupted, self._interrupt = self._interrupt, threading.Event()
        interrupted.set()

    def close(self) -> None:
        self._interrupt.set()
        self.scheduler.close()
        self.webhooks.close()
