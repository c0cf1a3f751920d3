"""Property-based bad input: slash-command text, modal submissions, CSV files, webhook bodies,
and forged Slack requests. Never a 5xx, always a clear answer, nothing recorded when refused."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.local import WEBHOOK_KEY, LocalStack
from handlers import mrkdwn as md
from services.bulk import AlreadyImported, BulkImportError, import_csv
from services.errors import RewardError
from storage import orders as order_store
from storage import requests as request_store
from tests.hostile import HOSTILE_TOKENS, hostile_text, mrkdwn_of, stray_markup
from tests.support import wait_for

EXAMPLES = settings(
    max_examples=40,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
USERS = ["UANA", "UBEN", "UNOMAIL", "UBOTUSER", "UREQUESTER", "UNOBODY", ""]
PRODUCTS = ["27222", "29877", "31003", "15365", "40001", "55133", "31007", "99999", "", "abc", "-1"]
AMOUNTS = ["10", "25", "0", "-5", "1e9", "NaN", "Infinity", "10.001", "", " 25 ", "1,000", "４２"]


@pytest.fixture
def bad_stack(make_stack: Any) -> LocalStack:
    return make_stack()


def counts(stack: LocalStack) -> tuple[int, int, int]:
    database = stack.bot.runtime.database
    return (
        database.scalar("SELECT COUNT(*) FROM requests"),
        database.scalar("SELECT COUNT(*) FROM orders"),
        database.scalar("SELECT COUNT(*) FROM webhooks"),
    )


@EXAMPLES
@given(
    text=st.one_of(
        st.text(max_size=120),
        hostile_text,
        hostile_text.map("status ".__add__),  # a reference that echoes what was typed
        hostile_text.map("cancel ".__add__),
    )
)
def test_any_command_text_gets_an_answer_and_records_nothing(
    bad_stack: LocalStack, text: str
) -> None:
    before = counts(bad_stack)
    response = bad_stack.driver.command("UOTHER", text)
    assert response.status_code == 200
    if text.strip():
        assert response.text.strip()  # help, a status, or a refusal: always words
    assert stray_markup(mrkdwn_of(answer_text(response))) == []  # what was typed stays inert
    assert counts(bad_stack) == before


def answer_text(response: httpx.Response) -> str:
    """A slash command's answer: JSON with `text`, or Bolt's plain-text body."""
    if response.headers.get("content-type", "").startswith("application/json"):
        return str(response.json().get("text", ""))
    return response.text


# What the bot sends to Slack that Slack renders as mrkdwn.
SHOWN = ("chat.postMessage", "chat.update", "chat.postEphemeral", "response_url", "views.open")


@settings(EXAMPLES, max_examples=6)
@given(message=hostile_text, reason=hostile_text, reject=st.booleans())
def test_hostile_text_reaches_every_post_and_dm_inert(
    bad_stack: LocalStack, message: str, reason: str, reject: bool
) -> None:
    """A hostile message (and reject reason) goes through /reward, the approval, the order and
    the delivery; nothing any person sees in the stand-in carries a live token they typed."""
    slack, database = bad_stack.slack, bad_stack.bot.runtime.database
    since = len(slack.calls())  # earlier examples ran on the same stack

    def posted() -> list[Any]:
        return [c for c in slack.calls()[since:] if c.method == "chat.postMessage"]

    assert bad_stack.request("UREQUESTER", ["UANA"], message=message).text == ""
    ref = f"R-{database.scalar('SELECT MAX(id) FROM requests')}"
    approval = bad_stack.approval_message(ref)
    request_id = int(ref[2:])
    if reject and reason.strip():
        opened = len(slack.calls())
        bad_stack.driver.click("UAPPROVER", "reject_request", message=approval)
        view_id = slack.wait_for("views.open", since=opened).response["view"]["id"]
        bad_stack.driver.fill(view_id, "reason", "reason", reason)
        assert bad_stack.driver.submit("UAPPROVER", view_id).text == ""
        wait_for(lambda: any("was rejected" in str(c.params.get("text")) for c in posted()))
    else:
        bad_stack.driver.click("UAPPROVER", "approve_request", message=approval)
        wait_for(lambda: request_store.get(database, request_id).state == "approved")  # type: ignore[union-attr]
        wait_for(lambda: any("Keep your code private" in json.dumps(c.params) for c in posted()))
    status = bad_stack.driver.command("UREQUESTER", f"status {ref}")
    shown = [c.params for c in slack.calls()[since:] if c.method in SHOWN]
    texts = [*mrkdwn_of(shown), answer_text(status)]
    first = message.strip().split("\n")[0][:5]
    assert any(md.escape(first) in t for t in texts)  # the message was shown, escaped
    joined = "\n".join(texts)
    assert [t for t in HOSTILE_TOKENS if t in joined] == []
    members = ("UREQUESTER", "UAPPROVER", "UANA")
    assert stray_markup(texts, members, ["https://stagingstores.plum.gift/"]) == []


def submission(view: dict[str, Any], values: dict[str, Any], metadata: str | None = None) -> bytes:
    state = {"values": values}
    shown = {**view, "state": state}
    if metadata is not None:
        shown["private_metadata"] = metadata
    payload = {
        "type": "view_submission",
        "team": {"id": "T0001"},
        "user": {"id": "UREQUESTER"},
        "api_app_id": "A0001",
        "trigger_id": "1.2.3",
        "view": shown,
        "response_urls": [],
    }
    return ("payload=" + quote(json.dumps(payload))).encode()


def option(value: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": value or "-"}, "value": value}


@EXAMPLES
@given(
    reward_type=st.sampled_from(["gift_card", "airmiles", "charity", "topup", "lounge", ""]),
    product=st.one_of(st.sampled_from(PRODUCTS), st.text(max_size=8)),
    amount=st.one_of(st.sampled_from(AMOUNTS), st.text(max_size=10)),
    recipients=st.lists(st.one_of(st.sampled_from(USERS), st.text(max_size=6)), max_size=4),
    phone=st.one_of(
        st.none(), st.sampled_from(["+919857535678", "+12125551234", "12345"]), st.text(max_size=16)
    ),
    loyalty=st.one_of(st.none(), st.text(max_size=70)),
    metadata=st.one_of(
        st.none(), st.text(max_size=40), st.just('{"reward_type":"topup","product_id":"x"}')
    ),
)
def test_any_modal_submission_gets_errors_or_a_sound_request(
    bad_stack: LocalStack,
    reward_type: str,
    product: str,
    amount: str,
    recipients: list[str],
    phone: str | None,
    loyalty: str | None,
    metadata: str | None,
) -> None:
    view = bad_stack.slack.view(bad_stack.open_form("UREQUESTER"))
    values: dict[str, Any] = {
        "reward_type": {
            "reward_type": {"type": "static_select", "selected_option": option(reward_type)}
        },
        "product": {"product": {"type": "external_select", "selected_option": option(product)}},
        "denomination_choice": {
            "denomination_choice": {"type": "static_select", "selected_option": option(amount)}
        },
        "recipients": {"recipients": {"type": "multi_users_select", "selected_users": recipients}},
        "phone": {"phone": {"type": "plain_text_input", "value": phone}},
        "loyalty_member_id": {"loyalty_member_id": {"type": "plain_text_input", "value": loyalty}},
    }
    before = counts(bad_stack)
    body = submission(view, values, metadata)
    response = bad_stack.driver.post_raw(body, bad_stack.driver.signed_headers(body))
    assert response.status_code == 200
    inputs = {b["block_id"] for b in view["blocks"] if b["type"] == "input"}
    if response.text:
        answer = response.json()
        assert answer["response_action"] == "errors"
        assert answer["errors"] and set(answer["errors"]) <= inputs  # Slack accepts only these
        assert all(
            isinstance(m, str) and m and "Traceback" not in m for m in answer["errors"].values()
        )
        assert counts(bad_stack) == before
    else:  # accepted: then it must really be orderable
        requests_after, orders_after, _ = counts(bad_stack)
        assert requests_after == before[0] + 1
        for order in order_store.recent(
            bad_stack.bot.runtime.database, limit=orders_after - before[1]
        ):
            _, found = bad_stack.bot.runtime.catalog.product(order.product_id)
            assert order.recipient_id in ("UANA", "UBEN")
            if not found.is_open_value:
                assert order.denomination in found.value_denominations


CSV_HEADER = "productId,denomination,email,contact,loyaltyMemberId,topupPhoneCode,topupPhoneNumber,quantity,tag,notifyReceiverEmail"


@EXAMPLES
@given(
    text=st.one_of(
        st.text(max_size=300),
        st.lists(
            st.lists(
                st.one_of(
                    st.sampled_from(PRODUCTS + AMOUNTS + ["a@example.com", "+91", "EK-1"]),
                    st.text(max_size=8),
                ),
                min_size=0,
                max_size=12,
            ),
            max_size=6,
        ).map(lambda rows: "\n".join([CSV_HEADER] + [",".join(r) for r in rows])),
    )
)
def test_any_csv_is_imported_whole_or_not_at_all(bad_stack: LocalStack, text: str) -> None:
    before = counts(bad_stack)
    refused: Exception | None = None
    try:
        decision = import_csv(bad_stack.bot.runtime.rewards, text, "ops-fuzz", needs_approval=True)
    except (BulkImportError, AlreadyImported, RewardError) as exc:
        refused = exc
    if refused is None:
        assert counts(bad_stack)[1] == before[1] + len(decision.orders)
        return
    assert counts(bad_stack) == before  # nothing of a refused file is recorded
    if isinstance(refused, BulkImportError):
        assert refused.errors and all(e.line >= 1 and e.message for e in refused.errors)


@EXAMPLES
@given(
    body=st.one_of(
        st.binary(max_size=200),
        st.recursive(
            st.one_of(
                st.none(),
                st.booleans(),
                st.integers(),
                st.floats(allow_nan=False),
                st.text(max_size=20),
            ),
            lambda children: (
                st.lists(children, max_size=4)
                | st.dictionaries(st.text(max_size=10), children, max_size=4)
            ),
            max_leaves=10,
        ).map(lambda v: json.dumps(v).encode()),
        st.fixed_dictionaries(
            {
                "id": st.one_of(st.integers(), st.text(max_size=45)),
                "data": st.fixed_dictionaries(
                    {
                        "poNumber": st.text(max_size=110),
                        "orderId": st.one_of(st.integers(), st.text(max_size=5)),
                        "deliveryStatus": st.sampled_from(
                            ["delivered", "Canceled", "pending", "", "weird"]
                        ),
                    }
                ),
            }
        ).map(lambda v: json.dumps(v).encode()),
    ),
    key=st.sampled_from([WEBHOOK_KEY, "", "wrong", WEBHOOK_KEY + "0", WEBHOOK_KEY[:-1]]),
)
def test_any_webhook_body_is_answered_without_a_5xx(
    bad_stack: LocalStack, body: bytes, key: str
) -> None:
    before = counts(bad_stack)
    response = httpx.post(
        f"{bad_stack.url}/xoxoday/webhook", content=body, headers={"x-api-key": key}
    )
    if key != WEBHOOK_KEY:
        assert response.status_code == 401
        assert counts(bad_stack) == before
    else:
        assert response.status_code in (200, 400)
        assert response.json()  # a reason, always
    assert counts(bad_stack)[:2] == before[:2]  # no request or order appears or changes


@EXAMPLES
@given(
    body=st.binary(max_size=300),
    signature=st.one_of(
        st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=70),
        st.just("v0=" + "a" * 64),
    ),
    age=st.integers(min_value=-10_000, max_value=10_000),
)
def test_forged_and_replayed_slack_requests_are_refused(
    bad_stack: LocalStack, body: bytes, signature: str, age: int
) -> None:
    before = counts(bad_stack)
    forged = {
        "Content-Type": "application/x-www-form-urlencoded",
        "X-Slack-Request-Timestamp": str(int(time.time()) - age),
        "X-Slack-Signature": signature,
    }
    assert bad_stack.driver.post_raw(body, forged).status_code == 401
    text = body.decode("utf-8", errors="replace").encode()  # Slack signs text
    stale = bad_stack.driver.signed_headers(text, timestamp=int(time.time()) - 301 - abs(age))
    assert bad_stack.driver.post_raw(text, stale).status_code == 401  # a real signature, replayed
    assert counts(bad_stack) == before
