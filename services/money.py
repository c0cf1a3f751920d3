"""Money formatting, rounding and reading; amounts are Decimal from end to end."""

from __future__ import annotations

import re
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


# How people write amounts, in every form that takes one (the modal, a CSV file): ASCII
# digits, then optionally a dot and one or two decimals. Nothing is guessed: "1,5" is 1.5 in
# much of the world and 15 in the rest, "1.000,50" and "1 000" and "1'000" depend on the
# locale, "١٢" and "1e3" and "NaN" are not what anyone means in a payment form.
_AMOUNT = re.compile(r"[0-9]{1,9}(?:\.[0-9]{1,2})?")
AMOUNT_FORM = "write the amount like 25 or 25.50"


class AmountError(ValueError):
    """An amount that is not written in the one accepted form; the message says the form."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def parse_amount(text: str | None) -> Decimal:
    """A positive amount from what a person typed, or AmountError showing the expected form."""
    written = (text or "").strip()
    if not _AMOUNT.fullmatch(written):
        raise AmountError(
            f"{AMOUNT_FORM} (digits, a dot before the cents; no commas, spaces or other separators)"
        )
    value = Decimal(written)
    if value <= 0:
        raise AmountError(f"the amount must be more than 0; {AMOUNT_FORM}")
    return value
