"""getFilters, getVouchers and lookupMobileNumber (reference §3.1-3.5)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any

from simulator.xoxoday.catalog import (
    COUNTRIES,
    CURRENCY_NAMES,
    FX_TO_USD,
    OPERATOR_NAMES,
    PRICE_BUCKETS,
    PRODUCT_CATEGORIES,
    VOUCHER_CATEGORIES,
    Product,
    operator_for_number,
    product_json,
)
from simulator.xoxoday.errors import ApiError
from simulator.xoxoday.money import parse_decimal, parse_int
from simulator.xoxoday.state import SimState

DEFAULT_LIMIT = 100
_KINDS = {
    "": "giftcard",
    "giftcard": "giftcard",
    "miles": "miles",
    "charity": "charity",
    "lounge": "lounge",
}
_SORT_KEYS: dict[str, Callable[[Product], Any]] = {
    "name": lambda p: p.name.lower(),
    "productid": lambda p: p.product_id,
    "price": lambda p: p.min_value,
    "minvalue": lambda p: p.min_value,
    "maxvalue": lambda p: p.max_value,
    "discount": lambda p: p.discount,
}


def _filters_invalid(error: str) -> ApiError:
    return ApiError(400, "PLE10003", "Validation error in get filters", error)


def _vouchers_invalid(error: str) -> ApiError:
    return ApiError(400, "PLE10033", "Failed to validate getVouchers request", error)


def _bad_filter_value(key: str, value: Any) -> ApiError:
    return ApiError(
        400, "PLE10031", "Invalid filter value code", f"Invalid value {value!r} for {key}"
    )


def _no_vouchers() -> ApiError:
    return ApiError(404, "PLE10030", "Failed to find vouchers.", "No Vouchers Found")


def _csv(value: Any) -> list[str]:
    if value is None:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


# ---- getFilters -------------------------------------------------------------------------


def _filter_groups() -> dict[str, dict[str, Any]]:
    def group(code: str, name: str, filters: Iterable[tuple[str, str, str]]) -> dict[str, Any]:
        return {
            "filterGroupName": name,
            "filterGroupDescription": "",
            "filterGroupCode": code,
            "filters": [
                {"filterValue": value, "isoCode": iso, "filterValueCode": value_code}
                for value, iso, value_code in filters
            ],
        }

    return {
        "country": group("country", "Country", ((c.name, c.iso, c.code) for c in COUNTRIES)),
        # Staging calls the group currencyCode (§13; the docs list `currency`, accepted too).
        "currencyCode": group(
            "currencyCode", "Currency", ((CURRENCY_NAMES[c], "", c) for c in FX_TO_USD)
        ),
        "voucher_category": group(
            "voucher_category",
            "Voucher Category",
            ((name, "", code) for code, name in VOUCHER_CATEGORIES.items()),
        ),
        "product_category": group(
            "product_category",
            "Product Category",
            ((name, "", code) for code, name in PRODUCT_CATEGORIES.items()),
        ),
        "price": group("price", "Price", ((code, "", code) for code in PRICE_BUCKETS)),
    }


_GROUP_ALIASES = {"currency": "currencyCode", "currencycode": "currencyCode"}


def get_filters(state: SimState, data: dict[str, Any]) -> list[dict[str, Any]]:
    raw = data.get("filterGroupCode", "")
    if raw is not None and not isinstance(raw, str):
        raise _filters_invalid("filterGroupCode must be a string")
    code = (raw or "").strip().lower()
    code = _GROUP_ALIASES.get(code, code)
    groups = _filter_groups()
    if not code:
        return list(groups.values())
    if code not in groups:
        raise ApiError(
            404,
            "PLE10029",
            "Failed to find filters for filterGroupCode",
            f"No filters found for filterGroupCode {raw!r}",
        )
    group = groups[code]
    include = {v.lower() for v in _csv(data.get("includeFilters"))}
    exclude = {v.lower() for v in _csv(data.get("excludeFilters"))}
    group["filters"] = [
        f
        for f in group["filters"]
        if (not include or f["filterValueCode"].lower() in include)
        and f["filterValueCode"].lower() not in exclude
    ]
    return [group]


# ---- getVouchers --------------------------------------------------------------------------


def _price_overlaps(p: Product, lo: Decimal | None, hi: Decimal | None) -> bool:
    """Whether any amount the product can be ordered for lies in [lo, hi]."""
    if p.value_type == "fixed_denomination":
        return any((lo is None or d >= lo) and (hi is None or d <= hi) for d in p.denominations)
    return (lo is None or p.max_value >= lo) and (hi is None or p.min_value <= hi)


def _apply_filter(products: list[Product], key: str, value: Any) -> list[Product]:
    text = str(value).strip() if value is not None else ""
    low = text.lower()
    if key == "country":
        # filterValueCode ("india", "uk") as staging's getFilters and Xoxoday's MCP server use;
        # the docs' example and the top-up page show an ISO code ("IN"): both are accepted
        # (§13). A product sold in several countries is in each one's catalog.
        match = [c for c in COUNTRIES if low in (c.code, c.iso.lower(), c.name.lower())]
        if not match:
            raise _bad_filter_value(key, value)
        return [p for p in products if match[0] in p.countries]
    if key in ("currencyCode", "currency"):
        if text.upper() not in FX_TO_USD:
            raise _bad_filter_value(key, value)
        return [p for p in products if p.currency == text.upper()]
    if key == "productName":
        return [p for p in products if p.name == text]
    if key == "deliveryType":
        if low not in ("realtime", "delayed"):
            raise _bad_filter_value(key, value)
        return [p for p in products if ("delayed" if p.settles_later else "realtime") == low]
    if key in ("minPrice", "maxPrice"):
        bound = parse_decimal(value)
        if bound is None:
            raise _bad_filter_value(key, value)
        lo, hi = (bound, None) if key == "minPrice" else (None, bound)
        return [p for p in products if _price_overlaps(p, lo, hi)]
    if key == "price":
        if low not in PRICE_BUCKETS:
            raise _bad_filter_value(key, value)
        lo, hi = PRICE_BUCKETS[low]
        return [p for p in products if _price_overlaps(p, lo, hi)]
    if key == "voucher_category":
        if low not in VOUCHER_CATEGORIES:
            raise _bad_filter_value(key, value)
        return [p for p in products if p.voucher_category == low]
    if key == "product_category":
        if low not in PRODUCT_CATEGORIES:
            raise _bad_filter_value(key, value)
        return [p for p in products if p.product_category == low]
    raise _vouchers_invalid(f"unknown filter key {key!r}")


def _ids(value: Any, field: str) -> set[int]:
    ids = set()
    for item in _csv(value):
        number = parse_int(item)
        if number is None:
            raise _vouchers_invalid(f"{field} must be comma-separated product ids")
        ids.add(number)
    return ids


def _candidates(state: SimState, data: dict[str, Any]) -> list[Product]:
    category = str(data.get("categoryType") or data.get("category_type") or "").strip().lower()
    products = list(state.products.values())
    if category == "topup":
        parent = data.get("parentProductId")
        if parent in (None, "", 0, "0"):
            return [p for p in products if p.is_operator]
        parent_id = parse_int(parent)
        if parent_id is None:
            raise _vouchers_invalid("parentProductId must be a product id")
        return [p for p in products if p.parent_id == parent_id]
    kind = _KINDS.get(category)
    # Merchandise, offers...: categories this account has not been enabled for.
    return [p for p in products if p.kind == kind] if kind else []


def get_vouchers(
    state: SimState, data: dict[str, Any], wallet: str, inr_rule: bool = False
) -> list[dict[str, Any]]:
    """A page of products, with the day's locked rates when `exchangeRate: 1` is asked."""
    products = _candidates(state, data)
    include = _ids(data.get("includeProducts"), "includeProducts")
    exclude = _ids(data.get("excludeProducts"), "excludeProducts")
    products = [
        p
        for p in products
        if (not include or p.product_id in include) and p.product_id not in exclude
    ]
    filters = data.get("filters") or []
    if isinstance(filters, dict):  # one filter sent bare
        filters = [filters]
    if not isinstance(filters, list):
        raise _vouchers_invalid("filters must be a list of {key, value}")
    for item in filters:
        if not isinstance(item, dict) or not isinstance(item.get("key"), str):
            raise _vouchers_invalid("each filter needs a key and a value")
        products = _apply_filter(products, item["key"], item.get("value"))

    products.sort(key=lambda p: p.product_id)
    sort = data.get("sort")
    if isinstance(sort, dict) and sort.get("field"):
        key = _SORT_KEYS.get(str(sort["field"]).lower())
        if key is None:
            raise _vouchers_invalid(f"cannot sort by {sort['field']!r}")
        products.sort(key=key, reverse=str(sort.get("order", "ASC")).upper() == "DESC")

    limit = parse_int(data.get("limit")) if data.get("limit") not in (None, "") else DEFAULT_LIMIT
    page = parse_int(data.get("page")) if data.get("page") not in (None, "") else 1
    if limit is None or limit < 1 or page is None or page < 0:
        raise _vouchers_invalid("limit and page must be positive integers")
    page = max(page, 1)  # pages count from 1; some clients send 0 for the first page
    products = products[(page - 1) * limit : page * limit]
    if not products:
        raise _no_vouchers()
    with_rate = parse_int(data.get("exchangeRate")) == 1 or data.get("exchangeRate") is True
    return [product_json(p, wallet, with_rate, inr_rule, state.rates) for p in products]


# ---- lookupMobileNumber ---------------------------------------------------------------------


def lookup_mobile_number(
    state: SimState, data: dict[str, Any], shape: str = "combined"
) -> dict[str, Any]:
    """The whole operation body: this one carries fields beside `data` (reference §3.5).

    `shape`: combined (both documented shapes at once), spec (the top-up spec's
    `{"status": 1, "operator", "countryCode", "productId"}`) or field_table (the md page's
    flat `{"status": "success"|"failure", "message", "phone", "network_operator",
    "is_active", "parentProductId"}`, where an unknown number is a 200 "failure").
    """
    raw = data.get("mobile_number", data.get("mobileNumber"))
    text = str(raw).strip() if isinstance(raw, str | int) and not isinstance(raw, bool) else ""
    digits = "".join(ch for ch in text if ch.isdigit())
    if not text.startswith("+") or not 8 <= len(digits) <= 15:
        raise ApiError(
            400,
            "PLE10033",
            "Failed to validate request",
            "mobile_number must be in E.164 format, e.g. +919857535678",
        )
    number = "+" + digits
    operator_id = operator_for_number(number)
    if operator_id is None or operator_id not in state.products:
        if shape == "field_table":
            return {"status": "failure", "message": "Operator not found", "phone": number}
        raise ApiError(
            404, "PLE10017", "Failed to get product details", f"No operator found for {number}"
        )
    operator = state.products[operator_id]
    name = OPERATOR_NAMES[operator_id]
    table = {
        "status": "success",
        "message": "Operator found",
        "phone": number,
        "network_operator": name,
        "is_active": True,
        "parentProductId": operator_id,
    }
    if shape == "field_table":
        return table
    if shape == "spec":
        return {
            "status": 1,
            "operator": name,
            "countryCode": operator.country_iso,
            "productId": operator_id,
        }
    return {
        "status": 1,
        "data": table,
        "operator": name,
        "countryCode": operator.country_iso,
        "productId": operator_id,
    }
