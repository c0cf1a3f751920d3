"""Money formatting and rounding; amounts are Decimal from end to end."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

CENT = Decimal("0.01")


def cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def fmt_amount(amount: Decimal) -> str:
    """10 -> '10', 10.5 -> '10.50', 1234.5 -> '1,234.50'."""
    if amount == amount.to_integral_value():
        return f"{int(amount):,}"
    return f"{cents(amount):,.2f}"


def fmt_money(amount: Decimal, currency: str | None) -> str:
    return f"{fmt_amount(amount)} {currency}".strip() if currency else fmt_amount(amount)
