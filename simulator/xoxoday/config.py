"""Simulator settings and the command-line flags that set them."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

DEFAULT_PORT = 8700


@dataclass
class SimConfig:
    latency_ms: int = 0
    # Multiplies every per-minute limit; 0 turns rate limiting off.
    rate_scale: float = 1.0
    # Pending orders settle as delivered after this many seconds; < 0 means only via /_sim/deliver.
    delivery_delay_s: float = 3.0
    webhook_url: str | None = None
    webhook_key: str | None = None
    webhook_retry_delay_s: float = 1.0
    webhook_timeout_s: float = 5.0
    # How long a rotated-out refresh token keeps working (Xoxoday: 6 hours).
    token_grace_s: float = 6 * 3600
    access_token_ttl_s: float = 1_296_000  # 15 days
    refresh_token_ttl_s: float = 30 * 86_400
    initial_balance: Decimal = Decimal("10000.00")
    wallet_currency: str = "USD"

    def copy(self) -> SimConfig:
        return dataclasses.replace(self)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


_FIELD_TYPES: dict[str, type] = {
    "latency_ms": int,
    "rate_scale": float,
    "delivery_delay_s": float,
    "webhook_retry_delay_s": float,
    "webhook_timeout_s": float,
    "token_grace_s": float,
    "access_token_ttl_s": float,
    "refresh_token_ttl_s": float,
    "initial_balance": Decimal,
    "wallet_currency": str,
}


def coerce_field(name: str, value: Any) -> Any:
    """Convert a JSON value for SimConfig field `name`; raises ValueError/KeyError when invalid."""
    if name in ("webhook_url", "webhook_key"):
        return None if value in (None, "") else str(value)
    kind = _FIELD_TYPES[name]
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a number")
    if kind is Decimal:
        return Decimal(str(value))
    return kind(value)


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


def config_from_args(ns: argparse.Namespace) -> SimConfig:
    return SimConfig(
        latency_ms=getattr(ns, "latency_ms", 0) or 0,
        rate_scale=getattr(ns, "rate_scale", 1.0),
        delivery_delay_s=getattr(ns, "delivery_delay", 3.0),
        webhook_url=getattr(ns, "webhook_url", None) or None,
        webhook_key=getattr(ns, "webhook_key", None) or None,
    )
