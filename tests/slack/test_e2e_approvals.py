"""Approvals, status in the channel, DMs and delivery, end to end over loopback."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from bot.local import APPROVAL_CHANNEL, LocalStack
from storage import orders as order_store
from storage import requests as request_store
from tests.support import SimControl, wait_for


def channel_texts(stack: LocalStack, channel: str) -> list[str]:
    return [stack.slack.plain_text(m) for m in stack.slack.messages(channel)]


def everything_said(stack: LocalStack, user: str) -> str:
    """All a user can read: channel messages, their DMs and ephemerals (with edit history)."""
    parts = [str(m) for m in stack.slack.messages() if not str(m["channel"]).startswith("D")]
    parts += [str(m) for m in stack.slack.dms(user)] + [
        str(e) for e in stack.slack.ephemerals(user)
    ]
    return "\n".join(parts)


def request_state(stack: LocalStack, request_id: int = 1) -> str:
    request = request_store.get(stack.bot.runtime.database, request_id)
    assert request is not None
    return request.state


def order_states(stack: LocalStack, request_id: int = 1) -> list[str]:
    return [o.state for o in order_store.for_request(stack.bot.runtime.database, request_id)]


def test_approve_updates_in_place_places_orders_and_sends_codes_only_to_recipients(
    stack: LocalStack, xo: SimControl
) -> None:
    stack.request("UREQUESTER", ["UANA", "UBEN"], message="Thanks for the launch!")
    approval = stack.approval_message("R-1")
    response = stack.driver.click("UAPPROVER", "approve_request", message=approval)
    assert response.status_code == 200

    wait_for(lambda: order_states(stack) == ["delivered", "delivered"])
    # The notifier edits the ask from the approval's event, on the worker's next round.
    updated = wait_for(
        lambda: (m := stack.slack.message(approval["channel"], approval["ts"])) and m["edits"] and m
    )
    assert updated is not None and updated["edits"]  # updated in place, not a new message
    text = stack.slack.plain_text(updated)
    assert (
        "Approved by <@UAPPROVER>" in text
        and "Approve" not in text.split("Approved by")[0].split("\n")[-1]
    )
    assert all(b["type"] != "actions" for b in updated["blocks"])

    # The status message where /reward was typed ends as done, with a thread of the changes.
    wait_for(lambda: any("Done: all 2 delivered" in t for t in channel_texts(stack, "CREWARDS")))

    def thread_text() -> str:
        thread = [m for m in stack.slack.messages("CREWARDS") if m.get("thread_ts")]
        return "\n".join(stack.slack.plain_text(m) for m in thread)

    wait_for(
        lambda: "Delivered to <@UANA>" in thread_text() and "Delivered to <@UBEN>" in thread_text()
    )
    assert "Approved by <@UAPPROVER>" in thread_text()

    # DMs: the requester hears about the decision and the end; each recipient gets a code.
    wait_for(
        lambda: any(
            "is complete" in stack.slack.plain_text(m) for m in stack.slack.dms("UREQUESTER")
        )
    )
    for person in ("UANA", "UBEN"):
        wait_for(
            lambda p=person: any(
                "Code: `DEMO-" in stack.slack.plain_text(m) for m in stack.slack.dms(p)
            )
        )
    codes = [o["vouchers"][0] for o in xo.orders()]
    assert len(codes) == 2
    for code in codes:
        assert code not in everything_said(stack, "UREQUESTER")
        assert code not in everything_said(stack, "UAPPROVER")
    ana_code = next(c for c in codes if c in everything_said(stack, "UANA"))
    assert ana_code not in everything_said(stack, "UBEN")


def test_non_approver_and_requester_clicks_are_refused_and_change_nothing(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack(rewards_approvers=["UAPPROVER", "UREQUESTER"])
    stack.request("UREQUESTER", ["UANA"])
    approval = stack.approval_message("R-1")
    stack.driver.click("UOTHER", "approve_request", message=approval)
    stack.driver.click(
        "UREQUESTER", "approve_request", message=approval
    )  # an approver, but their own
    stack.driver.click("UOTHER", "reject_request", message=approval)
    wait_for(
        lambda: len(stack.slack.ephemerals("UOTHER")) == 2 and stack.slack.ephemerals("UREQUESTER")
    )
    assert (
        stack.slack.ephemerals("UOTHER")[0]["text"]
        == "Only the configured approvers can approve or reject rewards."
    )
    assert (
        stack.slack.ephemerals("UREQUESTER")[0]["text"]
        == "You cannot approve or reject your own request."
    )
    assert request_state(stack) == "pending_approval"
    current = stack.slack.message(approval["channel"], approval["ts"])
    assert current is not None and not current["edits"]
    assert not stack.slack.calls("views.open")[1:]  # no reject form for someone who may not reject


def test_an_approver_cannot_approve_a_reward_paid_to_themselves(
    stack: LocalStack, xo: SimControl
) -> None:
    # Anyone may ask for a gift card for an approver; that approver must not be the one to
    # approve it (and receive the code), nor reject it.
    stack.request("UREQUESTER", ["UAPPROVER"])
    approval = stack.approval_message("R-1")
    stack.driver.click("UAPPROVER", "approve_request", message=approval)
    stack.driver.click("UAPPROVER", "reject_request", message=approval)
    wait_for(lambda: len(stack.slack.ephemerals("UAPPROVER")) == 2)
    assert {e["text"] for e in stack.slack.ephemerals("UAPPROVER")} == {
        "You cannot approve or reject a request that rewards you."
    }
    assert request_state(stack) == "pending_approval"
    assert not stack.slack.calls("views.open")[1:]  # no reject form either
    stack.driver.click("UAPPROVER2", "approve_request", message=approval)
    wait_for(lambda: order_states(stack) == ["delivered"])
    assert xo.calls("placeOrder") == 1


def test_a_csv_recipient_cannot_approve_by_their_slack_email(stack: LocalStack) -> None:
    from services.bulk import import_csv

    csv = "productId,denomination,email\n27222,25,ALEX@example.com\n"  # UAPPROVER's email
    import_csv(stack.bot.runtime.rewards, csv, "ops-alice", needs_approval=True)
    approval = stack.approval_message("R-1")
    stack.driver.click("UAPPROVER", "approve_request", message=approval)
    wait_for(lambda: stack.slack.ephemerals("UAPPROVER"))
    assert stack.slack.ephemerals("UAPPROVER")[0]["text"] == (
        "You cannot approve or reject a request that rewards you."
    )
    assert request_state(stack) == "pending_approval"
    stack.driver.click("UAPPROVER2", "approve_request", message=approval)
    wait_for(lambda: request_state(stack) == "approved")


def test_the_reject_reason_reaches_the_requester_only(stack: LocalStack) -> None:
    reason = "Ben already got one from another team"
    stack.request("UREQUESTER", ["UANA", "UBEN"])
    approval = stack.approval_message("R-1")
    since = len(stack.slack.calls())
    stack.driver.click("UAPPROVER", "reject_request", message=approval)
    view_id = stack.slack.wait_for("views.open", since=since).response["view"]["id"]
    stack.driver.fill(view_id, "reason", "reason", reason)
    assert stack.driver.submit("UAPPROVER", view_id).text == ""
    wait_for(lambda: any(reason in str(m) for m in stack.slack.dms("UREQUESTER")))
    wait_for(lambda: any("Rejected by <@UAPPROVER>" in t for t in channel_texts(stack, "CREWARDS")))
    wait_for(
        lambda: any(
            "Rejected by <@UAPPROVER>" in stack.slack.plain_text(m)
            for m in stack.slack.messages("CREWARDS")
            if m.get("thread_ts")
        )
    )
    # The channel where /reward was typed, its thread and the approval channel say
    # "rejected" and nothing more; no one but the requester reads the reason.
    for person in ("UANA", "UBEN", "UAPPROVER2", "UOTHER"):
        assert reason not in everything_said(stack, person), person
    assert reason in everything_said(stack, "UREQUESTER")


def test_double_click_on_approve_places_one_order(stack: LocalStack, xo: SimControl) -> None:
    stack.request("UREQUESTER", ["UANA"])
    approval = stack.approval_message("R-1")
    first = stack.driver.click("UAPPROVER", "approve_request", message=approval)
    second = stack.driver.click(
        "UAPPROVER", "approve_request", message=approval
    )  # the same stale message
    third = stack.driver.click("UAPPROVER2", "approve_request", message=approval)
    assert {first.status_code, second.status_code, third.status_code} == {200}
    wait_for(lambda: order_states(stack) == ["delivered"])
    wait_for(
        lambda: (
            len(stack.slack.ephemerals("UAPPROVER")) + len(stack.slack.ephemerals("UAPPROVER2"))
            == 2
        )
    )
    refusals = [
        e["text"]
        for e in stack.slack.ephemerals("UAPPROVER") + stack.slack.ephemerals("UAPPROVER2")
    ]
    assert all(r == "R-1 is already approved by <@UAPPROVER>." for r in refusals)
    assert len(xo.orders()) == 1


def test_reject_asks_for_a_reason_and_tells_the_requester(stack: LocalStack) -> None:
    stack.request("UREQUESTER", ["UANA"])
    approval = stack.approval_message("R-1")
    since = len(stack.slack.calls())
    stack.driver.click("UAPPROVER", "reject_request", message=approval)
    opened = stack.slack.wait_for("views.open", since=since)
    view_id = opened.response["view"]["id"]
    empty = stack.driver.submit("UAPPROVER", view_id, enforce_required=False)
    assert empty.json() == {
        "response_action": "errors",
        "errors": {"reason": "Say why, so the requester knows."},
    }
    stack.driver.fill(view_id, "reason", "reason", "Not in this quarter's plan")
    assert stack.driver.submit("UAPPROVER", view_id).text == ""
    assert request_state(stack) == "rejected"
    assert order_states(stack) == ["withdrawn"]
    wait_for(
        lambda: (
            "Rejected by <@UAPPROVER>"
            in stack.slack.plain_text(stack.slack.message(approval["channel"], approval["ts"]))
        )
    )
    wait_for(
        lambda: any(
            "was rejected by <@UAPPROVER>: Not in this quarter's plan" in stack.slack.plain_text(m)
            for m in stack.slack.dms("UREQUESTER")
        )
    )


def test_wallet_shortfall_at_approval_is_explained_to_the_approver(
    stack: LocalStack, xo: SimControl
) -> None:
    stack.request("UREQUESTER", ["UANA"], amount="100")
    approval = stack.approval_message("R-1")
    xo.config(balance="50")
    stack.bot.runtime.wallet.invalidate()
    stack.driver.click("UAPPROVER", "approve_request", message=approval)
    wait_for(lambda: stack.slack.ephemerals("UAPPROVER"))
    text = stack.slack.ephemerals("UAPPROVER")[0]["text"]
    assert "The Xoxoday wallet has 50 USD available" in text and "top up the wallet first" in text
    assert request_state(stack) == "pending_approval"
    assert xo.calls("placeOrder") == 0


def test_auto_approved_request_skips_the_approvers(make_stack: Callable[..., LocalStack]) -> None:
    stack = make_stack(rewards_auto_approve_max="30", rewards_monthly_budget="500")
    stack.request("UREQUESTER", ["UCHO"], reward_type="charity", product_id=40001, amount="20")
    wait_for(lambda: order_states(stack) == ["delivered"])
    assert not stack.slack.messages(APPROVAL_CHANNEL)
    wait_for(lambda: any("Approved automatically" in t for t in channel_texts(stack, "CREWARDS")))
    wait_for(
        lambda: any(
            "was made in your name" in stack.slack.plain_text(m) for m in stack.slack.dms("UCHO")
        )
    )


def test_delayed_delivery_arrives_by_webhook_at_the_bots_endpoint(
    stack: LocalStack, xo: SimControl
) -> None:
    # Only the webhook may deliver it: the stand-in's poll (0.2 s, then doubling) could see
    # the delivery first on a busy machine, and the webhook would then rightly be ignored.
    stack.bot.runtime.delivery.poll_first_s = 3600
    stack.request(
        "UREQUESTER",
        ["UBEN"],
        reward_type="airmiles",
        product_id=15365,
        amount="50",
        extra={"loyalty_member_id": "EK-324523423"},
    )
    stack.driver.click("UAPPROVER", "approve_request", message=stack.approval_message("R-1"))
    wait_for(lambda: order_states(stack) == ["placed"])
    wait_for(
        lambda: any("on its way" in stack.slack.plain_text(m) for m in stack.slack.dms("UBEN"))
    )
    [order] = order_store.for_request(stack.bot.runtime.database, 1)
    sent = xo.deliver(order.po_number, "delivered")
    assert sent["webhook"]["status"] == 200  # the bot's /xoxoday/webhook took it
    wait_for(lambda: order_states(stack) == ["delivered"])
    received = stack.bot.runtime.database.one("SELECT outcome FROM webhooks")
    assert received == {"outcome": "applied"}
    wait_for(
        lambda: any(
            "credited to loyalty member `EK-324523423`" in stack.slack.plain_text(m)
            for m in stack.slack.dms("UBEN")
        )
    )


def test_webhook_with_a_wrong_key_is_refused_over_http(stack: LocalStack) -> None:
    body = b'{"id": 1, "data": {"poNumber": "X", "deliveryStatus": "delivered"}}'
    assert httpx.post(f"{stack.url}/xoxoday/webhook", content=body).status_code == 401
    wrong = httpx.post(f"{stack.url}/xoxoday/webhook", content=body, headers={"x-api-key": "nope"})
    assert wrong.status_code == 401


def test_failed_order_is_explained_in_the_thread_and_to_the_requester(stack: LocalStack) -> None:
    stack.request("UREQUESTER", ["UANA"], product_id=31006, amount="500")  # KYC not approved
    stack.driver.click("UAPPROVER", "approve_request", message=stack.approval_message("R-1"))
    wait_for(lambda: order_states(stack) == ["failed"])
    expected = "could not be placed: the account's KYC for this brand is not approved"
    wait_for(
        lambda: any(expected in stack.slack.plain_text(m) for m in stack.slack.dms("UREQUESTER"))
    )
    wait_for(
        lambda: any("failed: the account's KYC" in t for t in channel_texts(stack, "CREWARDS"))
    )


def test_many_recipients_show_progress_within_rate_limits(stack: LocalStack) -> None:
    people = [f"UP{n:02d}" for n in range(24)]
    for person in people:
        stack.slack.add_user(
            {
                "id": person,
                "name": person.lower(),
                "real_name": person,
                "profile": {"email": f"{person.lower()}@example.com"},
            }
        )
    stack.request("UREQUESTER", people, amount="10")
    stack.driver.click("UAPPROVER", "approve_request", message=stack.approval_message("R-1"))
    wait_for(lambda: set(order_states(stack)) == {"delivered"})
    wait_for(
        lambda: any("Done: all 24 delivered" in t for t in channel_texts(stack, "CREWARDS")),
    )
    status = next(m for m in stack.slack.messages("CREWARDS") if not m.get("thread_ts"))
    thread = [m for m in stack.slack.messages("CREWARDS") if m.get("thread_ts")]
    # Coalesced: far fewer edits and replies than the 48 order changes.
    assert len(status["edits"]) < 20
    assert len(thread) < 20
    assert "24 people" in stack.slack.plain_text(status)


def test_unexpected_failure_shows_a_reference_not_a_trace(
    stack: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    view_id = stack.open_form("UREQUESTER")
    stack.choose("UREQUESTER", view_id, "gift_card", 27222)
    stack.driver.fill(view_id, "denomination_choice", "denomination_choice", "10")
    stack.driver.fill(view_id, "recipients", "recipients", ["UANA"])
    database = Path(stack.bot.runtime.settings.rewards_db)
    # Nothing but the form's handler may touch the file while it is swapped: a thread that
    # opened it mid-swap made a fresh database there (and a -wal that outlived the restore).
    stack.bot.runtime.worker.stop()
    stack.bot.room.stop()
    stack.bot.runtime.database.close()
    files = lambda: set(database.parent.glob(database.name + "*"))  # noqa: E731
    saved = {p: p.read_bytes() for p in files()}
    broken = database.with_name("broken.db")
    broken.write_bytes(b"this is not a database any more" * 200)
    broken.replace(database)  # the disk failed under the bot (in one step: never an empty file)
    try:
        response = stack.driver.submit("UREQUESTER", view_id)
    finally:
        stack.bot.runtime.database.close()
        for path in files() - set(saved):
            path.unlink()
        for path, data in saved.items():
            path.write_bytes(data)
    body = response.json()
    assert response.status_code == 200 and body["response_action"] == "errors"
    [message] = body["errors"].values()
    assert message.startswith("Sorry, something went wrong (reference ")
    assert "Traceback" not in message and "sqlite" not in message.lower()
    reference = message.split("reference ")[1].split(")")[0]
    logged = [r for r in caplog.records if reference in r.getMessage()]
    assert (
        logged and logged[0].exc_info is not None
    )  # the trace is in the log, under that reference


def test_costs_are_in_the_wallet_currency(stack: LocalStack) -> None:
    stack.request("UREQUESTER", ["UANA"], product_id=31001, amount="1000")  # 1,000 INR
    text = stack.slack.plain_text(stack.approval_message("R-1"))
    assert "(1,000 INR)" in text and "12 USD" in text
    request = request_store.get(stack.bot.runtime.database, 1)
    assert (
        request is not None and request.total_cost == Decimal("12.00") and request.currency == "USD"
    )


def test_a_request_left_unapproved_by_a_stop_is_approved_at_the_next_start(
    xo: SimControl, fake_slack: object, tmp_path: Path
) -> None:
    from bot.local import start_local_stack
    from services.rewards import RewardSpec

    db = tmp_path / "restart.db"
    first = start_local_stack(
        db,
        sim=xo.running,
        slack=fake_slack,
        rewards_auto_approve_max="30",
        rewards_monthly_budget="500",
        xoxoday_rate_scale=0,
    )  # type: ignore[arg-type]
    # Recorded as auto-approvable, then the process stopped before approving it.
    created = first.bot.runtime.rewards.create(
        "UREQUESTER",
        [
            RewardSpec(
                product_id=40001,
                denomination=Decimal(10),
                email="cho@example.com",
                recipient_id="UCHO",
            )
        ],
    )
    assert created.auto_approvable
    first.stop()
    second = start_local_stack(
        db,
        sim=xo.running,
        slack=fake_slack,
        rewards_auto_approve_max="30",
        rewards_monthly_budget="500",
        xoxoday_rate_scale=0,
    )  # type: ignore[arg-type]
    try:
        wait_for(lambda: order_states(second) == ["delivered"])
    finally:
        second.stop()


def test_an_ask_whose_post_is_answered_after_the_approval_loses_its_buttons(
    stack: LocalStack,
) -> None:
    """The approval channel shows the ask at once, but Slack's answer (its ts) reaches the bot
    only after the approver clicked: the decision's redraw found no ask on record. A CI run met
    it: the ask kept Approve and Reject for a request approved and delivered."""
    stack.slack.hold_conversation(APPROVAL_CHANNEL, done_first=True)
    stack.request("UREQUESTER", ["UANA"])

    def shown() -> dict[str, Any] | None:
        asks = [m for m in stack.slack.messages(APPROVAL_CHANNEL) if "R-1" in m.get("text", "")]
        return asks[0] if asks else None

    ask = wait_for(shown)
    # (Counted just after the message is shown: waited for, not read at once.)
    wait_for(lambda: stack.slack.held_calls(APPROVAL_CHANNEL, done_first=True) == 1)
    stack.driver.click("UAPPROVER", "approve_request", message=ask)
    db = stack.bot.runtime.database
    wait_for(  # the decision's redraw of the asks has gone, with no ask on record yet
        lambda: db.scalar("SELECT COUNT(*) FROM slack_outbox WHERE key = 'asks:R1' AND pending = 0")
    )
    assert request_state(stack) != "pending_approval"
    stack.slack.release_conversation(APPROVAL_CHANNEL)

    def without_buttons() -> bool:
        now = stack.slack.message(ask["channel"], ask["ts"])
        return now is not None and all(b["type"] != "actions" for b in now["blocks"])

    wait_for(without_buttons)
    assert "Approved by <@UAPPROVER>" in stack.slack.plain_text(
        stack.slack.message(ask["channel"], ask["ts"])
    )
