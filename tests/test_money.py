"""Amounts as people write them: one form accepted everywhere, everything else refused."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services.money import AmountError, parse_amount


@pytest.mark.parametrize(
    ("typed", "value"),
    [("25", "25"), (" 25.5 ", "25.5"), ("25.50", "25.50"), ("0.01", "0.01"), ("007", "7")],
)
def test_plain_amounts_are_read(typed: str, value: str) -> None:
    assert parse_amount(typed) == Decimal(value)


@pytest.mark.parametrize(
    "typed",
    [
        "1,5",  # 1.5 in much of the world, 15 elsewhere: never guessed
        "1.000,50",
        "1,000.50",
        "1 000",
        "1\u00a0000",
        "1'000",
        "1_000",
        "١٢",  # Arabic-Indic digits
        "４２",  # full-width digits
        "1e3",
        "NaN",
        "Infinity",
        "-5",
        "+5",
        "5.",
        ".5",
        "12.505",
        "25 USD",
        "$25",
        "",
        "   ",
        None,
        "1234567890",
    ],
)
def test_anything_else_is_refused_with_the_expected_form(typed: str | None) -> None:
    with pytest.raises(AmountError) as info:
        parse_amount(typed)
    assert "like 25 or 25.50" in info.value.message


def test_zero_is_refused() -> None:
    with pytest.raises(AmountError, match="more than 0"):
        parse_amount("0.00")
