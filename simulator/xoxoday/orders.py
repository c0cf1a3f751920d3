"""Orders, vouchers and the wallet ledger, and how Xoxoday renders each of them."""

from __future__ import annotations

import itertools
import secrets
import string
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from simulator.xoxoday.catalog import Product
from simulator.xoxoday.money import as_number, as_text, cents

# Ids keep growing across /_sim/reset (and, being time-based, across restarts), so a bot
# database that outlives a reset never sees an orderId reused for another order.
_order_ids = itertools.count(int(time.time() * 100) - 150_000_000_000)
_invoice_ids = itertools.count(423_204_732)

DELIVERED, PENDING, CANCELED = "delivered", "pending", "canceled"
# Ways an order can end besides delivered/canceled (xoxoday-api.md §4, §12 row 3): the money
# comes back in both; orderStatus says which.
REFUNDED, FAILED = "refunded", "failed"
OUTCOMES = (DELIVERED, CANCELED, REFUNDED, FAILED)
PROCESSING = "processing"
OPENING_FUNDS_AGE = timedelta(days=30)
_ALNUM = string.ascii_letters + string.digits


def stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def _random(chars: str, length: int) -> str:
    return "".join(secrets.choice(chars) for _ in range(length))


def next_order_id() -> int:
    return next(_order_ids)


@dataclass
class Voucher:
    code: str
    pin: str
    type: str
    validity: str


def make_vouchers(product: Product, quantity: int, now: datetime) -> list[Voucher]:
    """One sandbox voucher per unit, in the product's voucher type (reference §3.6)."""
    validity = (now + timedelta(days=730)).strftime("%Y-%m-%d")
    vouchers = []
    for _ in range(quantity):
        ms = int(now.timestamp() * 1000)
        code = f"DEMO-{ms}-{_random(string.ascii_lowercase + string.digits, 6)}"
        if product.voucher_type == "url":
            code = f"https://stagingstores.plum.gift/{_random(_ALNUM, 16)}"
        pin = "DEMO-PIN" if product.voucher_type == "codePin" else ""
        vouchers.append(Voucher(code, pin, product.voucher_type or "code", validity))
    return vouchers


@dataclass
class Order:
    order_id: int
    po_number: str
    product: Product
    denomination: Decimal
    quantity: int
    fx: Decimal  # product currency -> wallet currency
    raw_total: Decimal  # denomination × quantity × fx, before discount
    amount_charged: Decimal
    created: datetime
    wallet_currency: str
    email: str = ""
    contact: str = ""
    tag: str = ""
    user_meta: dict[str, Any] = field(default_factory=dict)
    delivery_status: str = DELIVERED  # "" while the order is still processing
    order_status: str = "complete"  # processing, then complete / refunded / failed
    delivered_at: datetime | None = None
    cancelled_quantity: int = 0
    emails_resent: int = 0  # getOrderDetails with sendMailToReceiver: 1
    vouchers: list[Voucher] = field(default_factory=list)

    @property
    def product_status(self) -> str:
        return {CANCELED: "Cancelled"}.get(self.delivery_status, self.delivery_status)

    @property
    def is_open(self) -> bool:
        """Not settled yet: delivery pending, or still processing (empty deliveryStatus)."""
        return self.delivery_status in (PENDING, "")

    @property
    def webhook_status(self) -> str:
        """The webhook documents only delivered|canceled: money back is "canceled"."""
        return DELIVERED if self.delivery_status == DELIVERED else CANCELED

    def start_processing(self) -> None:
        """Answer `processing` with an empty deliveryStatus and no codes, for now."""
        self.order_status, self.delivery_status = PROCESSING, ""
        self.delivered_at, self.vouchers = None, []

    def _money(self) -> dict[str, Any]:
        discount = self.product.discount
        total = cents(self.raw_total)
        return {
            "orderTotal": as_number(total),
            "rawOrderTotal": as_number(self.raw_total),
            # Xoxoday sends the discount fields as strings, "" when there is none.
            "orderDiscount": as_text(total - self.amount_charged) if discount else "",
            "rawOrderDiscount": as_text(self.raw_total * discount / 100) if discount else "",
            "discountPercent": as_text(discount) if discount else "",
            "currencyCode": self.wallet_currency,
            "currencyValue": as_number(self.fx),
            "amountCharged": as_number(self.amount_charged),
        }

    def _vouchers(self, amount_as_text: bool) -> list[dict[str, Any]]:
        amount: Any = as_text(self.denomination) if amount_as_text else as_number(self.denomination)
        return [
            {
                "productId": self.product.product_id,
                "orderId": self.order_id,
                "voucherCode": v.code,
                "pin": v.pin,
                "validity": v.validity,
                "amount": amount,
                "currency": self.product.currency,
                "country": ",".join(c.iso for c in self.product.countries),
                "type": v.type,
                "currencyValue": as_number(self.fx),
            }
            for v in self.vouchers
        ]

    def _voucher_details(self, per_unit: bool = False) -> list[dict[str, Any]]:
        """One row for the order; with `per_unit`, a partly cancelled order shows the cancel
        only in productStatus: a row per unit, no cancelledQuantity (§13 row 4)."""
        row = {
            "orderId": self.order_id,
            "productId": self.product.product_id,
            "productName": self.product.name,
            "currencyCode": self.product.currency,
            "productStatus": self.product_status,
            "denomination": as_number(self.denomination),
            "cancelledQuantity": self.cancelled_quantity,
            "trackingId": "",
            "trackingLink": "",
            "vendorLogo": "",
        }
        partial = self.delivery_status == DELIVERED and 0 < self.cancelled_quantity < self.quantity
        if not (per_unit and partial):
            return [row]
        del row["cancelledQuantity"]
        delivered = self.quantity - self.cancelled_quantity
        return [
            {**row, "productStatus": DELIVERED if unit < delivered else "Cancelled"}
            for unit in range(self.quantity)
        ]

    def placed_json(self) -> dict[str, Any]:
        """The placeOrder answer."""
        return {
            "orderId": self.order_id,
            **self._money(),
            # "complete" even while delivery is pending (reference §4); "processing" first in
            # the real shapes, then "refunded" or "failed" for some.
            "orderStatus": self.order_status,
            "deliveryStatus": self.delivery_status,
            "tag": self.tag,
            "quantity": self.quantity,
            "vouchers": self._vouchers(amount_as_text=False),
            "voucherDetails": self._voucher_details(),
            "orderMeta": {"email": self.email, "contact": self.contact},
        }

    def details_json(self, per_unit: bool = False) -> dict[str, Any]:
        """The getOrderDetails answer; voucher amounts are strings there, as in Xoxoday's docs.
        `per_unit`: a partial cancel shown in productStatus only (SimConfig)."""
        return {
            "orderId": self.order_id,
            "poNumber": self.po_number,
            **self._money(),
            "orderStatus": self.order_status,
            "deliveryStatus": self.delivery_status,
            "tag": self.tag,
            "orderDate": stamp(self.created),
            "deliveryDate": stamp(self.delivered_at) if self.delivered_at else "",
            "quantity": self.quantity,
            "shippingDetails": dict.fromkeys(
                (
                    "shippingFirstName",
                    "shippingLastName",
                    "shippingContactNo",
                    "shippingCompany",
                    "shippingAddress1",
                    "shippingAddress2",
                    "shippingCity",
                    "shippingState",
                    "shippingCountry",
                    "shippingPostcode",
                ),
                "",
            ),
            "vouchers": self._vouchers(amount_as_text=True),
            "voucherDetails": self._voucher_details(per_unit),
            "orderMeta": {"email": self.email, "contact": self.contact},
        }

    def history_json(self) -> dict[str, Any]:
        """A getOrderHistory item: here the discount fields are numbers (reference §3.8)."""
        discount = self.product.discount
        total = cents(self.raw_total)
        return {
            "orderId": self.order_id,
            "orderDate": stamp(self.created),
            "email": self.email,
            "deliveryStatus": self.delivery_status,
            "poNumber": self.po_number,
            "tag": self.tag or None,
            "orderTotal": as_number(total),
            "rawOrderTotal": as_number(self.raw_total),
            "orderDiscount": as_number(total - self.amount_charged),
            "rawOrderDiscount": as_number(self.raw_total * discount / 100),
            "discountPercent": as_number(discount),
            "amountCharged": as_number(self.amount_charged),
            "currencyValue": as_number(self.fx),
            "currencyCode": self.wallet_currency,
            "products": [
                {
                    "productId": self.product.product_id,
                    "productName": self.product.name,
                    "receiverMobileNumber": self.contact,
                    "receiverEmail": self.email,
                    "price": as_number(self.denomination),
                    "quantity": self.quantity,
                    "orderProductStatus": self.product_status,
                    "currency": self.product.currency,
                    "trackingId": None,
                    "trackingLink": None,
                }
            ],
            "voucherDetails": [
                {
                    "orderId": self.order_id,
                    "productId": self.product.product_id,
                    "productName": self.product.name,
                    "currencyCode": self.product.currency,
                    "productStatus": self.product_status,
                    "denomination": as_number(self.denomination),
                }
            ],
        }

    def sim_json(self) -> dict[str, Any]:
        """The /_sim/orders view: what tests and the demo check against."""
        return {
            "poNumber": self.po_number,
            "orderId": self.order_id,
            "productId": self.product.product_id,
            "productName": self.product.name,
            "denomination": as_number(self.denomination),
            "quantity": self.quantity,
            "amountCharged": as_number(self.amount_charged),
            "orderStatus": self.order_status,
            "deliveryStatus": self.delivery_status,
            "cancelledQuantity": self.cancelled_quantity,
            "email": self.email,
            "contact": self.contact,
            "tag": self.tag,
            "userMeta": self.user_meta,
            "createdAt": stamp(self.created),
            "vouchers": [v.code for v in self.vouchers],
            "emailsResent": self.emails_resent,
        }


@dataclass
class LedgerRow:
    when: datetime
    reason: str
    amount: Decimal
    closing: Decimal
    status: str = "Complete"
    order_id: int | None = None
    credit: bool = False  # money into the wallet (funds added, a refund)
    invoice: str = field(default_factory=lambda: f"IN{next(_invoice_ids)}")
    reference: str = field(default_factory=lambda: _random(_ALNUM, 12))

    def to_json(self) -> dict[str, Any]:
        return {
            "invoice_number": self.invoice,
            "reference_id": self.reference,
            "date": self.when.strftime("%Y-%m-%d"),
            "reason": self.reason,
            "adjusted_amount": as_number(self.amount),
            "transaction_status": self.status,
            "closing_balance": as_number(self.closing),
        }


class Ledger:
    """The wallet: a balance and the paymentHistory rows that explain it."""

    def __init__(self, opening: Decimal, now: datetime) -> None:
        self.balance = Decimal(0)
        self.rows: list[LedgerRow] = []
        # The account was funded before the day's work: an audit of today sees no top-up
        # it did not make (/_sim/topup makes one).
        self.credit(opening, "Funds added", now - OPENING_FUNDS_AGE)

    def credit(
        self,
        amount: Decimal,
        reason: str,
        now: datetime,
        order_id: int | None = None,
        status: str = "Complete",
    ) -> None:
        self.balance += amount
        self.rows.append(
            LedgerRow(now, reason, amount, self.balance, status, order_id=order_id, credit=True)
        )

    def debit(
        self, amount: Decimal, reason: str, now: datetime, order_id: int | None = None
    ) -> None:
        self.balance -= amount
        self.rows.append(LedgerRow(now, reason, amount, self.balance, order_id=order_id))

    def amend_charge(self, order_id: int, amount: Decimal) -> bool:
        """Xoxoday's record of an order's charge changes after the fact (the audit's "charge
        mismatch"): its debit row says `amount`, the balance and later closings follow."""
        for index, row in enumerate(self.rows):
            if row.order_id == order_id and not row.credit:
                self.balance -= amount - row.amount
                row.amount = amount
                closing = self.rows[index - 1].closing if index else Decimal(0)
                for later in self.rows[index:]:
                    closing += later.amount if later.credit else -later.amount
                    later.closing = closing
                return True
        return False


def settle(
    order: Order,
    status: str,
    ledger: Ledger,
    now: datetime,
    cancelled_quantity: int = 0,
    refund_status: str = "Cancelled",
) -> None:
    """Finish an open order: delivered (vouchers appear; `cancelled_quantity` units of a
    multi-unit order cancelled and their share refunded), or canceled / refunded / failed
    (the whole charge refunded). A refund is a "Refunded" row with `refund_status`
    (documented: "Cancelled", xoxoday-api.md §4)."""
    order.order_status = "complete"
    if status == DELIVERED:
        cancelled = min(max(cancelled_quantity, 0), order.quantity - 1)
        order.delivery_status = DELIVERED
        order.delivered_at = now
        order.cancelled_quantity = cancelled
        if order.product.voucher_type:
            order.vouchers = make_vouchers(order.product, order.quantity - cancelled, now)
        if cancelled:
            share = cents(order.amount_charged * cancelled / order.quantity)
            ledger.credit(share, "Refunded", now, order.order_id, refund_status)
        return
    order.cancelled_quantity = order.quantity
    order.vouchers = []
    for row in ledger.rows:
        if row.order_id == order.order_id:
            row.status = "Cancelled"
    ledger.credit(order.amount_charged, "Refunded", now, order.order_id, refund_status)
    if status == REFUNDED:
        order.order_status, order.delivery_status = REFUNDED, CANCELED
    elif status == FAILED:
        order.order_status, order.delivery_status = FAILED, FAILED
    else:
        order.delivery_status = CANCELED


def utcnow() -> datetime:
    return datetime.now(UTC)
