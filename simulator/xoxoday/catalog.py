"""The simulator's fixed catalog: one product per behaviour the bot must handle.

Ids are named so tests and the demo can refer to "the delayed product" rather than a number.
Products are sold in several countries and currencies (USD, INR, GBP, EUR), each listing its
`countries`; a product's price in the wallet's currency is its face value at the rate locked
for the day (xoxoday-api.md §13 "Countries and currencies"), which SimState keeps and
/_sim/rates moves (a new day's lock). `synthetic_products` makes a catalog of any size.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from decimal import Decimal
from functools import cached_property
from typing import Any

from simulator.xoxoday.money import as_number

AMAZON_US = 27222  # fixed, realtime, codePin, 2% discount
VISA_PREPAID = 29877  # open value 5..500, realtime, url
FLIPKART_IN = 31001  # INR, fixed, realtime, code
ZALANDO_DE = 31002  # EUR, fixed, delayed, url once delivered; sold in Germany and France
UBER_US = 31003  # phone number mandatory
AMAZON_IN_KYC = 31006  # blocked by KYC (PLE10015)
LEGACY_BRAND = 31007  # listed but not activated (PLE10042)
AIRBNB_US = 31008  # productMeta asks for a checkout field (dateOfBirth) placeOrder requires
TESCO_UK = 31010  # GBP, fixed, realtime
ARGOS_UK = 31011  # GBP, open value 5..200, realtime, url
GOOGLE_PLAY = 31012  # USD, sold in the USA and India (countries lists both)
EMIRATES_MILES = 15365  # airmiles, needs userMeta.loyaltyMemberId, settles later
GLOBALGIVING = 40001  # charity, open value, delivered at once without vouchers
AIRTEL_IN = 55132  # top-up operator (India)
AIRTEL_199 = 55133
AIRTEL_499 = 55134
VERIZON_US = 55140  # top-up operator (USA)
VERIZON_15 = 55141
VERIZON_30 = 55142
DXB_LOUNGE = 62001  # lounge access (xoxoday-api.md §3 row 14: getVouchers categoryType lounge)

# US dollars per unit of each currency, as locked on the simulator's first day; SimState
# keeps the day's rates (/_sim/rates sets another day's). "GBP 25 × 1.28 = USD 32.00"
# (managing-currencies.md): the wallet pays the face value times the locked rate.
FX_TO_USD: dict[str, Decimal] = {
    "USD": Decimal("1"),
    "INR": Decimal("0.012"),
    "GBP": Decimal("1.28"),
    "EUR": Decimal("1.08"),
}
CURRENCY_NAMES = {"USD": "Dollar", "INR": "Rupee", "GBP": "Pound", "EUR": "Euro"}


def wallet_rate(rates: dict[str, Decimal], currency: str, wallet_currency: str) -> Decimal:
    """Units of the wallet's currency one unit of `currency` costs at `rates`."""
    return rates[currency] / rates.get(wallet_currency, Decimal(1))


@dataclass(frozen=True)
class Country:
    name: str
    iso: str
    code: str  # Xoxoday's filterValueCode


# As staging's getFilters names them: the filterValueCode is the country filter's value
# ("usa", "india", "uk"; xoxoday-api.md §13), the isoCode what products' `countries` carry.
COUNTRIES = (
    Country("France", "FR", "france"),
    Country("Germany", "DE", "germany"),
    Country("India", "IN", "india"),
    Country("UAE", "AE", "uae"),
    Country("UK", "GB", "uk"),
    Country("USA", "US", "usa"),
)
COUNTRY_BY_ISO = {c.iso: c for c in COUNTRIES}

# filterValueCode -> display name, for the voucher_category and product_category groups.
VOUCHER_CATEGORIES = {
    "ecommerce": "Ecommerce",
    "fashion_lifestyle": "Fashion &amp; Lifestyle",
    "travel": "Travel",
    "prepaid_cards": "Prepaid Cards",
    "donations": "Donations",
    "mobile_recharge": "Mobile Recharge",
}
PRODUCT_CATEGORIES = {
    "gift_card": "Gift Cards",
    "airmiles": "Airmiles",
    "charity": "Charity",
    "topup": "Mobile Top-Up",
    "lounge": "Lounge Access",
}
CATEGORY_OF_TYPE = {
    "giftcard": "gift_card",
    "miles": "airmiles",
    "charity": "charity",
    "lounge": "lounge",
}
# Price buckets in the product's own currency: code -> (min, max or None).
PRICE_BUCKETS: dict[str, tuple[Decimal, Decimal | None]] = {
    "0-25": (Decimal(0), Decimal(25)),
    "25-100": (Decimal(25), Decimal(100)),
    "100-500": (Decimal(100), Decimal(500)),
    "500-above": (Decimal(500), None),
}


@dataclass(frozen=True)
class Product:
    product_id: int
    name: str
    kind: str  # giftcard | miles | charity | topup | lounge: categoryType (giftcard: absent)
    currency: str
    country_iso: str
    value_type: str  # fixed_denomination | open_value
    denominations: tuple[Decimal, ...]
    min_value: Decimal
    max_value: Decimal
    delivery_type: str = "realtime"
    voucher_type: str | None = "code"  # None: no voucher codes (miles, charity, top-up)
    voucher_category: str = "ecommerce"
    discount: Decimal = Decimal(0)
    quantity_limit: int = 10
    phone_mandatory: bool = False
    activated: bool = True
    needs_kyc: bool = False
    parent_id: int | None = None
    loyalty_name: str | None = None
    loyalty_conversion: Decimal | None = None
    usage_type: str = "online"
    is_operator: bool = False  # a top-up operator lists plans; it cannot be ordered itself
    # Dynamic checkout fields its productMeta asks for, required by placeOrder (§13 row 6).
    checkout_fields: tuple[str, ...] = ()
    also_sold_in: tuple[str, ...] = ()  # ISO codes of other countries it is sold in

    @property
    def country(self) -> Country:
        return COUNTRY_BY_ISO[self.country_iso]

    @cached_property
    def countries(self) -> tuple[Country, ...]:
        """Every country it is sold in, its own first."""
        return (self.country, *(COUNTRY_BY_ISO[iso] for iso in self.also_sold_in))

    @property
    def settles_later(self) -> bool:
        """Orders answer complete/pending and settle later (timer, /_sim/deliver, webhook)."""
        return self.delivery_type == "delayed" or self.kind in ("miles", "topup")

    @property
    def product_category(self) -> str:
        return CATEGORY_OF_TYPE.get(self.kind, "topup")


def _d(values: str) -> tuple[Decimal, ...]:
    return tuple(Decimal(v) for v in values.split(","))


def _fixed(values: str) -> dict[str, Any]:
    denoms = _d(values)
    return {
        "value_type": "fixed_denomination",
        "denominations": denoms,
        "min_value": min(denoms),
        "max_value": max(denoms),
    }


def _open(lo: str, hi: str, suggested: str) -> dict[str, Any]:
    return {
        "value_type": "open_value",
        "denominations": _d(suggested),
        "min_value": Decimal(lo),
        "max_value": Decimal(hi),
    }


PRODUCTS: tuple[Product, ...] = (
    Product(AMAZON_US, "Amazon.com eGift Card", "giftcard", "USD", "US",
            voucher_type="codePin", discount=Decimal(2), **_fixed("10,25,50,100")),
    Product(VISA_PREPAID, "Visa Virtual Prepaid", "giftcard", "USD", "US", voucher_type="url",
            voucher_category="prepaid_cards", **_open("5", "500", "25,50,100")),
    Product(FLIPKART_IN, "Flipkart Gift Card", "giftcard", "INR", "IN", **_fixed("500,1000,2000")),
    Product(ZALANDO_DE, "Zalando Gift Card", "giftcard", "EUR", "DE", delivery_type="delayed",
            voucher_type="url", voucher_category="fashion_lifestyle", also_sold_in=("FR",),
            **_fixed("25,50")),
    Product(UBER_US, "Uber Gift Card", "giftcard", "USD", "US", voucher_category="travel",
            phone_mandatory=True, **_fixed("15,25,50")),
    Product(AMAZON_IN_KYC, "Amazon.in Gift Card", "giftcard", "INR", "IN", needs_kyc=True,
            **_fixed("500,1000")),
    Product(LEGACY_BRAND, "Legacy Brand Card", "giftcard", "USD", "US", activated=False,
            **_fixed("10,20")),
    Product(AIRBNB_US, "Airbnb Gift Card", "giftcard", "USD", "US", voucher_category="travel",
            checkout_fields=("dateOfBirth",), **_fixed("25,50,100")),
    Product(TESCO_UK, "Tesco Gift Card", "giftcard", "GBP", "GB", **_fixed("10,25,50")),
    Product(ARGOS_UK, "Argos Gift Card", "giftcard", "GBP", "GB", voucher_type="url",
            **_open("5", "200", "10,25,50")),
    Product(GOOGLE_PLAY, "Google Play Gift Card", "giftcard", "USD", "US", also_sold_in=("IN",),
            **_fixed("10,25")),
    Product(EMIRATES_MILES, "Emirates Skywards Miles", "miles", "USD", "AE", voucher_type=None,
            voucher_category="travel", quantity_limit=1, loyalty_name="Emirates Skywards",
            loyalty_conversion=Decimal(40), **_fixed("25,50,100")),
    Product(GLOBALGIVING, "GlobalGiving Disaster Relief Fund", "charity", "USD", "US",
            voucher_type=None, voucher_category="donations", **_open("1", "1000", "10,25,50")),
    Product(AIRTEL_IN, "Airtel India Prepaid", "topup", "INR", "IN", voucher_type=None,
            voucher_category="mobile_recharge", quantity_limit=1, is_operator=True,
            **_fixed("199,499")),
    Product(AIRTEL_199, "Airtel ₹199 Prepaid Plan", "topup", "INR", "IN", voucher_type=None,
            voucher_category="mobile_recharge", quantity_limit=1, parent_id=AIRTEL_IN,
            **_fixed("199")),
    Product(AIRTEL_499, "Airtel ₹499 Prepaid Plan", "topup", "INR", "IN", voucher_type=None,
            voucher_category="mobile_recharge", quantity_limit=1, parent_id=AIRTEL_IN,
            **_fixed("499")),
    Product(VERIZON_US, "Verizon US Prepaid", "topup", "USD", "US", voucher_type=None,
            voucher_category="mobile_recharge", quantity_limit=1, is_operator=True,
            **_fixed("15,30")),
    Product(VERIZON_15, "Verizon $15 Prepaid Refill", "topup", "USD", "US", voucher_type=None,
            voucher_category="mobile_recharge", quantity_limit=1, parent_id=VERIZON_US,
            **_fixed("15")),
    Product(VERIZON_30, "Verizon $30 Prepaid Refill", "topup", "USD", "US", voucher_type=None,
            voucher_category="mobile_recharge", quantity_limit=1, parent_id=VERIZON_US,
            **_fixed("30")),
    Product(DXB_LOUNGE, "Dubai International Lounge Access", "lounge", "USD", "AE",
            voucher_category="travel", quantity_limit=1,
            checkout_fields=("firstName", "lastName", "departureDate"), **_fixed("35,60")),
)  # fmt: skip
PRODUCTS_BY_ID = {p.product_id: p for p in PRODUCTS}

# Calling-code prefix -> top-up operator, longest prefix first when matching.
OPERATOR_PREFIXES: dict[str, int] = {"+91": AIRTEL_IN, "+1": VERIZON_US}
OPERATOR_NAMES = {AIRTEL_IN: "Airtel", VERIZON_US: "Verizon"}


def operator_for_number(number: str) -> int | None:
    """The operator product serving an E.164 number, by calling-code prefix."""
    for prefix in sorted(OPERATOR_PREFIXES, key=len, reverse=True):
        if number.startswith(prefix):
            return OPERATOR_PREFIXES[prefix]
    return None


def _denoms_text(values: tuple[Decimal, ...]) -> str:
    return ",".join(str(as_number(v)) for v in values)


def product_meta(p: Product) -> str:
    """productMeta: "a JSON structure defining dynamic checkout fields" (get-vouchers-api.md);
    its inner shape is undocumented, so this one is a guess the client reads leniently."""
    fields = [
        {"name": name, "label": name, "type": "text", "required": True}
        for name in p.checkout_fields
    ]
    return json.dumps({"fields": fields}) if fields else "{}"


def synthetic_products(count: int, first_id: int = 100_001) -> list[Product]:
    """`count` plain gift cards spread over the countries and their currencies, for catalogs
    of a real account's size (a refresh of 20,000 products)."""
    sold = (("US", "USD"), ("IN", "INR"), ("GB", "GBP"), ("DE", "EUR"), ("FR", "EUR"))
    made = []
    for n in range(count):
        iso, currency = sold[n % len(sold)]
        values = "500,1000,2000" if currency == "INR" else "10,25,50"
        made.append(
            Product(first_id + n, f"Brand {n + 1:05d} {iso} Gift Card", "giftcard", currency,
                    iso, **_fixed(values))
        )  # fmt: skip
    return made


def product_json(
    p: Product,
    wallet_currency: str,
    with_rate: bool,
    inr_rule: bool = False,
    rates: dict[str, Decimal] | None = None,
) -> dict[str, Any]:
    """The full product object of getVouchers, field for field as Xoxoday sends it.

    `inr_rule` (the staging fixture): exchangeRateRule is an INR rate, units of the product's
    currency per rupee, not the product-to-wallet one (§12 row 1). exchangeRate comes as
    text when asked for, null otherwise (§13 row 1); it is the day's locked rate (`rates`).
    """
    country = p.country
    rates = rates or FX_TO_USD
    rate = wallet_rate(rates, p.currency, wallet_currency)
    rule = rates["INR"] / rates[p.currency] if inr_rule else rate
    return {
        "productId": p.product_id,
        "name": p.name,
        "description": f"<p>{p.name}. Simulated product.</p>",
        "orderQuantityLimit": p.quantity_limit,
        "termsAndConditionsInstructions": "<p>Simulated terms and conditions.</p>",
        "expiryAndValidity": "<p>24 months</p>" if p.voucher_type else "",
        "redemptionInstructions": "<div>Redeem at checkout.</div>",
        "categories": VOUCHER_CATEGORIES[p.voucher_category],
        "lastUpdateDate": "2026-01-15 06:00:00",
        "imageUrl": f"https://stagingstores.plum.gift/images/{p.product_id}.png",
        "currencyCode": p.currency,
        "currencyName": CURRENCY_NAMES[p.currency],
        "countryName": country.name,
        "countryCode": country.iso,
        "countries": [{"code": c.iso, "name": c.name} for c in p.countries],
        "exchangeRateRule": rule,
        "valueType": p.value_type,
        "maxValue": as_number(p.max_value),
        "minValue": as_number(p.min_value),
        "valueDenominations": _denoms_text(p.denominations),
        # Real fixtures send an int for realtime products and a text range for delayed ones.
        "tatInDays": "1 - 7" if p.settles_later else 0,
        "usageType": p.usage_type,
        "deliveryType": "delayed" if p.settles_later else "realtime",
        "isCommon": "0",
        "fee": 0,
        "discount": as_number(p.discount),
        # Xoxoday sends exchangeRate as text when asked for it, null otherwise.
        "exchangeRate": str(rate.normalize()) if with_rate else None,
        "isPhoneNumberMandatory": p.phone_mandatory,
        "isRecommended": 1,
        "filterGroupCode": "voucher_category",
        "brand": [],
        "variants": None,
        "productMeta": product_meta(p),
        "loyaltyName": p.loyalty_name,
        "loyaltyConversion": as_number(p.loyalty_conversion) if p.loyalty_conversion else None,
        "metaData": None,
        "showDiscountPercent": 1 if p.discount else 0,
        "productImages": [],
        "parentProductId": p.parent_id,
        "isDummyProduct": 0,
        "redemptionFee": 0,
        "redemptionFeeType": "percentage",
        "redemptionFeeBorneByUser": False,
        "redemptionFeeTax": 0,
        "is_free": 0,
    }
