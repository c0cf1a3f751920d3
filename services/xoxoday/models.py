"""Typed requests and lenient responses for the Plum Pro API.

Responses are parsed leniently because Xoxoday's real answers differ from its docs: numbers
arrive as strings, discounts as "", statuses in any case, cancel spelled two ways, lists as
null. Requests are strict: a reward that cannot succeed is refused before it is sent.
"""

from __future__ import annotations

import html
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Annotated, Any

import phonenumbers
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    EmailStr,
    Field,
    SecretStr,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from services.xoxoday.errors import InvalidOrder, MalformedResponse, MobileLookupFailed
from services.xoxoday.status import DeliveryOutcome, cancelled_units
from services.xoxoday.status import outcome as status_outcome

# --- lenient scalar types -------------------------------------------------------------------


def _to_decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, Decimal):
        return value
    if isinstance(value, int):
        return Decimal(value)
    if isinstance(value, float):  # only if a caller parsed JSON without parse_float=Decimal
        return Decimal(repr(value))
    text = str(value).strip().replace(",", "")
    if not text:
        return None
    try:
        result = Decimal(text)
    except InvalidOperation:
        return None
    return result if result.is_finite() else None


def _to_int(value: Any) -> int | None:
    number = _to_decimal(value)
    if number is None or number != number.to_integral_value():
        return None
    return int(number)


def _to_bool(value: Any) -> bool:
    if isinstance(value, str):
        return value.strip().lower() in ("1", "true", "yes")
    return bool(value)


def _to_str(value: Any) -> str:
    return "" if value is None else str(value)


def _secret_text(value: Any) -> Any:
    return value if isinstance(value, SecretStr) else _to_str(value)


def normalize_status(value: Any) -> str:
    """Statuses come as delivered/Delivered, canceled/Cancelled…; one spelling for us."""
    text = _to_str(value).strip().lower()
    return "canceled" if text in ("cancelled", "cancel", "canceled") else text


def _to_list(value: Any) -> list[Any]:
    return [] if value in (None, "") else list(value)


LenientDecimal = Annotated[Decimal | None, BeforeValidator(_to_decimal)]
LenientInt = Annotated[int | None, BeforeValidator(_to_int)]
LenientBool = Annotated[bool, BeforeValidator(_to_bool)]
LenientStr = Annotated[str, BeforeValidator(_to_str)]
Status = Annotated[str, BeforeValidator(normalize_status)]


class _Response(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, extra="ignore")


# --- catalog --------------------------------------------------------------------------------


def _split_denominations(value: Any) -> list[Decimal]:
    if value in (None, ""):
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    numbers = (_to_decimal(item) for item in items)
    return sorted({n for n in numbers if n is not None})


def _country_codes(value: Any) -> list[str]:
    """`countries`: [{"code": "US", "name": "USA"}, …] (§3.2); a voucher's `country` is a
    list in one string ("IN,US"); read both, upper-cased, each once, in their order."""
    if value in (None, ""):
        return []
    items = value.split(",") if isinstance(value, str) else list(value)
    codes: list[str] = []
    for item in items:
        code = item.get("code") if isinstance(item, dict) else item
        text = _to_str(code).strip().upper()
        if text and text not in codes:
            codes.append(text)
    return codes


class Product(_Response):
    product_id: int
    name: LenientStr = ""
    description: LenientStr = ""
    currency_code: LenientStr = ""
    currency_name: LenientStr = ""
    country_name: LenientStr = ""
    country_code: LenientStr = ""
    # ISO codes of where it is sold (its `countries`); may be empty in older answers.
    countries: Annotated[list[str], BeforeValidator(_country_codes)] = []
    value_type: Status = "fixed_denomination"
    value_denominations: Annotated[list[Decimal], BeforeValidator(_split_denominations)] = []
    min_value: LenientDecimal = None
    max_value: LenientDecimal = None
    order_quantity_limit: LenientInt = None
    delivery_type: Status = "realtime"
    is_phone_number_mandatory: LenientBool = False
    discount: LenientDecimal = None
    fee: LenientDecimal = None
    exchange_rate: LenientDecimal = None
    exchange_rate_rule: LenientDecimal = None
    parent_product_id: LenientInt = None
    loyalty_name: str | None = None
    loyalty_conversion: LenientStr = ""
    categories: Annotated[str, BeforeValidator(lambda v: html.unescape(_to_str(v)))] = ""
    image_url: LenientStr = ""
    tat_in_days: LenientStr = ""
    expiry_and_validity: LenientStr = ""
    product_meta: Any = None  # checkout fields (services/xoxoday/checkout_fields.py)

    @property
    def is_open_value(self) -> bool:
        return self.value_type == "open_value"

    @property
    def is_delayed(self) -> bool:
        return self.delivery_type == "delayed"

    def wallet_cost(
        self, denomination: Decimal, quantity: int = 1, wallet_currency: str | None = None
    ) -> Decimal | None:
        """Estimated cost in the wallet's currency, or None when no rate is known.

        `exchangeRate` comes when asked for (the client asks; reference §13 row 1), but an
        answer without it exists (the staging fixture, captured before its client asked: ten
        USD products for a USD wallet, all null). A product in the wallet's own currency
        costs its face value then. `exchangeRateRule` is never used: it is an INR rate, not
        the product-to-wallet one (reference §12 row 1).
        """
        rate = self.exchange_rate
        if rate is None:
            same = wallet_currency and self.currency_code.upper() == wallet_currency.upper()
            if not same:
                return None
            rate = Decimal(1)
        cost = denomination * quantity * rate
        if self.discount:
            cost = cost * (Decimal(100) - self.discount) / Decimal(100)
        return cost.quantize(Decimal("0.01"))

    def check(self, order: OrderRequest) -> None:
        """Refuse an order this product cannot take, with the field to fix."""
        if order.product_id != self.product_id:
            raise InvalidOrder(
                f"order is for product {order.product_id}, not {self.product_id}",
                field="product_id",
            )
        amount = order.denomination
        if self.is_open_value:
            low, high = self.min_value, self.max_value
            if (low is not None and amount < low) or (high is not None and amount > high):
                raise InvalidOrder(
                    f"{self.name} takes an amount from {_fmt(low)} to {_fmt(high)} "
                    f"{self.currency_code}, not {_fmt(amount)}",
                    field="denomination",
                )
        elif amount not in self.value_denominations:
            offered = ", ".join(_fmt(v) for v in self.value_denominations) or "none"
            raise InvalidOrder(
                f"{self.name} comes in {offered} {self.currency_code}, not {_fmt(amount)}",
                field="denomination",
            )
        limit = self.order_quantity_limit
        if limit is not None and order.quantity > limit:
            raise InvalidOrder(
                f"{self.name} allows at most {limit} per order, not {order.quantity}",
                field="quantity",
            )
        if self.is_phone_number_mandatory and not order.contact:
            raise InvalidOrder(f"{self.name} needs the recipient's phone number", field="contact")


def _fmt(value: Decimal | None) -> str:
    if value is None:
        return "any"
    return format(value.normalize(), "f") if value == value.to_integral_value() else str(value)


class FilterValue(_Response):
    filter_value: LenientStr = ""
    iso_code: LenientStr = ""
    filter_value_code: LenientStr = ""


class FilterGroup(_Response):
    filter_group_name: LenientStr = ""
    filter_group_code: LenientStr = ""
    filter_group_description: LenientStr = ""
    filters: Annotated[list[FilterValue], BeforeValidator(_to_list)] = []


class MobileOperator(BaseModel):
    """lookupMobileNumber, whichever of its documented shapes arrives (reference §3.5, §12 row 4).

    - the top-up spec: `{"status": 1, "operator", "countryCode", "productId"}`;
    - the md page's field table, flat: `{"status": "success"|"failure", "message", "phone",
      "network_operator", "is_active", "parentProductId"}`;
    - either of them with the field table nested under `data`.
    `status` may be a number or a word; "failure" (or 0) is MobileLookupFailed.
    """

    operator: str
    country_code: str = ""
    parent_product_id: int | None = None
    phone: str = ""
    is_active: bool = True

    @classmethod
    def from_payload(cls, payload: dict[str, Any]) -> MobileOperator:
        inner = payload.get("data") if isinstance(payload.get("data"), dict) else {}
        for holder in (payload, inner):
            if status_ok(holder.get("status")) is False:
                message = str(holder.get("message") or "the number's operator was not found")
                raise MobileLookupFailed(message, op="lookupMobileNumber", detail=message)

        def first(*names: str) -> Any:
            for holder in (payload, inner):
                for name in names:
                    if holder.get(name) not in (None, ""):
                        return holder[name]
            return None

        operator = first("operator", "network_operator")
        product = _to_int(first("productId", "parentProductId"))
        if operator is None and product is None:
            raise MalformedResponse(
                "lookupMobileNumber: neither an operator nor a product id in the answer",
                op="lookupMobileNumber",
            )
        active = first("is_active")
        return cls(
            operator=_to_str(operator),
            country_code=_to_str(first("countryCode", "country_code")),
            parent_product_id=product,
            phone=_to_str(first("phone")),
            is_active=True if active is None else _to_bool(active),
        )


def status_ok(value: Any) -> bool | None:
    """An answer's `status`: 1 / "1" / true / "success" -> True; 0 / "0" / false / "failure"
    -> False; absent or anything else -> None."""
    if isinstance(value, bool):
        return value
    text = _to_str(value).strip().lower()
    if text in ("1", "success", "successful", "ok", "true"):
        return True
    if text in ("0", "failure", "failed", "error", "false"):
        return False
    return None


class Balance(_Response):
    """getBalance. The wallet's balance is `points`, in `currency`; `value` is documented as
    the INR value ("points: balance in base currency; value: value in INR"), so it is read
    only when `points` is absent (reference §3.9, §12 row 2: a staging answer
    `{"points": 9944, "value": 705798, "currency": "USD"}` is 9,944 USD, not 705,798)."""

    points: LenientDecimal = None
    value: LenientDecimal = None
    currency: LenientStr = ""

    @model_validator(mode="after")
    def _some_amount(self) -> Balance:
        if self.points is None and self.value is None:
            raise ValueError("the balance has neither points nor value")
        return self

    @property
    def amount(self) -> Decimal:
        """The wallet balance in `currency`."""
        amount = self.points if self.points is not None else self.value
        assert amount is not None  # checked by the validator
        return amount


# --- orders ---------------------------------------------------------------------------------


class Voucher(_Response):
    """A delivered code. Code and PIN are SecretStr so no log or repr ever shows them."""

    product_id: LenientInt = None
    order_id: LenientInt = None
    voucher_code: Annotated[SecretStr, BeforeValidator(_secret_text)] = SecretStr("")
    pin: Annotated[SecretStr, BeforeValidator(_secret_text)] = SecretStr("")
    validity: LenientStr = ""
    amount: LenientDecimal = None
    currency: LenientStr = ""
    country: LenientStr = ""
    type: LenientStr = ""

    @property
    def is_link(self) -> bool:
        return self.type.lower().startswith("url")


class VoucherDetail(_Response):
    order_id: LenientInt = None
    product_id: LenientInt = None
    product_name: LenientStr = ""
    currency_code: LenientStr = ""
    product_status: Status = ""
    denomination: LenientDecimal = None
    cancelled_quantity: LenientInt = None
    tracking_id: LenientStr = ""
    tracking_link: LenientStr = ""


class Order(_Response):
    """What placeOrder and getOrderDetails answer."""

    order_id: int
    order_total: LenientDecimal = None
    raw_order_total: LenientDecimal = None
    order_discount: LenientDecimal = None
    discount_percent: LenientDecimal = None
    currency_code: LenientStr = ""
    currency_value: LenientDecimal = None
    amount_charged: LenientDecimal = None
    order_status: Status = ""
    delivery_status: Status = ""
    tag: LenientStr = ""
    quantity: LenientInt = None
    order_date: LenientStr = ""
    delivery_date: LenientStr = ""
    vouchers: Annotated[list[Voucher], BeforeValidator(_to_list)] = []
    voucher_details: Annotated[list[VoucherDetail], BeforeValidator(_to_list)] = []
    order_meta: Annotated[dict[str, Any], BeforeValidator(lambda v: v or {})] = {}
    cancelled_quantity: LenientInt = None

    @field_validator("order_id", mode="before")
    @classmethod
    def _order_id(cls, v: Any) -> int:
        number = _to_int(v)
        if number is None:
            raise ValueError("orderId is missing")
        return number

    @property
    def outcome(self) -> DeliveryOutcome:
        """What the statuses add up to (services.xoxoday.status holds the one mapping)."""
        statuses = [d.product_status for d in self.voucher_details]
        from_details = sum(d.cancelled_quantity or 0 for d in self.voucher_details)
        # A partial cancel may show only in productStatus (§13 row 4): read it alike.
        from_statuses = cancelled_units(statuses, self.quantity, len(self.vouchers))
        return status_outcome(
            self.order_status,
            self.delivery_status,
            statuses,
            quantity=self.quantity,
            cancelled_quantity=max(self.cancelled_quantity or 0, from_details, from_statuses),
        )

    @property
    def delivery(self) -> str:
        """delivered | pending | canceled."""
        return self.outcome.state


class HistoryProduct(_Response):
    product_id: LenientInt = None
    product_name: LenientStr = ""
    receiver_email: LenientStr = ""
    price: LenientDecimal = None
    quantity: LenientInt = None
    order_product_status: Status = ""
    currency: LenientStr = ""


class HistoryOrder(_Response):
    order_id: int
    order_date: LenientStr = ""
    email: LenientStr = ""
    delivery_status: Status = ""
    po_number: LenientStr = ""
    tag: LenientStr = ""
    order_total: LenientDecimal = None
    amount_charged: LenientDecimal = None
    currency_code: LenientStr = ""
    products: Annotated[list[HistoryProduct], BeforeValidator(_to_list)] = []


class PaymentRow(BaseModel):
    model_config = ConfigDict(extra="ignore")

    invoice_number: LenientStr = ""
    reference_id: LenientStr = ""
    date: LenientStr = ""
    reason: LenientStr = ""
    adjusted_amount: LenientDecimal = None
    transaction_status: Status = ""
    closing_balance: LenientDecimal = None


# --- order requests, one model per shape of placeOrder ---------------------------------------


def _check_denomination(value: Decimal) -> Decimal:
    if not value.is_finite() or value <= 0:
        raise ValueError("the amount must be a positive number")
    if -value.as_tuple().exponent > 2:  # type: ignore[operator]
        raise ValueError("the amount has more than two decimal places")
    return value


def parse_phone(text: str) -> phonenumbers.PhoneNumber:
    """A phone number in international (E.164) form, or ValueError saying how to write it."""
    cleaned = text.strip()
    if not cleaned.startswith("+"):
        raise ValueError("write the phone number in international form, e.g. +919876543210")
    try:
        number = phonenumbers.parse(cleaned, None)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"not a phone number ({exc})") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{cleaned} is not a valid phone number")
    return number


def e164(text: str) -> str:
    return phonenumbers.format_number(parse_phone(text), phonenumbers.PhoneNumberFormat.E164)


def xoxoday_contact(text: str) -> str:
    """Xoxoday writes contacts as +<country code>-<national number>, e.g. +91-9876543210."""
    number = parse_phone(text)
    return f"+{number.country_code}-{phonenumbers.national_significant_number(number)}"


class OrderRequest(BaseModel):
    """Fields every placeOrder takes. Subclasses add what their reward type needs."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    product_id: int = Field(gt=0)
    denomination: Decimal
    quantity: int = Field(default=1, ge=1, le=1000)
    po_number: str = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9._:-]+$")
    email: EmailStr | None = None
    contact: str | None = None
    tag: str | None = Field(default=None, max_length=100)
    notify_receiver_email: bool = False
    notify_admin_email: bool = False
    # What a kind asks of its recipient with no attribute of its own in a model (a lounge's
    # traveller name): sent as userMeta, keyed as the kind's registry entry says.
    user_meta: dict[str, str] = Field(default_factory=dict)

    @field_validator("denomination", mode="before")
    @classmethod
    def _denomination(cls, v: Any) -> Decimal:
        if isinstance(v, float):
            raise ValueError("pass amounts as Decimal or str, not float")
        number = _to_decimal(v)
        if number is None:
            raise ValueError("the amount is not a number")
        return _check_denomination(number)

    @field_validator("contact")
    @classmethod
    def _contact(cls, v: str | None) -> str | None:
        return xoxoday_contact(v) if v else None

    def payload(self) -> dict[str, Any]:
        """variables.data for placeOrder."""
        data: dict[str, Any] = {
            "productId": self.product_id,
            "quantity": self.quantity,
            "denomination": self.denomination,
            "poNumber": self.po_number,
            "notifyReceiverEmail": int(self.notify_receiver_email),
            "notifyAdminEmail": int(self.notify_admin_email),
        }
        if self.email:
            data["email"] = self.email
        if self.contact:
            data["contact"] = self.contact
        if self.tag:
            data["tag"] = self.tag
        if self.user_meta:
            data["userMeta"] = dict(self.user_meta)
        return data


# Which kind of reward takes which shape is the registry's to say (services/reward_types.py).
class GiftCardOrder(OrderRequest):
    pass


class CharityOrder(OrderRequest):
    pass


class AirmilesOrder(OrderRequest):
    loyalty_member_id: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9-]+$")

    @field_validator("loyalty_member_id", mode="before")
    @classmethod
    def _strip(cls, v: Any) -> Any:
        return v.strip() if isinstance(v, str) else v

    def payload(self) -> dict[str, Any]:
        return {**super().payload(), "userMeta": {"loyaltyMemberId": self.loyalty_member_id}}


class TopupOrder(OrderRequest):
    phone: str
    perform_operator_validation: bool = True

    @field_validator("phone")
    @classmethod
    def _phone(cls, v: str) -> str:
        return e164(v)

    def payload(self) -> dict[str, Any]:
        number = parse_phone(self.phone)
        return {
            **super().payload(),
            "performOperatorValidation": int(self.perform_operator_validation),
            "userMeta": {
                "topupPhoneCode": f"+{number.country_code}",
                "topupPhoneNumber": phonenumbers.national_significant_number(number),
            },
        }


def make_order(cls: type[OrderRequest], **fields: Any) -> OrderRequest:
    """`cls(**fields)`, with a refusal as InvalidOrder naming the first bad field."""
    from pydantic import ValidationError

    try:
        return cls(**fields)
    except ValidationError as exc:
        error = exc.errors()[0]
        field = ".".join(str(p) for p in error["loc"]) or None
        message = error["msg"].removeprefix("Value error, ")
        raise InvalidOrder(f"{field}: {message}" if field else message, field=field) from None


def history_dates(start: date, end: date) -> dict[str, str]:
    if end < start:
        raise ValueError("endDate is before startDate")
    return {"startDate": start.isoformat(), "endDate": end.isoformat()}
