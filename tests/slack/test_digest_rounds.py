"""Review of issue 15: a reminder digest's step key was the outbox row's version, which starts
again at 1 once the sent row is tidied (Outbox.tidy, KEEP_SENT_S = 600 s). In production the
next round comes REWARDS_REMIND_AFTER (a day) later, always after the tidy, so its digest
found its step 'done' already and was never sent: approvers were reminded once.

Here rounds come seconds apart, so the test tidies as the delivery room sends: every sent row
is forgotten at once, as it is by the time a real next round falls due."""

from __future__ import annotations

import re
import time
from collections.abc import Callable

from bot.local import LocalStack
from handlers.gathered import digest_step
from storage import events
from storage import outbox as outbox_store
from tests.slack.test_e2e_schedule import asks, first_version
from tests.support import wait_for


def rounds_seen(stack: LocalStack, who: str) -> list[int]:
    """The round numbers of the reminder digests `who` received, in order."""
    found = []
    for message in asks(stack, who, "⏰"):
        number = re.search(r"Reminder (\d) of 3", str(first_version(message)["blocks"]))
        assert number is not None
        found.append(int(number.group(1)))
    return found


def test_every_rounds_digest_is_sent_though_the_last_one_was_tidied(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack(rewards_remind_after="4s", rewards_expire_after="1h")
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    database = stack.bot.runtime.database

    def reminded_thrice() -> bool:
        outbox_store.forget_sent(database, time.time() + 1)  # what Outbox.tidy does, later
        rounds = [
            e.data["round"] for e in events.for_request(database, 1) if e.kind == "request.reminded"
        ]
        return rounds == [1, 2, 3]

    wait_for(reminded_thrice, interval=0.1)

    def three_digests() -> bool:
        outbox_store.forget_sent(database, time.time() + 1)
        return len(rounds_seen(stack, "UAPPROVER")) >= 3

    wait_for(three_digests, interval=0.1)  # the third round's gather, its send
    assert rounds_seen(stack, "UAPPROVER") == [1, 2, 3]


def test_a_digests_step_is_named_by_what_it_tells() -> None:
    round_1 = [{"request_id": 1, "round": 1}, {"request_id": 2, "round": 1}]
    again = [{"request_id": 2, "round": 1}, {"request_id": 1, "round": 1}]  # a retry
    round_2 = [{"request_id": 1, "round": 2}, {"request_id": 2, "round": 2}]
    assert digest_step("remind", "U1", round_1) == digest_step("remind", "U1", again)
    assert digest_step("remind", "U1", round_1) != digest_step("remind", "U1", round_2)
    assert digest_step("remind", "U1", round_1) != digest_step("remind", "U2", round_1)
    assert digest_step("remind", "U1", round_1) != digest_step("escalate", "U1", round_1)


def test_a_digest_on_record_after_its_request_was_decided_loses_its_buttons(
    make_stack: Callable[..., LocalStack],
) -> None:
    """The approver reads the reminder at once, but Slack's answer to it (its ts) comes back
    only after the request was approved: the decision's redraw found no digest on record."""
    stack = make_stack(rewards_remind_after="2s", rewards_expire_after="1h")
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    approval = stack.approval_message("R-1")
    stack.slack.hold_conversation("UAPPROVER", done_first=True)
    digest = wait_for(lambda: asks(stack, "UAPPROVER", "⏰"))[0]
    assert any(b["type"] == "actions" for b in digest["blocks"])
    stack.driver.click("UAPPROVER", "approve_request", message=approval)
    db = stack.bot.runtime.database
    wait_for(  # the decision's redraw has gone (the channel's ask), the digest not on record
        lambda: db.scalar("SELECT COUNT(*) FROM slack_outbox WHERE key = 'asks:R1' AND pending = 0")
    )
    stack.slack.release_conversation("UAPPROVER")

    def closed() -> bool:
        now = stack.slack.message(digest["channel"], digest["ts"]) or {}
        return all(b["type"] != "actions" for b in now.get("blocks") or [{"type": "actions"}])

    wait_for(closed)
