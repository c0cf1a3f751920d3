"""The rupee checks of services/xoxoday/inr.py, as data: the catalog's implied rate and whether
a balance's points and value can both be as documented (xoxoday-api.md §12 row 2, §13 row 5)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest

from services.xoxoday.inr import balance_disagreement, implied_inr_rate
from services.xoxoday.models import Balance, Product

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "xoxoday"


def product(rate: str | None, rule: str | None, currency: str = "USD") -> Product:
    return Product.model_validate(
        {"productId": 1, "currencyCode": currency, "exchangeRate": rate, "exchangeRateRule": rule}
    )


def test_the_catalog_implies_the_wallets_rupee_rate() -> None:
    usd = product("1", "0.012")  # a product in the wallet's currency: 1 / 0.012
    inr = product("0.012", "1", "INR")  # a rupee product: 0.012 USD per rupee
    eur = product("1.08", "0.011111", "EUR")
    odd = product("1", "0.5")  # one odd product does not move the median
    assert implied_inr_rate([usd, inr, eur, odd]) == Decimal("83.3333")
    assert implied_inr_rate([product(None, "0.014089")]) is None  # no rate asked: nothing


def test_the_staging_balance_agrees_with_the_staging_catalog() -> None:
    answer = json.loads((FIXTURES / "staging_getBalanceResponse.json").read_text())
    balance = Balance.model_validate(answer["data"]["getBalance"]["data"])
    assert (balance.points, balance.value) == (Decimal(9944), Decimal(705798))
    assert balance_disagreement(balance, Decimal(1) / Decimal("0.014089")) is None
    assert balance_disagreement(balance, None) is None  # 70.98: a rupee rate


@pytest.mark.parametrize(
    ("points", "value", "currency", "rate", "agrees"),
    [
        ("100", None, "USD", None, True),  # one field: nothing to compare
        (None, "5870.02", "INR", None, True),
        ("100", "100", "USD", "83.33", True),  # one amount either way
        ("100", "8000", "USD", "83.33", True),  # within the tolerance of the day's rate
        ("100", "50", "USD", "83.33", False),  # value is not rupees
        ("100", "50", "USD", None, True),  # 0.5 is some currency's rupee rate
        ("100", "100000", "USD", None, False),  # 1,000 rupees a unit: no currency
        ("100", "200", "INR", None, False),  # a rupee wallet: they must be equal
        ("100", "0", "USD", "83.33", False),
    ],
)
def test_points_and_value_agree_when_a_rupee_rate_explains_them(
    points: str | None, value: str | None, currency: str, rate: str | None, agrees: bool
) -> None:
    balance = Balance(
        points=Decimal(points) if points else None,
        value=Decimal(value) if value else None,
        currency=currency,
    )
    why = balance_disagreement(balance, Decimal(rate) if rate else None)
    assert (why is None) == agrees
    if why:
        assert f"points {points}" in why and "the bot reads the balance as" in why
