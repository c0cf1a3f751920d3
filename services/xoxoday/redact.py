"""Strip secrets from payloads before they are stored or logged."""

from __future__ import annotations

from typing import Any

REDACTED = "[redacted]"

# Keys whose values are secrets: voucher codes and PINs are money, tokens are access.
SECRET_KEYS = frozenset(
    key.lower()
    for key in (
        "voucherCode",
        "pin",
        "access_token",
        "refresh_token",
        "client_secret",
        "authorization",
        "x-api-key",
        "password",
        "token",
    )
)


def redact(value: Any) -> Any:
    """A deep copy of `value` with every secret field replaced by a marker."""
    if isinstance(value, dict):
        return {
            key: (
                REDACTED
                if str(key).lower() in SECRET_KEYS and item not in (None, "")
                else redact(item)
            )
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [redact(item) for item in value]
    return value
