"""Issue 16, findings 7 and 9: a delegation ends when its approver stops being one or is
deactivated, when it is replaced and when its last day has passed; each time the delegate is
told, and their Home tab changes at once.

The attacks: after the approver was deactivated their delegate still decided "standing in
for" them; a replaced or dated-out delegation left the old delegate's Home showing "You stand
in for…", the waiting requests with buttons and the wallet, and nobody told them."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from bot.local import LocalStack
from simulator.slack.fake import RunningFakeSlack
from storage import requests as request_store
from tests.slack.conftest import stack_on
from tests.slack.test_e2e_commands import reply
from tests.slack.test_e2e_home import open_home, text_of
from tests.support import SimControl, wait_for

LATER = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
APPROVER_PART = ("You stand in for", "Waiting for you", "Xoxoday wallet", "Spent this month")


def dm_text(stack: LocalStack, user: str) -> str:
    return "\n".join(stack.slack.plain_text(m) or m.get("text", "") for m in stack.slack.dms(user))


def told_no_longer(stack: LocalStack, user: str, approver: str) -> bool:
    # "… as an approver": the DM that says why, not the redrawn ask ("You no longer stand in
    # for <@…>: the approvers decide this one"), which may come first (a CI run met it).
    return f"You no longer stand in for <@{approver}> as an approver" in dm_text(stack, user)


def approver_part(stack: LocalStack, user: str) -> list[str]:
    home = text_of(stack, user)
    return [part for part in APPROVER_PART if part in home]


def delegate_to_ben(stack: LocalStack) -> None:
    assert reply(stack, "UAPPROVER", f"delegate @ben until {LATER}").startswith("🔁 <@UBEN>")
    wait_for(lambda: "asked you to approve and reject" in dm_text(stack, "UBEN"))
    open_home(stack, "UBEN")
    assert "You stand in for" in text_of(stack, "UBEN")


def test_a_replaced_delegation_tells_the_old_delegate_and_changes_their_home(
    stack: LocalStack,
) -> None:
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    delegate_to_ben(stack)
    assert "Waiting for you" in text_of(stack, "UBEN")

    assert reply(stack, "UAPPROVER", f"delegate @cho until {LATER}").startswith("🔁 <@UCHO>")
    wait_for(lambda: told_no_longer(stack, "UBEN", "UAPPROVER"))
    assert "named someone else" in dm_text(stack, "UBEN")
    wait_for(lambda: approver_part(stack, "UBEN") == [])
    assert "asked you to approve and reject" in dm_text(stack, "UCHO")


def test_a_dated_out_delegation_tells_the_delegate_and_changes_their_home(
    stack: LocalStack,
) -> None:
    delegate_to_ben(stack)
    # Its last day has passed (the stored day moved back instead of waiting for midnight).
    yesterday = (datetime.now(UTC).date() - timedelta(days=1)).isoformat()
    stack.bot.runtime.database.execute("UPDATE delegations SET until = ?", [yesterday])
    wait_for(lambda: told_no_longer(stack, "UBEN", "UAPPROVER"))
    assert "last day" in dm_text(stack, "UBEN")
    wait_for(lambda: approver_part(stack, "UBEN") == [])
    assert stack.bot.runtime.delegations.of("UAPPROVER") is None


def test_a_deactivated_approvers_delegate_decides_nothing_and_is_told(
    stack: LocalStack, xo: SimControl
) -> None:
    delegate_to_ben(stack)
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    wait_for(lambda: any("R-1" in (m.get("text") or "") for m in stack.slack.dms("UBEN")))
    [ask] = [m for m in stack.slack.dms("UBEN") if "R-1" in (m.get("text") or "")]

    stack.slack.deactivate_user("UAPPROVER")  # the approver leaves the company
    stack.driver.click("UBEN", "approve_request", message=ask)

    def outcome() -> str | None:
        request = request_store.get(stack.bot.runtime.database, 1)
        assert request is not None
        if request.state != "pending_approval":
            return f"decided: {request.state} by {request.decided_by} for {request.decided_for}"
        refusals = [m.get("text") or "" for m in stack.slack.ephemerals("UBEN")]
        return next((t for t in refusals if "Only the configured approvers" in t), None)

    assert wait_for(outcome).startswith("Only the configured approvers")  # not "decided: …"
    wait_for(lambda: told_no_longer(stack, "UBEN", "UAPPROVER"))
    assert "deactivated" in dm_text(stack, "UBEN")
    assert xo.orders() == []
    wait_for(lambda: approver_part(stack, "UBEN") == [])


def test_a_deactivation_ends_the_delegation_without_a_click(stack: LocalStack) -> None:
    delegate_to_ben(stack)
    stack.slack.deactivate_user("UAPPROVER")
    stack.bot.deps.users.refresh()  # the directory's periodic read of users.list
    wait_for(lambda: told_no_longer(stack, "UBEN", "UAPPROVER"))
    wait_for(lambda: approver_part(stack, "UBEN") == [])


def test_an_approver_removed_from_the_settings_ends_their_delegation_at_start(
    xo: SimControl, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    fake_slack.reset()
    db = tmp_path / "rewards.db"
    before = stack_on(db, xo, fake_slack, rewards_approvers=["UAPPROVER", "UAPPROVER2"])
    try:
        delegate_to_ben(before)
    finally:
        before.stop()
    after = stack_on(db, xo, fake_slack, rewards_approvers=["UAPPROVER2"])
    try:
        wait_for(lambda: told_no_longer(after, "UBEN", "UAPPROVER"))
        assert "no longer an approver" in dm_text(after, "UBEN")
        wait_for(lambda: approver_part(after, "UBEN") == [])
    finally:
        after.stop()


def test_a_delegation_ended_for_one_approver_keeps_the_other(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack()
    assert reply(stack, "UAPPROVER2", f"delegate @ben until {LATER}").startswith("🔁 <@UBEN>")
    delegate_to_ben(stack)
    stack.slack.deactivate_user("UAPPROVER")
    stack.bot.deps.users.refresh()
    wait_for(lambda: told_no_longer(stack, "UBEN", "UAPPROVER"))
    assert not told_no_longer(stack, "UBEN", "UAPPROVER2")
    assert [d.approver_id for d in stack.bot.runtime.delegations.standing_in_for("UBEN")] == [
        "UAPPROVER2"
    ]


def shown(stack: LocalStack, message: dict) -> dict:
    now = stack.slack.message(message["channel"], message["ts"])
    assert now is not None
    return now


def has_buttons(message: dict) -> bool:
    return any(b["type"] == "actions" for b in message["blocks"])


def test_an_ended_delegation_closes_the_old_delegates_asks_and_reminders(
    make_stack: Callable[..., LocalStack],
) -> None:
    """The old delegate's approval DM and reminder digest kept Approve and Reject after their
    delegation ended: a click was refused, but the buttons lied. Each is drawn again without
    them, saying they no longer stand in; the channel's ask stops naming them, and reminders
    from then on go to the new delegate only."""
    stack = make_stack(rewards_remind_after="2s", rewards_expire_after="1h")
    delegate_to_ben(stack)
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    approval = stack.approval_message("R-1")
    assert "<@UBEN> stands in for <@UAPPROVER>" in stack.slack.plain_text(approval)
    wait_for(lambda: any("Reminder" in (m.get("text") or "") for m in stack.slack.dms("UBEN")))
    bens = [m for m in stack.slack.dms("UBEN") if "R-1" in stack.slack.plain_text(m)]
    assert len(bens) >= 2 and all(has_buttons(m) for m in bens)  # the ask and a reminder
    # Each DM Ben got is on record (the ask's and the digests' ts are saved once Slack has
    # answered): a delegation ended in the instant between would leave that one as it was.
    db = stack.bot.runtime.database

    def on_record() -> bool:
        digests = db.scalar("SELECT COUNT(*) FROM slack_digests WHERE target = 'UBEN'") or 0
        asks = db.scalar("SELECT COUNT(*) FROM chat_messages WHERE target = 'UBEN'") or 0
        reminders = [m for m in stack.slack.dms("UBEN") if "Reminder" in (m.get("text") or "")]
        return int(digests) == len(reminders) and int(asks) >= 1

    wait_for(on_record)

    assert reply(stack, "UAPPROVER", f"delegate @cho until {LATER}").startswith("🔁 <@UCHO>")
    wait_for(lambda: told_no_longer(stack, "UBEN", "UAPPROVER"))

    def closed() -> bool:
        return not any(has_buttons(m) for m in stack.slack.dms("UBEN"))

    wait_for(closed)
    for message in bens:
        text = stack.slack.plain_text(shown(stack, message))
        assert "R-1" in text and "You no longer stand in for <@UAPPROVER>" in text
    wait_for(
        lambda: (
            "<@UCHO> stands in for <@UAPPROVER>" in stack.slack.plain_text(shown(stack, approval))
        )
    )
    assert "<@UBEN>" not in stack.slack.plain_text(shown(stack, approval))
    assert has_buttons(shown(stack, approval))  # the approvers still decide it there
    wait_for(lambda: any("Reminder" in (m.get("text") or "") for m in stack.slack.dms("UCHO")))
    assert closed()  # the reminders went on, to Cho
