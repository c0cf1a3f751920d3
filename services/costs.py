"""What a product will cost the wallet, estimated before Xoxoday charges it.

One wallet, in the account's base currency, pays for products in 50+ currencies at a rate
Xoxoday locks each day ("GBP 25 × 1.28 = USD 32.00", xoxoday-api.md §13, managing-currencies):
the catalog's `exchangeRate` (asked for with `exchangeRate: 1`) times the face value, less the
product's discount. These are estimates: the rate of the day the order is placed applies, and
the order's cost is what placeOrder answers (`amountCharged`), which the ledger then books
(services/delivery.py). Pure functions over a Product, tested as plain data.
"""

from __future__ import annotations

import math
from decimal import ROUND_DOWN, Decimal

from services.money import fmt_money
from services.xoxoday.models import Product

CENT = Decimal("0.01")


def cost(
    product: Product, denomination: Decimal, wallet_currency: str | None, quantity: int = 1
) -> Decimal | None:
    """The estimated wallet cost of `quantity` × `denomination`; None when no rate is known."""
    return product.wallet_cost(denomination, quantity, wallet_currency)


def smallest_value(product: Product) -> Decimal | None:
    """The least amount the product can be ordered for."""
    if product.is_open_value:
        low = product.min_value if product.min_value is not None else CENT
        return max(low, CENT)
    return min(product.value_denominations) if product.value_denominations else None


def min_cost_cents(product: Product, wallet_currency: str | None) -> int | None:
    """The wallet cost of the smallest value in whole cents, rounded up (for a search that
    narrows in SQL; the exact check is `fitting_values` / `max_amount`)."""
    low = smallest_value(product)
    estimate = cost(product, low, wallet_currency) if low is not None else None
    return None if estimate is None else math.ceil(estimate / CENT)


def fitting_values(product: Product, budget: Decimal, wallet_currency: str | None) -> list[Decimal]:
    """A fixed-value product's values whose cost is within `budget` (wallet currency)."""
    if product.is_open_value:
        return []
    fitting = []
    for value in product.value_denominations:
        estimate = cost(product, value, wallet_currency)
        if estimate is not None and estimate <= budget:
            fitting.append(value)
    return fitting


def max_amount(product: Product, budget: Decimal, wallet_currency: str | None) -> Decimal | None:
    """The largest amount (in cents) of an open-value product whose cost is within `budget`,
    capped at its maximum; None when even its minimum costs more, or no rate is known."""
    if not product.is_open_value:
        return None
    unit = cost(product, Decimal(1), wallet_currency)
    if unit is None or unit <= 0:
        return None
    rate = product.exchange_rate or Decimal(1)
    factor = rate * (Decimal(100) - (product.discount or 0)) / Decimal(100)
    amount = (budget / factor).quantize(CENT, rounding=ROUND_DOWN) if factor > 0 else budget
    if product.max_value is not None:
        amount = min(amount, product.max_value)
    # The estimate rounds to the cent: step down until it is within the budget, then up while
    # the next cent still is (23.44 GBP × 1.28 = 30.0032, which is 30.00).
    while amount > 0 and (estimate := cost(product, amount, wallet_currency)) is not None:
        if estimate <= budget:
            break
        amount -= CENT
    while product.max_value is None or amount + CENT <= product.max_value:
        estimate = cost(product, amount + CENT, wallet_currency)
        if estimate is None or estimate > budget:
            break
        amount += CENT
    low = smallest_value(product) or CENT
    return amount if amount >= low else None


def fits(product: Product, budget: Decimal, wallet_currency: str | None) -> bool:
    """Whether some amount of the product costs at most `budget`."""
    if product.is_open_value:
        return max_amount(product, budget, wallet_currency) is not None
    return bool(fitting_values(product, budget, wallet_currency))


def in_both(
    product: Product,
    denomination: Decimal,
    wallet_currency: str | None,
    of_budget: Decimal | None = None,
) -> str:
    """ "25 GBP, about 32.00 USD of your 50 USD": the face value and its estimated cost; the
    product's own currency alone when it is the wallet's (or no rate is known)."""
    face = fmt_money(denomination, product.currency_code)
    same = (product.currency_code or "").upper() == (wallet_currency or "").upper()
    estimate = cost(product, denomination, wallet_currency)
    if estimate is None or not wallet_currency or (same and estimate == denomination):
        words = face
    else:
        words = f"{face}, about {estimate.quantize(CENT)} {wallet_currency}"
    if of_budget is not None and wallet_currency:
        joint = " of your " if words != face else ", of your "
        words += f"{joint}{fmt_money(of_budget, wallet_currency)}"
    return words
