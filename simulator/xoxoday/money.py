"""Lenient number parsing (Xoxoday accepts "50" for 50) and exact money formatting."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import Any

CENT = Decimal("0.01")


def parse_decimal(value: Any) -> Decimal | None:
    """A finite Decimal from a JSON number or numeric string; None for anything else."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | Decimal):
        result = Decimal(value)
    elif isinstance(value, float | str):
        try:
            result = Decimal(str(value).strip())
        except InvalidOperation:
            return None
    else:
        return None
    return result if result.is_finite() else None


def parse_int(value: Any) -> int | None:
    """A whole number from 3, "3" or 3.0; None when missing, fractional or not a number."""
    number = parse_decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


def cents(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


def as_number(value: Decimal) -> int | Decimal:
    """Whole amounts as JSON integers (50, not 50.00), the way Xoxoday writes them."""
    if value == value.to_integral_value():
        return int(value)
    return value.normalize()


def as_text(value: Decimal) -> str:
    """Money Xoxoday sends as a string, e.g. orderDiscount "0.5"."""
    return format(value.normalize(), "f")
