"""Block Kit builders as plain data: no Slack, no mocks."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr

from handlers import ask_messages, dm_messages, replies
from handlers import messages as msg
from handlers.forms import RewardForm, read_form
from handlers.ids import Action, Block, Callback
from handlers.metadata import RejectModalMeta, RequestRef, RewardModalMeta
from handlers.views import PhoneNote, product_label, reject_modal, reward_modal
from services.reward_types import LOYALTY_ID
from services.xoxoday.models import Product, Voucher
from storage.models import OrderRow, RequestRow

NOW = "2026-11-22T10:00:00.000+00:00"

AMAZON = Product(
    productId=27222,
    name="Amazon.com eGift Card",
    currencyCode="USD",
    valueType="fixed_denomination",
    valueDenominations="10,25,50,100",
    orderQuantityLimit=10,
)
VISA = Product(
    productId=29877,
    name="Visa Virtual Prepaid",
    currencyCode="USD",
    valueType="open_value",
    minValue=5,
    maxValue=500,
)
UBER = Product(
    productId=31003,
    name="Uber Gift Card",
    currencyCode="USD",
    valueDenominations="15,25,50",
    isPhoneNumberMandatory=True,
)
MILES = Product(
    productId=15365,
    name="Emirates Skywards Miles",
    currencyCode="USD",
    valueDenominations="25,50,100",
    loyaltyName="Emirates Skywards",
)
PLAN = Product(
    productId=55133,
    name="Airtel ₹199 Prepaid Plan",
    currencyCode="INR",
    valueDenominations="199",
    parentProductId=55132,
)


def request(state: str = "pending_approval", **extra: Any) -> RequestRow:
    values: dict[str, Any] = {
        "id": 12,
        "requester_id": "UREQ",
        "source": "slack",
        "channel_id": "CCHAN",
        "message": "Thanks for the launch",
        "state": state,
        "total_cost": Decimal("49.00"),
        "currency": "USD",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(extra)
    return RequestRow(**values)


def order(n: int = 1, state: str = "pending_approval", **extra: Any) -> OrderRow:
    values: dict[str, Any] = {
        "id": n,
        "request_id": 12,
        "po_number": f"RB-20261122-{n:012X}",
        "state": state,
        "reward_type": "gift_card",
        "product_id": 27222,
        "product_name": "Amazon.com eGift Card",
        "denomination": Decimal(25),
        "product_currency": "USD",
        "cost_estimate": Decimal("24.50"),
        "recipient_id": f"U{n:04d}",
        "email": f"p{n}@example.com",
        "created_at": NOW,
        "updated_at": NOW,
    }
    values.update(extra)
    return OrderRow(**values)


def block_ids(view: dict[str, Any]) -> list[str]:
    return [b.get("block_id", b["type"]) for b in view["blocks"]]


def element(view: dict[str, Any], block_id: str) -> dict[str, Any]:
    return next(b["element"] for b in view["blocks"] if b.get("block_id") == block_id)


def all_text(blocks: list[dict[str, Any]]) -> str:
    return json.dumps(blocks, ensure_ascii=False)


# --- the /reward modal ----------------------------------------------------------------------------


def test_first_modal_is_a_gift_card_form_with_the_type_first() -> None:
    view = reward_modal(RewardModalMeta(channel_id="CCHAN"))
    assert view["callback_id"] == Callback.REWARD
    assert len(view["title"]["text"]) <= 24
    assert block_ids(view) == [
        Block.REWARD_TYPE,
        Block.PRODUCT,
        Block.RECIPIENTS,
        Block.MESSAGE,
        Block.NOTIFY,
    ]
    type_block = view["blocks"][0]
    assert type_block["dispatch_action"] is True
    assert element(view, Block.REWARD_TYPE)["initial_option"]["value"] == "gift_card"
    product = element(view, Block.PRODUCT)
    assert product["type"] == "external_select" and product["min_query_length"] == 0
    assert RewardModalMeta.load(view["private_metadata"]) == RewardModalMeta(channel_id="CCHAN")


@pytest.mark.parametrize(
    ("reward_type", "product", "expected"),
    [
        ("gift_card", AMAZON, [Block.DENOMINATION_CHOICE, Block.RECIPIENTS]),
        ("gift_card", VISA, [Block.DENOMINATION_AMOUNT, Block.RECIPIENTS]),
        ("gift_card", UBER, [Block.DENOMINATION_CHOICE, Block.RECIPIENTS, Block.PHONE]),
        ("airmiles", MILES, [Block.DENOMINATION_CHOICE, Block.RECIPIENTS, LOYALTY_ID.field]),
        (
            "topup",
            PLAN,
            [Block.DENOMINATION_CHOICE, Block.RECIPIENTS, Block.PHONE, Block.OPERATOR_CHECK],
        ),
        ("charity", VISA, [Block.DENOMINATION_AMOUNT, Block.RECIPIENTS]),
    ],
)
def test_the_form_follows_the_type_and_product(
    reward_type: str, product: Product, expected: list[str]
) -> None:
    view = reward_modal(
        RewardModalMeta(reward_type=reward_type, product_id=product.product_id), product=product
    )
    ids = block_ids(view)
    assert ids[:2] == [Block.REWARD_TYPE, Block.PRODUCT]
    assert ids[2:-2] == expected
    assert ids[-2:] == [Block.MESSAGE, Block.NOTIFY]


def test_fixed_products_offer_their_values_and_open_ones_a_bounded_number() -> None:
    fixed = element(
        reward_modal(RewardModalMeta(product_id=27222), product=AMAZON), Block.DENOMINATION_CHOICE
    )
    assert [o["value"] for o in fixed["options"]] == ["10", "25", "50", "100"]
    assert fixed["options"][1]["text"]["text"] == "25 USD"
    amount = element(
        reward_modal(RewardModalMeta(product_id=29877), product=VISA), Block.DENOMINATION_AMOUNT
    )
    assert amount["type"] == "number_input" and amount["is_decimal_allowed"] is True
    assert (amount["min_value"], amount["max_value"]) == ("5", "500")


def test_single_recipient_types_allow_one_person() -> None:
    view = reward_modal(RewardModalMeta(reward_type="topup"), RewardForm(recipients=["U1", "U2"]))
    recipients = element(view, Block.RECIPIENTS)
    assert recipients["max_selected_items"] == 1
    assert recipients["initial_users"] == ["U1"]
    assert "max_selected_items" not in element(reward_modal(RewardModalMeta()), Block.RECIPIENTS)


def test_what_was_typed_is_kept_when_the_form_changes() -> None:
    form = RewardForm(
        recipients=["UANA", "UBEN"],
        denomination="50",
        message="Well done",
        notify_email=True,
        details={"phone": "+919857535678"},
    )
    view = reward_modal(RewardModalMeta(product_id=27222), form, AMAZON)
    assert element(view, Block.RECIPIENTS)["initial_users"] == ["UANA", "UBEN"]
    assert element(view, Block.DENOMINATION_CHOICE)["initial_option"]["value"] == "50"
    assert element(view, Block.MESSAGE)["initial_value"] == "Well done"
    assert element(view, Block.NOTIFY)["initial_options"][0]["value"] == "yes"
    topup = reward_modal(
        RewardModalMeta(reward_type="topup", product_id=55133),
        form,
        PLAN,
        phone_note=PhoneNote("+919857535678", "Airtel"),
    )
    assert element(topup, Block.PHONE)["initial_value"] == "+919857535678"
    assert "📶 +919857535678 is on *Airtel*" in all_text(topup["blocks"])
    wrong = PhoneNote("+12125551234", "Verizon", mismatch=True, plan_operator="Airtel India")
    assert (
        wrong.mrkdwn() == "📶 +12125551234 is on *Verizon*, not Airtel India: pick a Verizon plan"
    )


def test_state_is_read_back_from_every_kind_of_input() -> None:
    state = {
        "values": {
            Block.REWARD_TYPE: {
                Action.REWARD_TYPE: {"type": "static_select", "selected_option": {"value": "topup"}}
            },
            Block.PRODUCT: {
                Action.PRODUCT: {"type": "external_select", "selected_option": {"value": "55133"}}
            },
            Block.DENOMINATION_CHOICE: {
                Action.DENOMINATION_CHOICE: {
                    "type": "static_select",
                    "selected_option": {"value": "199"},
                }
            },
            Block.RECIPIENTS: {
                Action.RECIPIENTS: {"type": "multi_users_select", "selected_users": ["UANA"]}
            },
            Block.PHONE: {Action.PHONE: {"type": "plain_text_input", "value": "+919857535678"}},
            Block.OPERATOR_CHECK: {
                Action.OPERATOR_CHECK: {"type": "checkboxes", "selected_options": []}
            },
            Block.MESSAGE: {Action.MESSAGE: {"type": "plain_text_input", "value": "  hi  "}},
            Block.NOTIFY: {
                Action.NOTIFY: {"type": "checkboxes", "selected_options": [{"value": "yes"}]}
            },
        }
    }
    form = read_form(state)
    assert form == RewardForm(
        reward_type="topup",
        product_id=55133,
        denomination="199",
        recipients=["UANA"],
        details={"phone": "+919857535678"},
        operator_check=False,
        message="hi",
        notify_email=True,
    )
    assert form.amount == Decimal(199)
    assert read_form({"values": {}}, "charity").reward_type == "charity"
    assert read_form(None).recipients == []


def test_product_labels_fit_slack() -> None:
    long = AMAZON.model_copy(update={"name": "A" * 90})
    assert len(product_label(long)) == 75
    assert product_label(VISA) == "Visa Virtual Prepaid (5–500 USD)"
    assert (
        product_label(PLAN, "Airtel India Prepaid")
        == "Airtel India Prepaid · Airtel ₹199 Prepaid Plan (199 INR)"
    )


def test_reject_modal_asks_for_a_reason() -> None:
    view = reject_modal(RejectModalMeta(request_id=12), "R-12")
    assert view["callback_id"] == Callback.REJECT
    assert block_ids(view) == [Block.REASON]
    assert RejectModalMeta.load(view["private_metadata"]).request_id == 12  # type: ignore[union-attr]
    assert RejectModalMeta.load("not json") is None


# --- messages -------------------------------------------------------------------------------------


def test_approval_message_has_who_whom_what_cost_and_buttons() -> None:
    text, blocks = ask_messages.approval_message(
        request(), [order(1), order(2)], budget=(Decimal(49), Decimal(200))
    )
    shown = all_text(blocks)
    assert "<@UREQ> has committed 49 USD of 200 USD this month" in shown
    assert (
        "R-12 needs approval" in shown
        and "<@UREQ> is sending *Amazon.com eGift Card* (25 USD) each to <@U0001> and <@U0002>"
        in shown
    )
    assert "49 USD" in shown
    actions = next(b for b in blocks if b["type"] == "actions")
    approve, reject = actions["elements"]
    assert (approve["action_id"], approve["style"]) == (Action.APPROVE, "primary")
    assert (reject["action_id"], reject["style"]) == (Action.REJECT, "danger")
    # The button names the request and when it was made (numbers can come back after a
    # restore: a click on an old ask must not decide a newer request with its number).
    assert RequestRef.load(approve["value"]) == RequestRef(request_id=12, made=request().created_at)
    assert text == "R-12 needs approval: 49 USD"


def test_decided_approval_message_replaces_the_buttons_with_the_decision() -> None:
    approved = request("approved", decided_by="UAPP", decided_at="2026-11-22T10:05:00+00:00")
    _, blocks = ask_messages.approval_message(approved, [order(1, "queued")])
    assert all(b["type"] != "actions" for b in blocks)
    assert "needs approval" not in all_text(blocks)
    assert "✅ Approved by <@UAPP> <!date^1795341900^" in all_text(blocks)
    rejected = request(
        "rejected", decided_by="UAPP", decided_at=NOW, decision_reason="no budget left"
    )
    _, blocks = ask_messages.approval_message(rejected, [order(1, "withdrawn")])
    # The reason is the requester's: their DM has it, a channel never does.
    assert "🚫 Rejected by <@UAPP>" in all_text(blocks) and "no budget left" not in all_text(blocks)


def test_status_shows_progress_for_many_recipients() -> None:
    orders = [order(n, "delivered") for n in range(1, 11)] + [
        order(n, "placed") for n in range(11, 13)
    ]
    orders += [order(n, "queued") for n in range(13, 40)] + [
        order(40, "failed", failure_reason="the product is out of stock")
    ]
    text, blocks = msg.status_message(
        request("approved", decided_by="UAPP", decided_at=NOW), orders
    )
    assert "In progress: 12 of 40 placed · 10 delivered · 1 failed" in text
    shown = all_text(blocks)
    assert "40 people" in shown
    assert shown.count("<@U00") <= msg.MAX_LISTED + 1  # no wall of 40 lines


def test_status_of_a_single_failed_order_says_why() -> None:
    failed = order(1, "failed", failure_reason="the account's KYC for this brand is not approved")
    text, blocks = msg.status_message(request("approved"), [failed])
    assert text == "Reward request R-12: ⚠️ Done: 0 of 1 placed · 1 failed"
    assert "KYC" in all_text(blocks)


def test_codes_go_only_into_the_recipients_message() -> None:
    voucher = Voucher(
        voucherCode=SecretStr("DEMO-1-ABCDEF"),
        pin=SecretStr("DEMO-PIN"),
        type="codePin",
        validity="2028-11-21",
    )
    link = Voucher(voucherCode=SecretStr("https://plum.gift/xyz"), type="url")
    text, blocks = dm_messages.recipient_delivered(
        order(1, "delivered"), request("approved"), [voucher, link]
    )[0]
    shown = all_text(blocks)
    assert (
        "`DEMO-1-ABCDEF`" in shown and "`DEMO-PIN`" in shown and "valid until 2028-11-21" in shown
    )
    assert "<https://plum.gift/xyz|Open your gift card>" in shown
    assert "DEMO" not in text  # the notification preview shows no code
    # Nothing else can carry a code: no other builder takes vouchers.
    for _, other in [
        msg.status_message(request("approved"), [order(1, "delivered")]),
        ask_messages.approval_message(request(), [order(1)]),
    ]:
        assert "DEMO" not in all_text(other)


def test_many_long_codes_are_all_shown_within_slacks_limits() -> None:
    """Ten link vouchers with long addresses: no code is cut, no block passes 3,000
    characters. 80 codes whose links are ~100 characters (13,849 characters of block text in
    one message before: Slack refuses past about 12,000, msg_blocks_too_long) and a thousand
    long codes go over several DMs, each under 11,000 characters of block text and 50 blocks,
    every code in exactly one of them."""
    links = [
        Voucher(voucherCode=SecretStr(f"https://plum.gift/{n:03d}{'x' * 400}"), type="url")
        for n in range(10)
    ]
    [(_, blocks)] = dm_messages.recipient_delivered(
        order(1, "delivered"), request("approved"), links
    )
    shown = all_text(blocks)
    assert all(v.voucher_code.get_secret_value() in shown for v in links)
    assert all(len(b["text"]["text"]) <= 3000 for b in blocks if b["type"] == "section")

    for count, size in ((80, 100), (1000, 250)):
        many = [
            Voucher(voucherCode=SecretStr(f"https://plum.gift/{n:04d}{'y' * size}"), type="url")
            for n in range(count)
        ]
        parts = dm_messages.recipient_delivered(order(1, "delivered"), request("approved"), many)
        assert len(parts) > 1
        for text, part in parts:
            assert len(part) <= 50 and msg.block_text_length(part) < 11_000
            assert len(text) <= 4000 and "plum.gift" not in text
        everything = "".join(all_text(part) for _, part in parts)
        assert all(everything.count(f"/{n:04d}y") == 1 for n in range(count))
        assert "Codes 1-" in all_text(parts[0][1]) and f"of {count}" in all_text(parts[-1][1])


@pytest.mark.parametrize(
    ("reward_type", "extra", "words"),
    [
        ("charity", {}, "was made in your name"),
        ("airmiles", {"details": {"loyalty_member_id": "EK-1"}}, "loyalty member `EK-1`"),
        ("topup", {"details": {"phone": "+919857535678"}}, "+919857535678 was topped up"),
    ],
)
def test_recipient_message_per_reward_type(
    reward_type: str, extra: dict[str, Any], words: str
) -> None:
    _, blocks = dm_messages.recipient_delivered(
        order(1, "delivered", reward_type=reward_type, **extra), request("approved"), []
    )[0]
    assert words in all_text(blocks)


def test_thread_lines_and_requester_updates() -> None:
    approved = request("approved", decided_by="UAPP", decided_at=NOW)
    failed = order(1, "failed", failure_reason="the product is out of stock")
    assert msg.event_line("order.failed", failed, approved, None) == (
        "❌ *Amazon.com eGift Card* (25 USD) for <@U0001> failed: the product is out of stock"
    )
    assert (
        msg.event_line("order.delivered", order(1, "delivered"), approved, None)
        == "✅ Delivered to <@U0001>"
    )
    assert msg.event_line("order.claimed", order(1), approved, None) is None
    assert dm_messages.requester_update("request.approved", approved, None, None) == (
        "✅ Your reward request R-12 was approved by <@UAPP>. The orders are being placed."
    )
    auto = request(
        "approved", decided_by="policy", auto_approved=True, decision_reason="at or below 50 USD"
    )
    assert "approved automatically" in (
        dm_messages.requester_update("request.approved", auto, None, None) or ""
    )


def test_help_mentions_balance_to_approvers_only() -> None:
    assert "balance" in replies.help_text(True)
    assert "balance" not in replies.help_text(False)


def test_csv_recipients_are_shown_by_email() -> None:
    csv_request = request(
        "approved", source="csv", requester_id="ops-alice", requester_name="ops-alice"
    )
    text, _ = msg.status_message(csv_request, [order(1, "queued", recipient_id=None)])
    assert "ops-alice is sending" in msg.summary(csv_request, [order(1, recipient_id=None)])
    assert "p1@example.com" in msg.summary(csv_request, [order(1, recipient_id=None)])
    assert text.startswith("Reward request R-12")
