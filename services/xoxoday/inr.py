"""What Xoxoday's rupee figures say about the wallet.

Xoxoday keeps its books in rupees. A product's `exchangeRateRule` is units of the product's
currency per rupee (the staging catalog: 0.014089 for a USD product; reference §12 row 1,
§13 "Countries and currencies"), and getBalance may carry `value`, the balance in rupees,
beside `points`, the balance in the wallet's own currency (§12 row 2). So the catalog implies
how many rupees one unit of the wallet's currency is worth, and a balance whose value/points
ratio is far from that (or, with nothing to go by, outside any currency's rupee rate) has two
fields that cannot both mean what the docs say. The bot still reads `points` then, but tells
the approvers instead of using it silently (§13 row 5).
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from statistics import median

from services.xoxoday.models import Balance, Product

# How far value/points may be from the catalog's rupee rate: both are Xoxoday's rates of the
# day, the catalog is cached up to 6 h; a wrong reading is off by far more (71× for USD).
TOLERANCE = Decimal("0.25")
# Every currency's rupee rate lies in this band (from the Lebanese pound, about 0.001 rupee,
# to the Kuwaiti dinar, about 270): a ratio outside it is no rupee rate at all.
ANY_RATE = (Decimal("0.0005"), Decimal("500"))


def implied_inr_rate(products: Iterable[Product]) -> Decimal | None:
    """Rupees per unit of the wallet's currency, as the catalog implies it; None without
    a product that came with both rates.

    `exchangeRate` is wallet units per product unit and `exchangeRateRule` product units per
    rupee, so wallet units per rupee is their product; the median over the catalog is robust
    to a product with an odd rate.
    """
    rates = [
        1 / (p.exchange_rate_rule * p.exchange_rate)
        for p in products
        if p.exchange_rate and p.exchange_rate_rule and p.exchange_rate > 0
        and p.exchange_rate_rule > 0
    ]  # fmt: skip
    return Decimal(median(rates)).quantize(Decimal("0.0001")) if rates else None


def balance_disagreement(balance: Balance, inr_rate: Decimal | None) -> str | None:
    """Why `points` and `value` cannot both be as documented, or None when they can.

    They agree when only one came, when they are equal (one amount either way), or when
    value/points is a rupee rate of the wallet's currency: 1 for a rupee wallet, the
    catalog's rate (within TOLERANCE) when known, else any rate in ANY_RATE.
    """
    points, value, currency = balance.points, balance.value, balance.currency or "?"
    if points is None or value is None or points == value:
        return None
    seen = f"getBalance answered points {_plain(points)} and value {_plain(value)} {currency}"
    reading = (
        f"the bot reads the balance as {_plain(points)} {currency} (points): check the wallet "
        "in Xoxoday's dashboard"
    )
    if points <= 0 or value <= 0:
        return f"{seen}: one is zero or negative and the other is not; {reading}"
    ratio = value / points
    if currency.upper() == "INR":
        expected = "1 for a rupee wallet"
        agrees = False
    elif inr_rate is not None:
        expected = f"the catalog implies {_plain(inr_rate)} rupees per {currency}"
        agrees = abs(ratio / inr_rate - 1) <= TOLERANCE
    else:
        expected = "no rupee rate is that far out"
        agrees = ANY_RATE[0] <= ratio <= ANY_RATE[1]
    if agrees:
        return None
    return (
        f"{seen}: value / points = {_plain(ratio.quantize(Decimal('0.0001')))}, which no "
        f"rupee rate of {currency} explains ({expected}); {reading}"
    )


def _plain(number: Decimal) -> str:
    return format(number.normalize(), "f")
