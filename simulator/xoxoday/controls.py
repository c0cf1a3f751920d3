"""The /_sim/ control routes that tests and the demo use to steer the simulator."""

from __future__ import annotations

import dataclasses
import json
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from typing import Any, Protocol

from plumbing.jsonutil import loads
from plumbing.wsgi import Request
from simulator.xoxoday.catalog import synthetic_products
from simulator.xoxoday.config import SimConfig, coerce_field, real_shapes
from simulator.xoxoday.envelope import OPS, canonical_op
from simulator.xoxoday.errors import ApiError
from simulator.xoxoday.faults import KINDS, LATE_COMMIT, REFRESH_KINDS, REFRESH_OP, Fault
from simulator.xoxoday.money import as_number, parse_decimal, parse_int
from simulator.xoxoday.orders import CANCELED, DELIVERED, FAILED, REFUNDED, Order, utcnow
from simulator.xoxoday.ratelimit import limit_for
from simulator.xoxoday.state import SimState


class SimulatorApp(Protocol):
    """What the controls steer (simulator.xoxoday.app.SimulatorApp): named here rather than
    imported, since the app imports these routes (no import circle)."""

    lock: AbstractContextManager[Any]  # a threading.RLock
    state: SimState
    config: SimConfig

    def reset(self) -> None: ...

    def deliver(self, order: Order, status: str, cancelled_quantity: int = 0) -> dict[str, Any]: ...

    def place_by_hand(self, data: dict[str, Any], when: datetime) -> Order: ...


Result = tuple[int, Any]
_CONFIG_FIELDS = {f.name for f in dataclasses.fields(SimConfig)}
_STATUSES = {
    "delivered": DELIVERED,
    "canceled": CANCELED,
    "cancelled": CANCELED,
    "refunded": REFUNDED,
    "failed": FAILED,
}


class ControlError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _body(req: Request) -> dict[str, Any]:
    if not req.body.strip():
        return {}
    try:
        body = loads(req.body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise ControlError(400, "body is not JSON") from None
    if not isinstance(body, dict):
        raise ControlError(400, "body must be a JSON object")
    return body


def _config_view(app: SimulatorApp) -> dict[str, Any]:
    return {
        **app.config.to_json(),
        "webhook_enabled": app.state.webhook_enabled,
        "balance": app.state.ledger.balance,
    }


def health(app: SimulatorApp, req: Request) -> Result:
    with app.lock:
        return 200, {"ok": True, "orders": len(app.state.orders)}


def reset(app: SimulatorApp, req: Request) -> Result:
    app.reset()
    return 200, {"ok": True}


def add_fault(app: SimulatorApp, req: Request) -> Result:
    body = _body(req)
    op_name = str(body.get("op", ""))
    op = op_name if op_name in ("*", REFRESH_OP) else canonical_op(op_name)
    if op is None:
        raise ControlError(400, f"op must be '*', {REFRESH_OP} or one of {', '.join(OPS)}")
    kind = body.get("kind")
    kinds = REFRESH_KINDS if op == REFRESH_OP else KINDS
    if kind not in kinds:
        raise ControlError(400, f"kind must be one of {', '.join(sorted(kinds))}")
    times = parse_int(body.get("times", 1))
    delay = parse_decimal(body.get("delay_s", 0 if kind == LATE_COMMIT else 130))
    penalty = parse_int(body.get("penalty_seconds", 60))
    commit_after = body.get("commit_after_s")
    commit_s = None if commit_after is None else parse_decimal(commit_after)
    lookups = body.get("commit_after_lookups")
    commit_lookups = None if lookups is None else parse_int(lookups)
    if lookups is not None and (commit_lookups is None or commit_lookups < 1):
        raise ControlError(400, "commit_after_lookups must be a whole number >= 1")
    again = body.get("commit_after_placed_again", False)
    if not isinstance(again, bool):
        raise ControlError(400, "commit_after_placed_again must be true or false")
    status = body.get("http_status")
    http_status = None if status is None else parse_int(status)
    if times is None or times < 1 or delay is None or delay < 0 or penalty is None or penalty < 0:
        raise ControlError(400, "times must be >= 1; delay_s and penalty_seconds >= 0")
    if (commit_after is not None and (commit_s is None or commit_s < 0)) or (
        status is not None and (http_status is None or not 100 <= http_status <= 599)
    ):
        raise ControlError(400, "commit_after_s must be >= 0; http_status an HTTP status")
    with app.lock:
        app.state.faults.add(
            Fault(
                op,
                kind,
                times,
                float(delay),
                penalty,
                commit_after_s=None if commit_s is None else float(commit_s),
                commit_after_lookups=commit_lookups,
                commit_after_placed_again=again,
                http_status=http_status,
            )
        )
        return 200, {"ok": True, "faults": [f.to_json() for f in app.state.faults.faults]}


def list_faults(app: SimulatorApp, req: Request) -> Result:
    with app.lock:
        return 200, {"faults": [f.to_json() for f in app.state.faults.faults]}


def list_orders(app: SimulatorApp, req: Request) -> Result:
    with app.lock:
        return 200, {"orders": [o.sim_json() for o in app.state.orders.values()]}


def _order(app: SimulatorApp, body: dict[str, Any]) -> Any:
    """The order a control names by poNumber or orderId; call under the lock."""
    po_number, order_id = body.get("poNumber"), parse_int(body.get("orderId"))
    if po_number:
        order = app.state.orders_by_po.get(str(po_number))
    else:
        order = app.state.orders.get(order_id) if order_id else None
    if order is None:
        raise ControlError(404, "no order with that poNumber/orderId")
    return order


def deliver(app: SimulatorApp, req: Request) -> Result:
    """Settle an open order: delivered (optionally with `cancelledQuantity` units cancelled
    and their share refunded), canceled, refunded or failed (money back)."""
    body = _body(req)
    status = _STATUSES.get(str(body.get("status", "delivered")).lower())
    if status is None:
        raise ControlError(400, f"status must be one of {', '.join(sorted(_STATUSES))}")
    cancelled = parse_int(body.get("cancelledQuantity", 0))
    if cancelled is None or cancelled < 0:
        raise ControlError(400, "cancelledQuantity must be a whole number >= 0")
    with app.lock:
        order = _order(app, body)
        if cancelled and (status != DELIVERED or cancelled >= order.quantity):
            raise ControlError(400, "cancelledQuantity is for a delivered multi-unit order")
    try:
        webhook = app.deliver(order, status, cancelled)
    except ValueError as exc:
        raise ControlError(409, str(exc)) from None
    with app.lock:
        return 200, {"ok": True, "order": order.sim_json(), "webhook": webhook}


def set_status(app: SimulatorApp, req: Request) -> Result:
    """Force raw orderStatus/deliveryStatus words on an order (no money moves): for answers
    nobody documented, which the bot must poll with a cap and then alert about."""
    body = _body(req)
    fields = {"orderStatus": "order_status", "deliveryStatus": "delivery_status"}
    if not set(body) & set(fields) or set(body) - {*fields, "poNumber", "orderId"}:
        raise ControlError(400, "give poNumber or orderId and orderStatus and/or deliveryStatus")
    with app.lock:
        order = _order(app, body)
        for key, attribute in fields.items():
            if key in body:
                setattr(order, attribute, str(body[key]))
        return 200, {"ok": True, "order": order.sim_json()}


# --- making Xoxoday's books disagree with the bot's (for the audit) --------------------------


def _when(body: dict[str, Any], key: str) -> datetime:
    """A past moment a control names ("YYYY-MM-DD" or "YYYY-MM-DD HH:MM:SS", UTC), or now."""
    text = body.get(key)
    if text in (None, ""):
        return utcnow()
    try:
        moment = datetime.fromisoformat(str(text))
    except ValueError:
        raise ControlError(400, f"{key} must be YYYY-MM-DD or YYYY-MM-DD HH:MM:SS") from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def orphan(app: SimulatorApp, req: Request) -> Result:
    """An order placed at Xoxoday without the bot (by hand in the dashboard, from another copy
    of the database): placeOrder's checks, the wallet charged, dated `orderDate` if given."""
    body = _body(req)
    when = _when(body, "orderDate")
    data = {k: v for k, v in body.items() if k != "orderDate"}
    data.setdefault("quantity", 1)
    try:
        order = app.place_by_hand(data, when)
    except ApiError as exc:
        return exc.status, exc.body
    with app.lock:
        return 200, {"ok": True, "order": order.sim_json()}


def charge(app: SimulatorApp, req: Request) -> Result:
    """Xoxoday's record of an order's charge becomes `amountCharged` (its history and its
    payment report row say so); the bot's record keeps what placeOrder answered."""
    body = _body(req)
    amount = parse_decimal(body.get("amountCharged"))
    if amount is None or amount < 0:
        raise ControlError(400, "amountCharged must be a number >= 0")
    with app.lock:
        order = _order(app, body)
        order.amount_charged = amount
        app.state.ledger.amend_charge(order.order_id, amount)
        return 200, {"ok": True, "order": order.sim_json()}


def topup(app: SimulatorApp, req: Request) -> Result:
    """Funds added to the wallet (a payment report row "Funds added"), dated `date` if given."""
    body = _body(req)
    amount = parse_decimal(body.get("amount"))
    if amount is None or amount <= 0:
        raise ControlError(400, "amount must be a number > 0")
    when = _when(body, "date")
    with app.lock:
        app.state.ledger.credit(amount, "Funds added", when)
        return 200, {"ok": True, "balance": as_number(app.state.ledger.balance)}


def forget(app: SimulatorApp, req: Request) -> Result:
    """Xoxoday no longer has an order (the bot's record says it was placed): gone from
    getOrderDetails and getOrderHistory; its payment report row stays."""
    body = _body(req)
    with app.lock:
        order = _order(app, body)
        app.state.forget(order)
        return 200, {"ok": True, "order": order.sim_json()}


def set_config(app: SimulatorApp, req: Request) -> Result:
    """Change settings; `"real_shapes": true` first turns every §12 switch on (false: off),
    and the other fields of the same body apply after it."""
    body = _body(req)
    shapes = body.pop("real_shapes", None)
    if shapes is not None and not isinstance(shapes, bool):
        raise ControlError(400, "real_shapes must be true or false")
    unknown = set(body) - _CONFIG_FIELDS - {"webhook_enabled", "balance"}
    if unknown:
        raise ControlError(400, f"unknown config fields: {', '.join(sorted(unknown))}")
    try:
        changes = {k: coerce_field(k, v) for k, v in body.items() if k in _CONFIG_FIELDS}
        balance = parse_decimal(body["balance"]) if "balance" in body else None
    except (ValueError, ArithmeticError) as exc:
        raise ControlError(400, f"invalid config value: {exc}") from None
    if "balance" in body and (balance is None or balance < 0):
        raise ControlError(400, "balance must be a number >= 0")
    with app.lock:
        if shapes is not None:
            app.config = real_shapes(app.config, shapes)
        app.config = dataclasses.replace(app.config, **changes)
        if "webhook_enabled" in body:
            app.state.webhook_enabled = bool(body["webhook_enabled"])
        if balance is not None:
            ledger, now = app.state.ledger, utcnow()
            change = balance - ledger.balance
            if change > 0:
                ledger.credit(change, "Funds added", now)
            elif change < 0:
                ledger.debit(-change, "Funds adjusted", now)
        return 200, _config_view(app)


def rates(app: SimulatorApp, req: Request) -> Result:
    """The day's locked rates (US dollars per unit of a currency): GET reads them; POST
    `{"GBP": "1.30"}` locks new ones, as Xoxoday does each day at 00:30 IST (§13): the
    catalog's exchangeRate and what placeOrder charges follow from then on."""
    if req.method == "POST":
        body = _body(req)
        changes = {}
        for currency, value in body.items():
            rate = parse_decimal(value)
            if currency not in app.state.rates or rate is None or rate <= 0:
                known = ", ".join(app.state.rates)
                raise ControlError(400, f"give positive rates for known currencies ({known})")
            changes[currency] = rate
        with app.lock:
            app.state.rates.update(changes)
    with app.lock:
        return 200, {"rates": {c: str(r) for c, r in app.state.rates.items()}}


def catalog_size(app: SimulatorApp, req: Request) -> Result:
    """`{"synthetic": N}`: N plain gift cards more, spread over the countries (a real
    account's catalog has thousands); /_sim/reset takes them away."""
    body = _body(req)
    count = parse_int(body.get("synthetic"))
    if count is None or not 0 <= count <= 100_000:
        raise ControlError(400, "synthetic must be a whole number from 0 to 100000")
    with app.lock:
        for product in synthetic_products(count):
            app.state.products[product.product_id] = product
        return 200, {"products": len(app.state.products)}


def get_config(app: SimulatorApp, req: Request) -> Result:
    with app.lock:
        return 200, _config_view(app)


def webhooks(app: SimulatorApp, req: Request) -> Result:
    with app.lock:
        return 200, {"enabled": app.state.webhook_enabled, "webhooks": list(app.state.webhook_log)}


def stats(app: SimulatorApp, req: Request) -> Result:
    with app.lock:
        limiter, scale = app.state.limiter, app.config.rate_scale
        return 200, {
            "calls": dict(limiter.calls),
            "rate_limited": dict(limiter.limited),
            "faults_applied": dict(app.state.faults_applied),
            "limits": {op: limit_for(op, scale) for op in OPS},
            "balance": as_number(app.state.ledger.balance),
        }


def expire_tokens(app: SimulatorApp, req: Request) -> Result:
    with app.lock:
        return 200, {"expired": app.state.tokens.expire_access_tokens(time.time())}


ROUTES: dict[tuple[str, str], Callable[[SimulatorApp, Request], Result]] = {
    ("GET", "/_sim/health"): health,
    ("POST", "/_sim/reset"): reset,
    ("POST", "/_sim/faults"): add_fault,
    ("GET", "/_sim/faults"): list_faults,
    ("GET", "/_sim/orders"): list_orders,
    ("POST", "/_sim/deliver"): deliver,
    ("POST", "/_sim/status"): set_status,
    ("POST", "/_sim/config"): set_config,
    ("GET", "/_sim/config"): get_config,
    ("GET", "/_sim/webhooks"): webhooks,
    ("GET", "/_sim/stats"): stats,
    ("POST", "/_sim/tokens/expire"): expire_tokens,
    ("POST", "/_sim/orphan"): orphan,
    ("POST", "/_sim/charge"): charge,
    ("POST", "/_sim/topup"): topup,
    ("POST", "/_sim/forget"): forget,
    ("GET", "/_sim/rates"): rates,
    ("POST", "/_sim/rates"): rates,
    ("POST", "/_sim/catalog"): catalog_size,
}


def handle(app: SimulatorApp, req: Request) -> Result:
    path = req.path.rstrip("/")
    handler = ROUTES.get((req.method, path))
    if handler is None:
        known = any(route_path == path for _, route_path in ROUTES)
        return (
            (405, {"error": "method not allowed"}) if known else (404, {"error": "no such route"})
        )
    try:
        return handler(app, req)
    except ControlError as exc:
        return exc.status, {"error": str(exc)}
