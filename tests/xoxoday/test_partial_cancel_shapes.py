"""A partial cancel as Xoxoday may show it (xoxoday-api.md §13 row 4): with cancelledQuantity,
or only in productStatus. Both read alike, as data (the answers as the client parses them)."""

from __future__ import annotations

from typing import Any

import pytest

from services.xoxoday.models import Order


def answer(quantity: int, rows: list[dict[str, Any]], codes: int, **extra: Any) -> Order:
    return Order.model_validate(
        {
            "orderId": 1,
            "orderStatus": "complete",
            "deliveryStatus": "delivered",
            "quantity": quantity,
            "vouchers": [{"voucherCode": f"C-{n}", "type": "code"} for n in range(codes)],
            "voucherDetails": rows,
            **extra,
        }
    )


def row(status: str, **extra: Any) -> dict[str, Any]:
    return {"productId": 27222, "productStatus": status, **extra}


@pytest.mark.parametrize(
    ("quantity", "rows", "codes", "state", "cancelled"),
    [
        # the documented field: cancelledQuantity
        (3, [row("delivered", cancelledQuantity=1)], 2, "delivered", 1),
        # only in productStatus, a row per unit
        (3, [row("delivered"), row("delivered"), row("Cancelled")], 2, "delivered", 1),
        (3, [row("delivered"), row("cancelled"), row("Cancelled")], 1, "delivered", 2),
        # only in productStatus, one row said cancelled beside the codes that came
        (4, [row("Cancelled")], 3, "delivered", 1),
        # every unit cancelled, a row each: the whole order comes back
        (2, [row("Cancelled"), row("Cancelled")], 0, "canceled", 2),
        # nothing cancelled
        (3, [row("delivered")], 3, "delivered", 0),
        # a cancelled row with no codes and no count: nothing says how many
        (3, [row("Cancelled")], 0, "delivered", 0),
    ],
)
def test_a_partial_cancel_is_read_from_either_shape(
    quantity: int, rows: list[dict[str, Any]], codes: int, state: str, cancelled: int
) -> None:
    outcome = answer(quantity, rows, codes).outcome
    assert (outcome.state, outcome.cancelled_quantity) == (state, cancelled)
