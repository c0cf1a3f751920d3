"""'Email my code again' as data: where the button is drawn (the recipient's reward DM, their
Home tab) and where it is not (no code, no email, not delivered, not the reader's)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import SecretStr

from handlers import dm_messages
from handlers.home_view import home_view
from handlers.metadata import OrderRef
from services.budget import BudgetView
from services.home import HomeData, Received
from services.xoxoday.models import Voucher
from tests.slack.test_blocks import order, request

CODE = Voucher(voucherCode=SecretStr("DEMO-1-ABCDEF"), type="code")


def buttons(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    found = [e for b in blocks if b["type"] == "actions" for e in b["elements"]]
    found += [b["accessory"] for b in blocks if "accessory" in b]
    return [e for e in found if e.get("action_id") == "resend_code"]


def test_the_reward_dm_ends_with_the_button_naming_its_order() -> None:
    delivered = order(3, "delivered")
    [(_, blocks)] = dm_messages.recipient_delivered(delivered, request("approved"), [CODE])
    assert blocks[-1]["type"] == "actions" and blocks[-1]["block_id"] == "resend:3"
    [button] = buttons(blocks)
    assert button["text"]["text"] == "Email my code again"
    assert OrderRef.load(button["value"]) == OrderRef(order_id=3, po_number=delivered.po_number)
    # Codes over several messages: the button once, under the last codes.
    many = [
        Voucher(voucherCode=SecretStr(f"C-{n:04d}{'z' * 250}"), type="code") for n in range(300)
    ]
    parts = dm_messages.recipient_delivered(delivered, request("approved"), many)
    assert len(parts) > 1 and [len(buttons(p)) for _, p in parts] == [0] * (len(parts) - 1) + [1]
    assert all(len(p) <= 50 for _, p in parts)


def test_no_button_without_a_code_or_an_email() -> None:
    for no in (order(1, "delivered", email=None), order(1, "delivered", reward_type="charity")):
        for _, blocks in dm_messages.recipient_delivered(no, request("approved"), []):
            assert buttons(blocks) == []


def home(reader: str, *orders: Any) -> list[dict[str, Any]]:
    data = HomeData(
        user_id=reader,
        budget=BudgetView(limit=None, committed=Decimal(0), held=Decimal(0), currency="USD"),
        requests=[],
        received=[Received(o, request("approved")) for o in orders],
    )
    return home_view(data)["blocks"]


def test_the_home_tab_offers_it_beside_the_readers_delivered_codes_only() -> None:
    mine = order(1, "delivered", recipient_id="UANA")
    on_its_way = order(2, "placed", recipient_id="UANA")
    blocks = home("UANA", mine, on_its_way)
    [button] = buttons(blocks)
    assert OrderRef.load(button["value"]).order_id == 1  # type: ignore[union-attr]
    assert [b["block_id"] for b in blocks if b.get("accessory")] == ["received:1"]
    assert buttons(home("UBEN", mine)) == []  # a Home built for someone else: no button
