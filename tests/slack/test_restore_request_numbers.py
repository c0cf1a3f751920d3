"""A restore gives later requests the numbers of those the backup lacks (no AUTOINCREMENT),
while their approval asks stay in Slack with live buttons. A button names its request and when
it was made, so a click on an old ask ("10 USD to Ana") never decides the newer request that
got its number ("100 USD to Ben", asked by someone else). Found by an outside review."""

from __future__ import annotations

import contextlib
from pathlib import Path

from bot.backup import backup, restore
from bot.local import APPROVAL_CHANNEL, LocalStack
from simulator.slack.fake import RunningFakeSlack
from storage import orders as order_store
from storage import requests as request_store
from tests.slack.conftest import stack_on
from tests.support import SimControl, wait_for


def _approval(stack: LocalStack, ref: str, since: int) -> dict:
    call = stack.slack.wait_for(
        "chat.postMessage",
        lambda c: c.params["channel"] == APPROVAL_CHANNEL and f"{ref} " in str(c.params["text"]),
        since=since,
    )
    message = stack.slack.message(call.response["channel"], call.response["ts"])
    assert message is not None
    return message


def test_an_old_approval_ask_cannot_decide_the_new_request_with_its_number(
    xo: SimControl, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    fake_slack.reset()
    db, copy = tmp_path / "rewards.db", tmp_path / "nightly.db"
    first = stack_on(db, xo, fake_slack)
    try:
        assert first.request("UREQUESTER", ["UANA"], amount="25").text == ""
        _approval(first, "R-1", 0)
        backup(db, copy)  # the nightly backup
        since = len(fake_slack.calls())
        assert first.request("UREQUESTER", ["UANA"], amount="10").text == ""
        old_ask = _approval(first, "R-2", since)  # "Riya ... 10 USD ... to Ana"
        assert "10 USD" in fake_slack.plain_text(old_ask)
    finally:
        first.stop()

    restore(copy, db)  # the operator restores last night's backup

    second = stack_on(db, xo, fake_slack)
    try:
        since = len(fake_slack.calls())
        assert second.request("UOTHER", ["UBEN"], amount="100").text == ""
        _approval(second, "R-2", since)  # the new R-2: 100 USD to Ben, asked by Olu
        # The approver clicks Approve on the ask they still see for "10 USD to Ana".
        second.driver.click("UAPPROVER", "approve_request", message=old_ask)
        database = second.bot.runtime.database
        # The decision runs after the ack; give it time (a fixed bot refuses the click).
        with contextlib.suppress(AssertionError):
            wait_for(lambda: request_store.get(database, 2).state != "pending_approval", 3)
        request = request_store.get(database, 2)
        orders = order_store.for_request(database, 2)
        assert request.state == "pending_approval", (
            f"a click on the old ask for 10 USD to Ana {request.state} R-2 = "
            f"{[(o.recipient_id, str(o.denomination)) for o in orders]} asked by "
            f"{request.requester_id}"
        )
    finally:
        second.stop()
