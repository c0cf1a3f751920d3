"""Simulator settings and the command-line flags that set them.

The defaults answer in Xoxoday's kindest documented shapes (the demo uses them). Each quirk
of a real account (xoxoday-api.md §12) is a switch; `--real-shapes` on the command line, or
`{"real_shapes": true}` on POST /_sim/config, turns them all on at once (REAL_SHAPES), with
delays of seconds so a run against it finishes in reasonable time.
"""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from simulator.xoxoday.catalog import COUNTRY_BY_ISO

DEFAULT_PORT = 8700
OPERATOR_SHAPES = ("combined", "spec", "field_table")


@dataclass
class SimConfig:
    latency_ms: int = 0
    # Multiplies every per-minute limit; 0 turns rate limiting off.
    rate_scale: float = 1.0
    # The length of Xoxoday's "minute" for the limits: 60; tests shorten it to run a
    # minute-bound job (a 20,000-product catalog refresh) in seconds, limits unchanged.
    rate_window_s: float = 60.0
    # Pending orders settle as delivered after this many seconds; < 0 means only via /_sim/deliver.
    delivery_delay_s: float = 3.0
    webhook_url: str | None = None
    webhook_key: str | None = None
    webhook_retry_delay_s: float = 1.0
    webhook_timeout_s: float = 5.0
    # How long a rotated-out refresh token keeps working (Xoxoday: 6 hours; the auth spec: 0).
    token_grace_s: float = 6 * 3600
    access_token_ttl_s: float = 1_296_000  # 15 days
    refresh_token_ttl_s: float = 30 * 86_400
    initial_balance: Decimal = Decimal("10000.00")
    wallet_currency: str = "USD"
    # An account that may only buy in its own country: placeOrder refuses a product not sold
    # in `account_country` (an ISO code) with 401 PLE10019 (xoxoday-api.md §13). An account
    # setting, not a shape: off by default and in the real shapes.
    domestic_only: bool = False
    account_country: str = "US"
    # A cancelled delivery's payment-report "Refunded" row carries transaction_status
    # "Cancelled", as documented (xoxoday-api.md §4, §3.8); False writes it "Complete", the
    # shape this simulator used to answer (the audit never saw the documented one).
    refunds_cancelled: bool = True

    # --- the real shapes (§12); off by default -------------------------------------------
    # getBalance: `points` is the balance; `value` is its INR value (points × this rate).
    # None: value = points, the kind reading that hid the bug.
    balance_inr_rate: Decimal | None = None
    # The share of realtime orders placeOrder answers orderStatus "processing" with an empty
    # deliveryStatus and no codes, completing status_delay_s later (or as refunded, failed or
    # partly cancelled). The rest answer complete with their codes, as every captured and
    # documented realtime answer does (§13 row 3); 1 answers every one processing.
    processing_share: float = 0.0
    status_delay_s: float = 2.0
    # Shares of the orders that settle by themselves and end refunded, failed, or (multi-unit
    # orders) with some units cancelled; drawn from a generator seeded with `seed`.
    refund_share: float = 0.0
    fail_share: float = 0.0
    partial_cancel_share: float = 0.0
    # Expired or revoked access tokens answer 401 {"success":0,"error_message_id":
    # "auth.token_error"} instead of {"error":"invalid_token",...}.
    token_error_shape: bool = False
    # A share of placeOrders answered at once by a gateway 504 (an HTML page) while the order
    # commits late_commit_s later, invisible to getOrderDetails until then. Keep it under the
    # bot's XOXODAY_PLACE_ORDER_TIMEOUT_S, as Xoxoday keeps realtime orders under 120 s.
    late_commit_share: float = 0.0
    late_commit_s: float = 2.0
    # A share of placeOrders refused with PLE10010 "Failed to redeem points", nothing created.
    redeem_failed_share: float = 0.0
    # lookupMobileNumber: combined (both shapes at once), spec ({"status":1,"operator",…}) or
    # field_table ({"status":"success"|"failure","network_operator","parentProductId",…}).
    operator_shape: str = "combined"
    # getVouchers: exchangeRateRule an INR rate (units of the product's currency per rupee),
    # as in the staging fixture, not the product-to-wallet rate. exchangeRate itself comes
    # when asked for (§13 row 1: "null even when asked" is supported by no source).
    inr_rate_rule: bool = False
    # Token refreshes answer the auth spec's own example expiries (access_token_expiry
    # "1718000000000", in 2024) while expires_in says 15 days (§13 row 2).
    token_expiry_in_past: bool = False
    # A partly cancelled order shows it only in productStatus: one voucherDetails row per
    # unit, the cancelled ones "Cancelled", and no cancelledQuantity (§13 row 4).
    cancel_in_product_status: bool = False
    # Token refreshes allowed per minute; beyond, {"message":"auth.request_limit_exceeded"}.
    refresh_limit_per_min: int = 0
    seed: int = 8

    def copy(self) -> SimConfig:
        return dataclasses.replace(self)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


# Every §12 quirk on; their delays (status_delay_s, late_commit_s) are seconds already.
REAL_SHAPES: dict[str, Any] = {
    # Rupees per US dollar, as the catalog's exchangeRateRule of a USD product says (1 / 0.012);
    # the staging answer had 70.98 (705798 / 9944, in 2021).
    "balance_inr_rate": Decimal("83.33"),
    "processing_share": 0.1,
    "refund_share": 0.06,
    "fail_share": 0.04,
    "partial_cancel_share": 0.5,
    "token_error_shape": True,
    "late_commit_share": 0.1,
    "redeem_failed_share": 0.05,
    "operator_shape": "field_table",
    "inr_rate_rule": True,
    "token_expiry_in_past": True,
    "cancel_in_product_status": True,
    "token_grace_s": 0.0,
    "refresh_limit_per_min": 5,
}
_FRIENDLY = SimConfig()


def real_shapes(config: SimConfig, on: bool = True) -> SimConfig:
    """`config` with every real-shapes switch on (or, with on=False, back to the defaults)."""
    values = REAL_SHAPES if on else {k: getattr(_FRIENDLY, k) for k in REAL_SHAPES}
    return dataclasses.replace(config, **values)


_FIELD_TYPES: dict[str, type] = {
    "latency_ms": int,
    "rate_scale": float,
    "rate_window_s": float,
    "account_country": str,
    "delivery_delay_s": float,
    "webhook_retry_delay_s": float,
    "webhook_timeout_s": float,
    "token_grace_s": float,
    "access_token_ttl_s": float,
    "refresh_token_ttl_s": float,
    "initial_balance": Decimal,
    "wallet_currency": str,
    "processing_share": float,
    "status_delay_s": float,
    "refund_share": float,
    "fail_share": float,
    "partial_cancel_share": float,
    "late_commit_share": float,
    "late_commit_s": float,
    "redeem_failed_share": float,
    "refresh_limit_per_min": int,
    "seed": int,
}
_BOOLEANS = {
    "domestic_only",
    "refunds_cancelled",
    "token_error_shape",
    "inr_rate_rule",
    "token_expiry_in_past",
    "cancel_in_product_status",
}
_SHARES = {
    "processing_share",
    "refund_share",
    "fail_share",
    "partial_cancel_share",
    "late_commit_share",
    "redeem_failed_share",
}


def coerce_field(name: str, value: Any) -> Any:
    """Convert a JSON value for SimConfig field `name`; raises ValueError/KeyError when invalid."""
    if name in ("webhook_url", "webhook_key"):
        return None if value in (None, "") else str(value)
    if name in _BOOLEANS:
        if not isinstance(value, bool):
            raise ValueError(f"{name} must be true or false")
        return value
    if name == "operator_shape":
        if value not in OPERATOR_SHAPES:
            raise ValueError(f"operator_shape must be one of {', '.join(OPERATOR_SHAPES)}")
        return value
    if name == "balance_inr_rate":
        return None if value is None else _positive(name, Decimal(str(value)))
    if name == "account_country":
        if not isinstance(value, str) or value.upper() not in COUNTRY_BY_ISO:
            raise ValueError(f"account_country must be one of {', '.join(COUNTRY_BY_ISO)}")
        return value.upper()
    kind = _FIELD_TYPES[name]
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number")
    if kind is Decimal:
        return Decimal(str(value))
    result = kind(value)
    if name == "rate_window_s" and not result > 0:
        raise ValueError("rate_window_s must be a positive number of seconds")
    if name in _SHARES and not 0 <= result <= 1:
        raise ValueError(f"{name} must be between 0 and 1")
    return result


def _positive(name: str, value: Decimal) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise ValueError(f"{name} must be a positive number")
    return value


def _share(text: str) -> float:
    """A command-line share: a number from 0 to 1."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError("a share is a number from 0 to 1")
    return value


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The `rewards-bot simulator` flags."""
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 8700)")
    parser.add_argument("--latency-ms", type=int, default=0, help="delay every API answer")
    parser.add_argument(
        "--rate-scale",
        type=float,
        default=1.0,
        help="multiply Xoxoday's per-minute limits (0 disables them)",
    )
    parser.add_argument(
        "--delivery-delay",
        type=float,
        default=3.0,
        help="seconds before pending orders settle as delivered (<0: only via /_sim/deliver)",
    )
    parser.add_argument("--webhook-url", default=None, help="where delivery webhooks are POSTed")
    parser.add_argument("--webhook-key", default=None, help="x-api-key header sent with webhooks")
    parser.add_argument(
        "--real-shapes",
        action="store_true",
        help="answer in every shape Xoxoday documents or was seen to send (xoxoday-api.md §12): "
        "points != value, a share of orders processing first, some refunded/failed/partly "
        "cancelled (shown in productStatus only), auth.token_error, token expiries in the "
        "past, late commits behind a 504, PLE10010, the operator field table, an INR "
        "exchangeRateRule, no refresh grace, the refresh rate limit",
    )
    parser.add_argument(
        "--processing-share",
        type=_share,
        default=None,
        help="share of realtime orders answered processing first (with --real-shapes; "
        "default 0.1; 1: every one)",
    )
    parser.add_argument(
        "--status-delay",
        type=float,
        default=None,
        help="seconds an order stays processing (with --real-shapes; default 2)",
    )
    parser.add_argument(
        "--late-commit-delay",
        type=float,
        default=None,
        help="seconds after a late commit's 504 the order appears (with --real-shapes; "
        "default 2; keep it under the bot's XOXODAY_PLACE_ORDER_TIMEOUT_S)",
    )
    parser.add_argument(
        "--token-grace",
        type=float,
        default=None,
        help="seconds a rotated-out refresh token keeps working (default 6 h; 0 with "
        "--real-shapes)",
    )


def config_from_args(ns: argparse.Namespace) -> SimConfig:
    config = SimConfig(
        latency_ms=getattr(ns, "latency_ms", 0) or 0,
        rate_scale=getattr(ns, "rate_scale", 1.0),
        delivery_delay_s=getattr(ns, "delivery_delay", 3.0),
        webhook_url=getattr(ns, "webhook_url", None) or None,
        webhook_key=getattr(ns, "webhook_key", None) or None,
    )
    if getattr(ns, "real_shapes", False):
        config = real_shapes(config)
    explicit = {
        "processing_share": getattr(ns, "processing_share", None),
        "status_delay_s": getattr(ns, "status_delay", None),
        "late_commit_s": getattr(ns, "late_commit_delay", None),
        "token_grace_s": getattr(ns, "token_grace", None),
    }
    return dataclasses.replace(config, **{k: v for k, v in explicit.items() if v is not None})
