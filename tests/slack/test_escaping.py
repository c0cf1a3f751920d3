"""Every Block Kit builder fed hostile text: nothing a person or Xoxoday wrote is live mrkdwn.

Slack's rule: `&`, `<`, `>` in text not meant as markup become entities
(https://api.slack.com/reference/surfaces/formatting#escaping). The builders are pure, so each
is called with hostile values in every text field and its output searched for live markup.
"""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest
from pydantic import SecretStr
from slack_bolt import BoltResponse

from handlers import ask_messages, dm_messages, replies
from handlers import messages as msg
from handlers import mrkdwn as md
from handlers.errors import handle_error, refusal_text
from handlers.metadata import RejectModalMeta, RewardModalMeta
from handlers.views import PhoneNote, reject_modal, reward_modal
from services.errors import InvalidReward, RequestNotPending
from services.xoxoday.models import Voucher
from storage.models import OrderRow, RequestRow
from tests.hostile import HOSTILE, HOSTILE_TOKENS, mrkdwn_of, stray_markup
from tests.slack.test_blocks import NOW, PLAN, order, request

MEMBERS = ("UREQ", "UAPP", *(f"U{n:04d}" for n in range(1, 13)))
REWARD_LINK = "https://plum.gift/"


def assert_inert(*outputs: Any) -> None:
    texts = [t for output in outputs for t in mrkdwn_of(output)]
    assert texts, "the builder produced no mrkdwn at all"
    joined = "\n".join(texts)
    for token in HOSTILE_TOKENS:
        assert token not in joined, token
    assert stray_markup(texts, MEMBERS, [REWARD_LINK]) == []


def hostile_request(state: str = "approved", **extra: Any) -> RequestRow:
    values: dict[str, Any] = {
        "message": HOSTILE,
        "decided_by": "UAPP",
        "decided_at": NOW,
        "decision_reason": HOSTILE,
    }
    values.update(extra)
    return request(state, **values)


def hostile_order(n: int = 1, state: str = "delivered", **extra: Any) -> OrderRow:
    values: dict[str, Any] = {
        "product_name": HOSTILE,
        "product_currency": "U<b>",
        "recipient_name": HOSTILE,
        "failure_reason": HOSTILE,
        "details": {"phone": HOSTILE, "loyalty_member_id": HOSTILE},
    }
    values.update(extra)
    return order(n, state, **values)


CSV_ORDER = {"recipient_id": None, "email": HOSTILE}
REQUESTS = [
    hostile_request("pending_approval", decided_by=None, decision_reason=None),
    hostile_request("approved"),
    hostile_request("approved", auto_approved=True, decided_by="policy"),
    hostile_request("rejected"),
    hostile_request("cancelled", decided_by="UREQ"),
    hostile_request("approved", source="csv", requester_id=HOSTILE, requester_name=HOSTILE),
    hostile_request("approved", requester_id=HOSTILE),  # not a member id: shown as text
]
ORDER_SETS = [
    [hostile_order(1, "failed")],
    [hostile_order(1, "delivered"), hostile_order(2, "failed", **CSV_ORDER)],
    [hostile_order(n, state) for n, state in enumerate(msg.ORDER_WORDS, start=1)],
]


@pytest.mark.parametrize("req", REQUESTS, ids=lambda r: f"{r.state}-{r.source}")
@pytest.mark.parametrize("orders", ORDER_SETS, ids=len)
def test_request_messages_are_inert(req: RequestRow, orders: list[OrderRow]) -> None:
    assert_inert(
        msg.status_message(req, orders),
        ask_messages.approval_message(
            req, orders, budget=(Decimal(10), Decimal(100)), note=HOSTILE
        ),
        replies.status_text(req, orders, whole=True),
        replies.status_text(req, orders[:1], whole=False),
        msg.summary(req, orders),
        dm_messages.request_complete(req, orders),
        replies.history_text([req, req.model_copy(update={"currency": HOSTILE})]),
        [msg.order_line(o) for o in orders],
    )


@pytest.mark.parametrize(
    "kind",
    [
        "request.approved",
        "request.rejected",
        "request.cancelled",
        "request.needs_approval",
        "order.placed",
        "order.delivered",
        "order.failed",
        "order.canceled",
    ],
)
@pytest.mark.parametrize("extra", [{}, CSV_ORDER], ids=["slack", "csv"])
def test_thread_lines_and_requester_updates_are_inert(kind: str, extra: dict[str, Any]) -> None:
    req, one = hostile_request("rejected"), hostile_order(1, "placed", **extra)
    outputs = [
        msg.event_line(kind, one, req, HOSTILE),
        dm_messages.requester_update(kind, req, one, HOSTILE),
        dm_messages.recipient_on_its_way(one, req),
    ]
    assert_inert(*[o for o in outputs if o is not None])


@pytest.mark.parametrize("reward_type", ["gift_card", "charity", "airmiles", "topup"])
def test_the_recipients_dm_is_inert_around_real_codes(reward_type: str) -> None:
    vouchers = [
        Voucher(
            voucherCode=SecretStr("DEMO-<!channel>-`x`"),
            pin=SecretStr("<@UEVIL01>"),
            type="codePin",
            validity=HOSTILE,
        ),
        Voucher(voucherCode=SecretStr("https://plum.gift/AbC123"), type="url"),
        # A "link" voucher whose URL would smuggle a label or is not http(s): shown as code.
        Voucher(
            voucherCode=SecretStr("https://evil.example|Claim your gift card here"), type="url"
        ),
        Voucher(voucherCode=SecretStr("javascript:alert(1)"), type="url"),
    ]
    text, blocks = dm_messages.recipient_delivered(
        hostile_order(1, reward_type=reward_type), hostile_request(), vouchers
    )[0]
    assert_inert(text, blocks)
    shown = "\n".join(mrkdwn_of(blocks))
    assert "<https://plum.gift/AbC123|Open your gift card>" in shown  # the real link stays live
    assert "`https://evil.example|Claim your gift card here`" in shown  # shown, not clickable


def test_alerts_balance_and_refusals_are_inert() -> None:
    assert_inert(
        msg.alert_message(HOSTILE),
        replies.balance_text(Decimal(10), Decimal(2), HOSTILE),
        refusal_text(InvalidReward(HOSTILE)),
        refusal_text(RequestNotPending(HOSTILE, state="approved", decided_by=HOSTILE)),
        refusal_text(
            RequestNotPending("R-1 is already approved", state="approved", decided_by="UAPP")
        ),
    )
    assert (
        refusal_text(
            RequestNotPending("R-1 is already approved", state="approved", decided_by="UAPP")
        )
        == "R-1 is already approved by <@UAPP>."
    )


def test_modals_escape_mrkdwn_and_leave_plain_text_as_typed() -> None:
    note = PhoneNote(HOSTILE, HOSTILE, mismatch=True, plan_operator=HOSTILE)
    view = reward_modal(
        RewardModalMeta(reward_type="topup", product_id=55133), None, PLAN, phone_note=note
    )
    assert_inert(view["blocks"])
    # plain_text only: Slack does not parse it, so there is nothing to escape
    reject = reject_modal(RejectModalMeta(request_id=1), "R-1")
    assert list(mrkdwn_of(reject["blocks"])) == []


def test_an_error_answer_to_a_command_is_inert_and_a_modal_error_is_plain() -> None:
    failed = BoltResponse(status=500, body="")
    answer = handle_error(InvalidReward(HOSTILE), {"command": "/reward"}, None, failed)  # type: ignore[arg-type]
    assert answer is not None
    assert_inert(json.loads(answer.body)["text"])
    view = {"blocks": [{"type": "input", "block_id": "reason"}]}
    answer = handle_error(
        InvalidReward("<b> & co"),
        {"type": "view_submission", "view": view},
        None,
        failed,  # type: ignore[arg-type]
    )
    assert answer is not None
    # Inline modal errors are plain text in Slack: shown as written, so not escaped.
    assert json.loads(answer.body)["errors"] == {"reason": "<b> & co"}


def test_escape_mention_link_and_code() -> None:
    assert md.escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert md.escape("&amp;") == "&amp;amp;"  # what was typed is shown as typed
    assert md.mention("UAPPROVER") == "<@UAPPROVER>"
    assert md.mention("U1>|<!channel") == "U1&gt;|&lt;!channel"
    assert md.mention(None) == "someone"
    assert (
        md.link("https://plum.gift/x?a=1&b=2", "Open") == "<https://plum.gift/x?a=1&amp;b=2|Open>"
    )
    for bad in ("javascript:alert(1)", "https://a|b", "https://a b", "https://a>", "ftp://a"):
        assert md.link(bad, "Open") is None, bad
    assert md.code("a`b<c>") == "`aˋb&lt;c&gt;`"
    assert md.quote("one\n<!here>") == "> one\n> &lt;!here&gt;"
