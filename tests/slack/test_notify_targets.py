"""Notifications are retried per target: a DM that fails never repeats a channel post or a
thread reply already made, and a person or channel Slack says can never be reached is given
up once, with one log line and one note to the requester."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.local import APPROVAL_CHANNEL, LocalStack
from handlers.messages import TEXT_MAX as REPLY_MAX
from handlers.messages import replies as _replies
from services.bulk import import_csv
from services.notify import Steps
from simulator.slack.users import make_user
from storage import orders as order_store
from storage.db import Database
from storage.migrations import migrate
from tests.support import SimControl, cli_env, rewards_bot, wait_for


@pytest.fixture
def fast_retries(stack: LocalStack) -> LocalStack:
    """A failed notification comes back at once, not after 5 s."""
    stack.bot.room.retry_first_s = 0.05
    return stack


def order_states(stack: LocalStack) -> list[str]:
    return [o.state for o in order_store.for_request(stack.bot.runtime.database, 1)]


def nothing_owed(stack: LocalStack) -> bool:
    """Nothing owed to Slack: every event handed over, nothing waiting to be sent."""
    return stack.bot.room.idle()


def thread_lines(stack: LocalStack, channel: str = "CREWARDS") -> Counter[str]:
    replies = [m for m in stack.slack.messages(channel) if m.get("thread_ts")]
    return Counter(line for m in replies for line in m["text"].split("\n"))


def texts(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages]


def complete(stack: LocalStack, user: str = "UREQUESTER") -> bool:
    return any("is complete" in t for t in texts(stack.slack.dms(user)))


def test_a_deactivated_recipient_is_given_up_once(
    fast_retries: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    stack = fast_retries
    caplog.set_level(logging.WARNING)
    stack.request("UREQUESTER", ["UANA", "UBEN"])
    approval = stack.approval_message("R-1")
    stack.slack.deactivate_user("UANA")  # Ana leaves before her reward arrives
    stack.driver.click("UAPPROVER", "approve_request", message=approval)

    wait_for(lambda: order_states(stack) == ["delivered", "delivered"])
    # The "complete" DM reads the database, which can be ahead of the thread's batched lines.
    shown = lambda: all(  # noqa: E731
        thread_lines(stack)[f"✅ Delivered to <@{u}>"] for u in ("UANA", "UBEN")
    )
    wait_for(lambda: complete(stack) and shown() and nothing_owed(stack))

    lines = thread_lines(stack)
    assert lines["✅ Delivered to <@UANA>"] == 1 and lines["✅ Delivered to <@UBEN>"] == 1
    assert all(n == 1 for n in lines.values()), lines  # each update once
    notes = [t for t in texts(stack.slack.dms("UREQUESTER")) if "cannot message" in t]
    assert notes == [
        "⚠️ I cannot message <@UANA> about your reward request R-1: their Slack account is "
        "deactivated. The request itself goes on."
    ]
    about_ana = [r for r in caplog.records if "UANA" in r.getMessage()]
    assert len(about_ana) == 1, [r.getMessage() for r in about_ana]
    assert "giving up" in about_ana[0].getMessage() and "user_disabled" in about_ana[0].getMessage()
    assert any("Code:" in str(m) for m in stack.slack.dms("UBEN"))  # Ben still got his


def test_an_unreachable_requester_is_told_in_the_channel_thread(
    fast_retries: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    stack = fast_retries
    caplog.set_level(logging.WARNING)
    stack.request("UREQUESTER", ["UBEN"])
    approval = stack.approval_message("R-1")
    stack.slack.deactivate_user("UREQUESTER")
    stack.driver.click("UAPPROVER", "approve_request", message=approval)

    wait_for(lambda: order_states(stack) == ["delivered"])
    shown_done = lambda: any(  # noqa: E731
        "✅ Delivered" in stack.slack.plain_text(m) for m in stack.slack.messages("CREWARDS")
    )
    wait_for(lambda: nothing_owed(stack) and shown_done())
    notes = [line for line in thread_lines(stack) if "cannot message" in line]
    assert notes == [
        "⚠️ I cannot message <@UREQUESTER> about R-1: their Slack account is deactivated. "
        "Updates stay in this thread."
    ]
    about = [r for r in caplog.records if "UREQUESTER" in r.getMessage()]
    assert len(about) == 1 and "giving up" in about[0].getMessage()


def test_a_status_shown_in_a_dm_is_known_by_its_person_not_its_opaque_channel_id(
    fast_retries: LocalStack, caplog: pytest.LogCaptureFixture
) -> None:
    """Slack answers a DM post with an opaque D… id. The status message falls back to the
    requester's DM (the bot is not in the private channel); when the requester is deactivated,
    its edits and thread replies are given up as the same person the post was for: once, and
    never named as a channel."""
    stack = fast_retries
    caplog.set_level(logging.WARNING)
    stack.slack.add_channel("CSECRET", "secret", private=True)
    stack.request("UREQUESTER", ["UBEN"], channel="CSECRET")
    approval = stack.approval_message("R-1")
    status = lambda: [  # noqa: E731
        m for m in stack.slack.dms("UREQUESTER") if "R-1" in stack.slack.plain_text(m)
    ]
    wait_for(lambda: bool(status()))
    dm = stack.slack.dm_channel("UREQUESTER")
    assert not dm.removeprefix("D").startswith("U")  # opaque, as Slack's are
    stack.slack.deactivate_user("UREQUESTER")
    stack.driver.click("UAPPROVER", "approve_request", message=approval)

    refusals = lambda: [  # noqa: E731
        c
        for c in stack.slack.calls()
        if c.params.get("channel") in (dm, "UREQUESTER") and c.response.get("error")
    ]
    wait_for(lambda: order_states(stack) == ["delivered"])
    delivered = lambda: any("Code:" in str(m) for m in stack.slack.dms("UBEN"))  # noqa: E731
    wait_for(lambda: bool(refusals()) and delivered() and nothing_owed(stack))
    refused = refusals()
    # Refused, and given up: the delivery room's senders run side by side, so a thread reply
    # and a DM to the same person may both meet the refusal before one gives them up; after
    # that nothing more is tried, and they are given up once (the log line below).
    assert 1 <= len(refused) <= 2
    assert all(r.response["error"] == "user_disabled" for r in refused)
    shown = " ".join(str(c.params) for c in stack.slack.calls())
    assert f"<#{dm}>" not in shown
    about = [r.getMessage() for r in caplog.records if "giving up" in r.getMessage()]
    assert [line for line in about if "CSECRET" not in line] == [
        "R-1: giving up on Slack messages to UREQUESTER: user_disabled "
        "(their Slack account is deactivated)"
    ]


def test_an_archived_channel_is_given_up_once_and_the_requester_told_by_dm(
    fast_retries: LocalStack,
) -> None:
    stack = fast_retries
    stack.request("UREQUESTER", ["UANA"])
    approval = stack.approval_message("R-1")
    stack.slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == "CREWARDS")
    stack.slack.update_channel("CREWARDS", archived=True)
    stack.driver.click("UAPPROVER", "approve_request", message=approval)

    wait_for(lambda: order_states(stack) == ["delivered"])
    wait_for(lambda: complete(stack) and nothing_owed(stack))
    notes = [t for t in texts(stack.slack.dms("UREQUESTER")) if "cannot message" in t]
    assert notes == [
        "⚠️ I cannot message <#CREWARDS> about your reward request R-1: the channel is "
        "archived. The request itself goes on."
    ]
    # once given up, the bot stops calling Slack about that channel for this request
    tries = [
        c
        for c in stack.slack.calls()
        if c.method in ("chat.postMessage", "chat.update")
        and c.params.get("channel") == "CREWARDS"
        and c.response.get("error") == "is_archived"
    ]
    assert len(tries) == 1
    assert any("Code:" in str(m) for m in stack.slack.dms("UANA"))


def test_approvers_are_asked_by_dm_when_the_approval_channel_is_out_of_reach(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack()
    stack.slack.update_channel(APPROVAL_CHANNEL, bot_member=False)  # someone removed the bot
    stack.request("UREQUESTER", ["UANA"])
    for approver in ("UAPPROVER", "UAPPROVER2"):
        wait_for(
            lambda a=approver: any(
                "R-1 needs approval" in stack.slack.plain_text(m) for m in stack.slack.dms(a)
            )
        )
    [dm] = stack.slack.dms("UAPPROVER")
    stack.driver.click("UAPPROVER", "approve_request", message=dm)
    wait_for(lambda: order_states(stack) == ["delivered"])


def test_an_approver_dm_failing_for_now_is_asked_again_alone(
    make_stack: Callable[..., LocalStack],
) -> None:
    """No approval channel: each approver is asked by DM. One DM fails for now; the retry asks
    that approver only (the one already asked is not asked twice, nor skipped as 'asked')."""
    stack = make_stack(rewards_approval_channel="")
    stack.bot.room.retry_first_s = 0.05
    stack.slack.fail_next("chat.postMessage", times=2, status=200, error="internal_error")
    stack.request("UREQUESTER", ["UANA"])  # the status post and the first DM fail for now
    for approver in ("UAPPROVER", "UAPPROVER2"):
        wait_for(
            lambda a=approver: any(
                "R-1 needs approval" in stack.slack.plain_text(m) for m in stack.slack.dms(a)
            ),
        )
    wait_for(lambda: nothing_owed(stack))
    assert [len(stack.slack.dms(a)) for a in ("UAPPROVER", "UAPPROVER2")] == [1, 1]


def test_a_dm_failing_for_now_is_retried_alone(fast_retries: LocalStack) -> None:
    stack = fast_retries
    stack.request("UREQUESTER", ["UANA", "UBEN"])
    approval = stack.approval_message("R-1")
    # The next posts fail for now, whatever they are: a thread reply, a DM.
    stack.slack.fail_next("chat.postMessage", times=3, status=200, error="internal_error")
    stack.driver.click("UAPPROVER", "approve_request", message=approval)

    wait_for(lambda: order_states(stack) == ["delivered", "delivered"])
    wait_for(lambda: complete(stack) and nothing_owed(stack))
    failed = [c for c in stack.slack.calls("chat.postMessage") if not c.ok]
    assert len(failed) == 3  # the failures happened, and were tried again
    assert all(n == 1 for n in thread_lines(stack).values())
    for person in ("UANA", "UBEN", "UREQUESTER"):
        shown = Counter(texts(stack.slack.dms(person)))
        assert shown and all(n == 1 for n in shown.values()), (person, shown)
    assert len([m for m in stack.slack.dms("UANA") if "Code:" in str(m)]) == 1


def test_steps_run_once_and_settle_once(tmp_path: Path) -> None:
    database = Database(tmp_path / "steps.db")
    migrate(database)
    steps, other = Steps(database, "slack"), Steps(database, "log")
    ran: list[str] = []
    assert steps.once("e1:dm:UANA", lambda: ran.append("dm") or "sent") == "sent"
    assert steps.once("e1:dm:UANA", lambda: ran.append("again")) is None
    assert ran == ["dm"] and steps.done("e1:dm:UANA") and not other.done("e1:dm:UANA")
    with pytest.raises(RuntimeError):  # a step that fails is not recorded: it runs next time
        steps.once("e1:thread", lambda: (_ for _ in ()).throw(RuntimeError("slack down")))
    assert not steps.done("e1:thread")
    assert steps.settle("R1:unreachable:UANA", "gave_up", "user_disabled") is True
    assert steps.settle("R1:unreachable:UANA", "gave_up", "user_disabled") is False
    database.close()


def test_a_long_batch_of_changes_is_split_into_replies_slack_shows_whole() -> None:
    lines = [f"🚚 Placed *Amazon.com eGift Card* (25 USD) for <@UPEER{i:02d}>" for i in range(100)]
    replies = _replies(lines)
    assert [line for reply in replies for line in reply] == lines  # all, in order
    assert all(len("\n".join(reply)) <= REPLY_MAX for reply in replies) and len(replies) == 2
    [[cut]] = _replies(["x" * 5000])
    assert len(cut) <= REPLY_MAX and cut.endswith("…")


CSV_HEADER = "productId,denomination,email,notifyReceiverEmail\n"


def test_a_slack_error_finding_a_csv_recipient_is_tried_again(fast_retries: LocalStack) -> None:
    """Only `users_not_found` means "not in Slack": any other error leaves the DM owed."""
    stack = fast_retries
    stack.slack.add_user(make_user("ULATE", "Late Joiner", "late@example.com"))
    stack.slack.fail_next("users.lookupByEmail", status=200, error="internal_error")
    import_csv(stack.bot.runtime.rewards, CSV_HEADER + "27222,25,late@example.com,0\n", "ops")
    wait_for(lambda: any("Code:" in str(m) for m in stack.slack.dms("ULATE")))
    assert any(
        c.response.get("error") == "internal_error"
        for c in stack.slack.calls("users.lookupByEmail")
    )


def test_a_code_that_reaches_nobody_raises_an_alert_and_can_be_emailed_again(
    fast_retries: LocalStack, xo: SimControl
) -> None:
    """Paid and delivered, but the recipient is not in Slack and the file said not to email:
    the approvers are alerted with the command that has Xoxoday email it, and it works."""
    stack = fast_retries
    runtime = stack.bot.runtime
    # The requester's DM about it fails for now: the delivery's send comes back and runs
    # again after its alert was recorded (a retried event), until Slack heals.
    stack.slack.fail_conversation("UREQUESTER")
    csv = CSV_HEADER + "27222,25,zed@outside.example,0\n"
    decision = import_csv(runtime.rewards, csv, "UREQUESTER")
    [order] = order_store.for_request(runtime.database, decision.request.id)
    alert = f"order {order.po_number}"
    alerts = lambda: [  # noqa: E731
        m for m in stack.slack.messages(APPROVAL_CHANNEL) if alert in stack.slack.plain_text(m)
    ]
    warnings = lambda: [  # noqa: E731
        c
        for c in stack.slack.calls("chat.postMessage")
        if c.params.get("channel") == "UREQUESTER" and "zed@outside.example" in c.params["text"]
    ]
    wait_for(lambda: bool(alerts()) and len(warnings()) >= 2)  # it came back at least once
    stack.slack.heal_conversation("UREQUESTER")
    [shown] = alerts()
    assert f"rewards-bot orders resend {order.po_number}" in stack.slack.plain_text(shown)
    # A retried event must not alert twice: once nothing is owed to Slack (every event
    # handed over, every send and its retries done), still one alert.
    wait_for(lambda: nothing_owed(stack))
    assert len(alerts()) == 1
    assert [c.ok for c in warnings()][-1]  # the requester was told in the end

    resent = rewards_bot(
        cli_env(xo.base_url, runtime.settings.rewards_db), "orders", "resend", order.po_number
    )
    assert resent.returncode == 0, resent.stderr
    [at_xoxoday] = [o for o in xo.orders() if o["poNumber"] == order.po_number]
    assert at_xoxoday["emailsResent"] == 1


def test_a_csv_row_is_emailed_by_xoxoday_unless_it_says_not_to(stack: LocalStack) -> None:
    runtime = stack.bot.runtime
    import_csv(
        runtime.rewards,
        "productId,denomination,email\n27222,25,zed@outside.example\n",
        "ops",
    )
    [order] = order_store.for_request(runtime.database, 1)
    assert order.notify_receiver_email
    wait_for(lambda: order_store.get(runtime.database, order.id).state == "delivered")  # type: ignore[union-attr]
    wait_for(lambda: nothing_owed(stack))  # the delivery told (an alert would be sent by now)
    assert not [m for m in stack.slack.messages(APPROVAL_CHANNEL) if "reached nobody" in str(m)]


def test_the_requesters_updates_come_in_the_order_things_happened(stack: LocalStack) -> None:
    """Seen in `make demo`: Riya read "🎉 … R-4 is complete" before "✅ … approved by @Alex":
    the complete line came from redrawing the status message, the approved line from the
    event's own send, two rows the delivery room sends concurrently, in either order. Here
    the status message's row goes first, then everything else: the DM keeps event order."""
    room = stack.bot.room
    stack.request("UREQUESTER", ["UANA"])
    approval = stack.approval_message("R-1")
    wait_for(room.idle)
    room.stop()  # the rows wait, so this test picks which goes first
    stack.driver.click("UAPPROVER", "approve_request", message=approval)
    wait_for(lambda: order_states(stack) == ["delivered"])
    while not room.dispatcher.caught_up():
        room.dispatcher.dispatch()
    wait_for(lambda: any(r.key == "status:R1" for r in room.outbox.due([])))
    [status] = [r for r in room.outbox.due([]) if r.key == "status:R1"]
    room.outbox.finish(status, room.sender.send(status))
    room.start()
    wait_for(lambda: complete(stack) and room.idle())

    said = "\n".join(texts(stack.slack.dms("UREQUESTER")))
    approved, done = said.find("approved by <@UAPPROVER>"), said.find("is complete")
    assert 0 <= approved < done, said
