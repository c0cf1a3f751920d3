"""What a product will cost the wallet (services/costs.py): pure functions over a Product."""

from __future__ import annotations

from decimal import Decimal

import pytest

from services import costs
from services.xoxoday.models import Product

D = Decimal


def card(currency: str = "GBP", rate: str | None = "1.28", **fields: object) -> Product:
    data = {
        "productId": 1,
        "name": "Card",
        "currencyCode": currency,
        "exchangeRate": rate,
        "valueType": "fixed_denomination",
        "valueDenominations": "10,25,50",
        **fields,
    }
    return Product.model_validate(data)


def open_card(low: str = "5", high: str = "200", **fields: object) -> Product:
    return card(valueType="open_value", minValue=low, maxValue=high, **fields)


def test_the_cost_is_the_face_value_at_the_days_rate_less_the_discount() -> None:
    assert costs.cost(card(), D(25), "USD") == D("32.00")  # "GBP 25 × 1.28 = USD 32.00"
    assert costs.cost(card(discount=2), D(25), "USD") == D("31.36")
    assert costs.cost(card(), D(25), "USD", quantity=2) == D("64.00")
    # No rate: only the wallet's own currency is known (its face value).
    assert costs.cost(card("USD", None), D(25), "USD") == D("25.00")
    assert costs.cost(card("GBP", None), D(25), "USD") is None


def test_fixed_values_that_fit_an_amount() -> None:
    assert costs.fitting_values(card(), D(50), "USD") == [D(10), D(25)]
    assert costs.fitting_values(card(), D("12.80"), "USD") == [D(10)]
    assert costs.fitting_values(card(), D("12.79"), "USD") == []
    assert costs.fitting_values(card(rate=None), D(1000), "USD") == []  # no rate: nothing
    assert costs.fitting_values(open_card(), D(50), "USD") == []


@pytest.mark.parametrize(
    ("budget", "largest"),
    [
        ("30", "23.44"),  # 23.44 × 1.28 = 30.0032: 30.00 to the cent; 23.45 is 30.02
        ("50", "39.06"),
        ("6.40", "5"),  # exactly the minimum
        ("6.39", None),  # under it
        ("1000", "200"),  # capped at the product's maximum
    ],
)
def test_the_largest_open_amount_that_fits(budget: str, largest: str | None) -> None:
    found = costs.max_amount(open_card(), D(budget), "USD")
    assert found == (None if largest is None else D(largest))
    if found is not None:
        assert costs.cost(open_card(), found, "USD") <= D(budget)
        if found < D(200):
            assert costs.cost(open_card(), found + D("0.01"), "USD") > D(budget)


def test_a_discount_lets_a_larger_amount_fit() -> None:
    assert costs.max_amount(open_card(discount=10), D(30), "USD") == D("26.04")


def test_fits_and_the_smallest_cost_in_cents_rounded_up() -> None:
    assert costs.fits(card(), D(13), "USD") and not costs.fits(card(), D(12), "USD")
    assert costs.fits(open_card(), D("6.40"), "USD")
    assert costs.min_cost_cents(card(), "USD") == 1280
    assert costs.min_cost_cents(card(rate="1.2799"), "USD") == 1280  # 12.799 -> 12.80
    assert costs.min_cost_cents(card(rate=None), "USD") is None
    assert costs.min_cost_cents(open_card(low="0"), "USD") == 1  # at least a cent


def test_both_currencies_in_words() -> None:
    assert costs.in_both(card(), D(25), "USD", D(50)) == "25 GBP, about 32.00 USD of your 50 USD"
    assert costs.in_both(card(), D(25), "USD") == "25 GBP, about 32.00 USD"
    usd = card("USD", "1")
    assert costs.in_both(usd, D(25), "USD") == "25 USD"
    assert costs.in_both(usd, D(25), "USD", D(50)) == "25 USD, of your 50 USD"
    assert costs.in_both(card(rate=None), D(25), "USD") == "25 GBP"
