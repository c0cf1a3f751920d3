"""placeOrder, getOrderDetails, getOrderHistory, paymentHistory, getBalance (reference §3.6-3.9)."""

from __future__ import annotations

import re
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from simulator.xoxoday.catalog import COUNTRY_BY_ISO, Product, operator_for_number, wallet_rate
from simulator.xoxoday.errors import ApiError, order_invalid
from simulator.xoxoday.money import as_number, cents, parse_decimal, parse_int
from simulator.xoxoday.orders import CANCELED, PENDING, Order, make_vouchers, next_order_id
from simulator.xoxoday.state import SimState

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _text(value: Any) -> str | None:
    """A string field that may arrive as a number; None for objects, lists and booleans."""
    if value is None:
        return ""
    if isinstance(value, bool) or not isinstance(value, str | int | Decimal):
        return None
    return str(value)


def _flag(value: Any) -> bool | None:
    """0/1 flags arrive as ints, strings or booleans; None when it is none of those."""
    if value in (None, "", 0, "0", False, "false"):
        return False
    if value in (1, "1", True, "true"):
        return True
    return None


def _topup_phone(data: dict[str, Any]) -> tuple[str, str]:
    """(calling code, number) from userMeta, or topupData as the top-up md page names it."""
    for holder in (data.get("userMeta"), data.get("topupData")):
        if isinstance(holder, dict):
            nested = holder.get("topupData")
            for source in (holder, nested if isinstance(nested, dict) else {}):
                code = _text(source.get("topupPhoneCode")) or ""
                number = _text(source.get("topupPhoneNumber")) or ""
                if code.strip() and number.strip():
                    return code.strip(), number.strip()
    return "", ""


def _phone_meta(phone: tuple[str, str]) -> dict[str, Any]:
    """userMeta as documented, for a top-up that sent its phone as topupData."""
    return {"topupPhoneCode": phone[0], "topupPhoneNumber": phone[1]} if all(phone) else {}


def _validate(state: SimState, data: dict[str, Any]) -> dict[str, Any]:
    """Field-level checks (PLE10001), including what the product's category requires."""
    product_id = parse_int(data.get("productId"))
    if product_id is None or product_id <= 0:
        raise order_invalid("productId is required and must be a number")
    quantity = parse_int(data.get("quantity"))
    if quantity is None or quantity < 1:
        raise order_invalid("quantity is required and must be a positive whole number")
    denomination = parse_decimal(data.get("denomination"))
    if denomination is None or denomination <= 0:
        raise order_invalid("denomination is required and must be a positive number")
    po_number = _text(data.get("poNumber"))
    if po_number is None or len(po_number) > 100:
        raise order_invalid("poNumber must be a string of at most 100 characters")
    email = _text(data.get("email"))
    if email is None or (email and not _EMAIL.match(email)):
        raise order_invalid("email is not a valid email address")
    contact, tag = _text(data.get("contact")), _text(data.get("tag"))
    if contact is None or tag is None:
        raise order_invalid("contact and tag must be strings")
    for flag in ("notifyReceiverEmail", "notifyAdminEmail", "performOperatorValidation"):
        if _flag(data.get(flag)) is None:
            raise order_invalid(f"{flag} must be 0 or 1")
    user_meta = data.get("userMeta") or {}
    if not isinstance(user_meta, dict):
        raise order_invalid("userMeta must be an object")

    product = state.products.get(product_id)
    if product is not None and product.kind == "miles":
        member = _text(user_meta.get("loyaltyMemberId"))
        if not member or not member.strip():
            raise order_invalid("userMeta.loyaltyMemberId is required for airmiles products")
    phone = _topup_phone(data)
    if product is not None and product.kind == "topup" and not all(phone):
        raise order_invalid("userMeta.topupPhoneCode and userMeta.topupPhoneNumber are required")
    return {
        "product_id": product_id,
        "quantity": quantity,
        "denomination": denomination,
        "po_number": po_number,
        "email": email,
        "contact": contact.strip(),
        "tag": tag,
        "user_meta": user_meta or _phone_meta(phone),
        "phone": phone,
        "validate_operator": _flag(data.get("performOperatorValidation")),
    }


def _check_product(state: SimState, product_id: int) -> Product:
    product = state.products.get(product_id)
    if product is None or product.is_operator:
        raise ApiError(
            404, "PLE10017", "Failed to get product details", f"Product {product_id} not found"
        )
    if not product.activated:
        raise ApiError(
            404,
            "PLE10042",
            "This product is not activated for the client",
            f"Product {product_id} is not activated for your account (KYB pending)",
        )
    if product.needs_kyc:
        raise ApiError(
            400,
            "PLE10015",
            "Amazon KYC is not approved",
            "KYC must be approved before ordering this product",
        )
    return product


def _check_denomination(product: Product, denomination: Decimal) -> None:
    if product.value_type == "fixed_denomination":
        ok = denomination in product.denominations
    else:
        ok = product.min_value <= denomination <= product.max_value and denomination == cents(
            denomination
        )
    if not ok:
        raise ApiError(
            400,
            "PLE10018",
            "Invalid denomination for the product",
            "ProductId and Denomination Combination Not Found",
        )


def _check_country(product: Product, home: str | None) -> None:
    """PLE10019: an account that may only buy in its own country (`home`, an ISO code) asked
    for a product not sold there (xoxoday-api.md §13, error table)."""
    if home is None or COUNTRY_BY_ISO.get(home) in product.countries:
        return
    raise ApiError(
        401,
        "PLE10019",
        "Clients are not allowed to place international orders",
        f"International orders are not enabled for your account ({product.name} is not sold "
        f"in {home})",
    )


def place_order(
    state: SimState, data: dict[str, Any], wallet: str, now: datetime, home: str | None = None
) -> Order:
    """Xoxoday's checks in their order (reference §8), then debit the wallet."""
    order = prepare_order(state, data, wallet, now, home)
    commit_order(state, order)
    return order


def prepare_order(
    state: SimState, data: dict[str, Any], wallet: str, now: datetime, home: str | None = None
) -> Order:
    """Every check of placeOrder, and the order it would create; nothing is changed yet.

    A late commit (the gateway answered 504 first) prepares now and commits later: until
    then getOrderDetails cannot see it, and a second placeOrder with the same poNumber is not
    refused as a duplicate but creates a second order, the worst a client can meet.
    """
    fields = _validate(state, data)
    product = _check_product(state, fields["product_id"])
    _check_country(product, home)
    _check_denomination(product, fields["denomination"])
    quantity = fields["quantity"]
    if quantity > product.quantity_limit:
        raise ApiError(
            409,
            "PLE10041",
            f"Clients are not allowed to place more than {product.quantity_limit} Qty",
            f"Order Failed, as per your current setup you are not allowed to add more than "
            f"{product.quantity_limit} qty. Plz contact cs@xoxoday.com to get more clarity",
        )
    if product.phone_mandatory and not fields["contact"]:
        raise order_invalid("contact is mandatory for this product")
    for name in product.checkout_fields:  # its productMeta's fields
        given = _text(data.get(name)) or _text(fields["user_meta"].get(name))
        if not given or not given.strip():
            raise order_invalid(f"{name} is required for this product")
    if product.kind == "topup" and fields["validate_operator"]:
        code, number = fields["phone"]
        digits = "".join(ch for ch in code + number if ch.isdigit())
        if operator_for_number("+" + digits) != product.parent_id:
            raise order_invalid("operator validation failed")

    po_number = fields["po_number"]
    existing = state.orders_by_po.get(po_number) if po_number else None
    if existing is not None and existing.delivery_status == CANCELED:
        raise ApiError(
            404,
            "PLE10036",
            "Failed to get order details as delivery is canceled",
            "Order delivery is in cancelled state",
        )
    if existing is not None:
        raise ApiError(
            422,
            "PLE10004",
            "Failed to validate client's externalOrderId",
            f"validation of poNumber has failed: {po_number} is already used",
        )

    fx = wallet_rate(state.rates, product.currency, wallet)  # the day's locked rate
    raw_total = fields["denomination"] * quantity * fx
    charged = cents(raw_total * (1 - product.discount / 100))
    if charged > state.ledger.balance:
        raise ApiError(422, "PLE10010", "Failed to redeem points", "Insufficient balance")

    order = Order(
        order_id=next_order_id(),
        po_number=po_number,
        product=product,
        denomination=fields["denomination"],
        quantity=quantity,
        fx=fx,
        raw_total=raw_total,
        amount_charged=charged,
        created=now,
        wallet_currency=wallet,
        email=fields["email"],
        contact=fields["contact"],
        tag=fields["tag"],
        user_meta=fields["user_meta"],
    )
    if product.settles_later:
        order.delivery_status = PENDING
    else:
        order.delivered_at = now
        if product.voucher_type:
            order.vouchers = make_vouchers(product, quantity, now)
    return order


def commit_order(state: SimState, order: Order) -> bool:
    """Debit the wallet and record the order; False when the wallet can no longer pay."""
    if order.amount_charged > state.ledger.balance:
        return False
    state.ledger.debit(
        order.amount_charged, "Brand Voucher(s) Issued", order.created, order.order_id
    )
    state.add_order(order)
    return True


def get_order_details(
    state: SimState, data: dict[str, Any], per_unit: bool = False
) -> dict[str, Any]:
    po_number = _text(data.get("poNumber"))
    raw_id = data.get("orderId")
    order_id = None if raw_id in (None, "", 0, "0") else parse_int(raw_id)
    if po_number is None or (raw_id not in (None, "", 0, "0") and order_id is None):
        raise ApiError(
            400, "PLE10002", "Validation error in get order details", "Invalid orderId or poNumber"
        )
    if order_id is None and not po_number:
        raise ApiError(
            400,
            "PLE10002",
            "Validation error in get order details",
            "Either poNumber or orderId is required",
        )
    if order_id is not None:
        order = state.orders.get(order_id)
        if order is not None and po_number and order.po_number != po_number:
            order = None
    else:
        order = state.orders_by_po.get(po_number)
    if order is None:
        raise ApiError(404, "PLE10016", "Failed to get Order details", "Order Details Not Found")
    if _flag(data.get("sendMailToReceiver")):
        # Re-send the voucher email (reference §3.7); a failure there is 502 PLE10034.
        if not order.email or order.delivery_status != "delivered":
            raise ApiError(
                502,
                "PLE10034",
                "Failed to process resendVoucher",
                "The order has no delivered voucher to email",
            )
        order.emails_resent += 1
    return order.details_json(per_unit)


def _date_range(data: dict[str, Any], error: ApiError) -> tuple[date, date]:
    start, end = data.get("startDate"), data.get("endDate")
    if not (isinstance(start, str) and _DATE.match(start)):
        raise error
    if not (isinstance(end, str) and _DATE.match(end)):
        raise error
    try:
        first, last = date.fromisoformat(start), date.fromisoformat(end)
    except ValueError:
        raise error from None
    if first > last:
        raise error
    return first, last


def _page(items: list[Any], data: dict[str, Any], error: ApiError) -> list[Any]:
    limit = parse_int(data.get("limit")) if data.get("limit") not in (None, "") else None
    page = parse_int(data.get("page")) if data.get("page") not in (None, "") else 1
    if page is None or page < 0 or (limit is not None and limit < 1):
        raise error
    if limit is None:
        return items
    page = max(page, 1)
    return items[(page - 1) * limit : page * limit]


def get_order_history(state: SimState, data: dict[str, Any]) -> list[dict[str, Any]]:
    invalid = ApiError(
        400,
        "PLE10032",
        "Failed to validate OrderHistory Request",
        "startDate and endDate are required as YYYY-MM-DD, startDate not after endDate",
    )
    first, last = _date_range(data, invalid)
    tag = data.get("tag")
    orders = [
        o
        for o in state.orders.values()
        if first <= o.created.date() <= last and (not tag or o.tag == tag)
    ]
    orders.sort(key=lambda o: (o.created, o.order_id), reverse=True)
    page = _page(orders, data, invalid)
    if not page:
        raise ApiError(404, "PLE10022", "Failed to find order history", "No orders found")
    return [o.history_json() for o in page]


def payment_history(state: SimState, data: dict[str, Any]) -> list[dict[str, Any]]:
    """Newest first, like the documented example; dates are optional here."""
    invalid = ApiError(
        400,
        "PLE10032",
        "Failed to validate request",
        "startDate and endDate must be YYYY-MM-DD, startDate not after endDate",
    )
    rows = list(reversed(state.ledger.rows))
    if data.get("startDate") or data.get("endDate"):
        first, last = _date_range(data, invalid)
        rows = [r for r in rows if first <= r.when.date() <= last]
    return [r.to_json() for r in _page(rows, data, invalid)]


def get_balance(state: SimState, wallet: str, inr_rate: Decimal | None = None) -> dict[str, Any]:
    """`points` is the balance in the wallet's currency; `value` is documented as its INR
    value ("value: value in INR"), equal to points only in the kind default."""
    points = state.ledger.balance
    value = cents(points * inr_rate) if inr_rate is not None else points
    return {"points": as_number(points), "value": as_number(value), "currency": wallet}
