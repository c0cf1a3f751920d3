"""Every status word Xoxoday may send about an order, mapped to what it means for us.

The one place where `orderStatus`, `deliveryStatus` and `productStatus` are read (reference
§4, §12 row 3 and §13 row 4: a partial cancel may show only in productStatus). Xoxoday
documents only `complete` for orderStatus and delivered/pending/canceled for delivery, but
its getOrderDetails field list and its internal order states (InProcess, Placed, Completed,
Cancelled, Refunded) show that `processing`,
`pending`, `failed`, `cancelled` and `refunded` exist, and deliveryStatus may be empty or
`failed`. Each value is either final (the order is over: delivered, or the money came back)
or waiting (look again later). A value seen nowhere in the docs is `unrecognised`: the
caller logs it and keeps polling, up to a cap, then raises an alert; never forever.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

Outcome = Literal["delivered", "pending", "canceled"]

# What a status word says. "ok" (orderStatus only) means the order itself is fine and its
# delivery status decides; "waiting" means nothing is final yet.
_Meaning = Literal["ok", "waiting", "delivered", "canceled", "refunded", "failed"]

ORDER_STATUS: dict[str, _Meaning] = {
    "complete": "ok",
    "completed": "ok",
    "success": "ok",
    "processing": "waiting",
    "pending": "waiting",
    "inprocess": "waiting",
    "in_process": "waiting",
    "in process": "waiting",
    "placed": "waiting",
    "cancelled": "canceled",
    "canceled": "canceled",
    "cancel": "canceled",
    "refunded": "refunded",
    "refund": "refunded",
    "failed": "failed",
    "failure": "failed",
}
# deliveryStatus, productStatus and orderProductStatus share one vocabulary.
DELIVERY_STATUS: dict[str, _Meaning] = {
    "delivered": "delivered",
    "complete": "delivered",
    "completed": "delivered",
    "pending": "waiting",
    "processing": "waiting",
    "inprocess": "waiting",
    "in_process": "waiting",
    "in process": "waiting",
    "cancelled": "canceled",
    "canceled": "canceled",
    "cancel": "canceled",
    "refunded": "refunded",
    "failed": "failed",
    "failure": "failed",
}

MONEY_BACK = frozenset({"canceled", "refunded", "failed"})
REASONS: dict[str, str] = {
    "canceled": "Xoxoday cancelled the delivery",
    "refunded": "Xoxoday refunded the order",
    "failed": "Xoxoday reports the order as failed",
}


def word(value: Any) -> str:
    """A status as one lowercase word; None and blanks are ""."""
    return "" if value is None else str(value).strip().lower()


@dataclass(frozen=True)
class DeliveryOutcome:
    """What an order's statuses add up to.

    `state` is delivered, pending or canceled (money back: cancelled, refunded or failed at
    Xoxoday, told apart by `reason`). `cancelled_quantity` counts units Xoxoday cancelled;
    with some but not all units cancelled the rest may still be delivered (a partial cancel).
    `unrecognised` lists status values this table does not know: the order is waiting.
    """

    state: Outcome
    reason: str | None = None
    cancelled_quantity: int = 0
    unrecognised: tuple[str, ...] = ()

    @property
    def final(self) -> bool:
        return self.state != "pending"


def outcome(
    order_status: Any,
    delivery_status: Any,
    product_statuses: list[Any] | tuple[Any, ...] = (),
    *,
    quantity: int | None = None,
    cancelled_quantity: int = 0,
) -> DeliveryOutcome:
    """The one rule: money-back words end the order, then delivery decides, else it waits.

    - orderStatus refunded / cancelled / failed ends the order whatever the delivery says.
    - Otherwise deliveryStatus decides; when it is empty, the products' statuses do
      (all cancelled -> canceled; any waiting -> waiting; delivered, with or without some
      cancelled -> delivered).
    - A cancelledQuantity equal to the quantity is a full cancel.
    - An unknown word anywhere (and no money-back word) keeps the order waiting, and so does
      an orderStatus still in progress (`processing`), whatever the delivery says.
    """
    unknown: list[str] = []
    order_word = word(order_status)
    order_meaning = ORDER_STATUS.get(order_word) if order_word else "ok"
    if order_meaning is None:
        unknown.append(f"orderStatus={order_word}")

    delivery_word = word(delivery_status)
    meanings: list[_Meaning] = []
    if delivery_word:
        meaning = DELIVERY_STATUS.get(delivery_word)
        if meaning is None:
            unknown.append(f"deliveryStatus={delivery_word}")
        else:
            meanings.append(meaning)
    else:
        for value in product_statuses:
            product_word = word(value)
            if not product_word:
                continue
            meaning = DELIVERY_STATUS.get(product_word)
            if meaning is None:
                unknown.append(f"productStatus={product_word}")
            else:
                meanings.append(meaning)

    if order_meaning in MONEY_BACK:
        return DeliveryOutcome("canceled", REASONS[order_meaning], cancelled_quantity)
    if meanings and all(m in MONEY_BACK for m in meanings):
        return DeliveryOutcome("canceled", REASONS[meanings[0]], cancelled_quantity)
    if quantity is not None and quantity > 0 and cancelled_quantity >= quantity:
        return DeliveryOutcome("canceled", REASONS["canceled"], cancelled_quantity)
    if unknown:
        return DeliveryOutcome("pending", None, cancelled_quantity, tuple(unknown))
    if order_meaning == "waiting" or not meanings or "waiting" in meanings:
        return DeliveryOutcome("pending", None, cancelled_quantity)
    # Delivered, or (products without an order-level status) some delivered and some
    # cancelled: a partial cancel, whose share comes back through cancelled_quantity.
    return DeliveryOutcome("delivered", None, cancelled_quantity)


def cancelled_units(
    product_statuses: list[Any] | tuple[Any, ...], quantity: int | None, delivered_codes: int = 0
) -> int:
    """Units of a partial cancel shown only in productStatus, without cancelledQuantity
    (reference §13 row 4), read as cancelledQuantity would be.

    With a row per unit (as many voucherDetails rows as the quantity), each money-back row is
    one unit; with one row saying cancelled beside delivered codes, the units without a code.
    0 when nothing says how many.
    """
    if not quantity or quantity < 2:
        return 0  # one unit: a cancel is the whole order, decided by `outcome`
    words = [word(value) for value in product_statuses]
    back = sum(1 for w in words if DELIVERY_STATUS.get(w) in MONEY_BACK)
    if not back:
        return 0
    if len(words) == quantity:
        return back
    if 0 < delivered_codes < quantity:
        return quantity - delivered_codes
    return 0


def webhook_outcome(delivery_status: Any) -> DeliveryOutcome:
    """A webhook carries only deliveryStatus (delivered|canceled, in either case)."""
    return outcome("", delivery_status)
