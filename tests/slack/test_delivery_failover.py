"""A voucher DM is sent once when the worker's lease moves to another process while the DM is
in flight (a rolling restart: the old process stops its worker, which releases the lease,
while its delivery room is still waiting for Slack's answer; the new process takes the lease
and its room starts sending). The step of a message is recorded only once Slack answered, so
without more the new room would see the DM still owed and send it a second time: a room
claims each row in the database before it sends it, and another room leaves a row claimed by
a live process alone.

Two stacks on one SQLite file, the Slack stand-in holding the recipient's conversation so
the first DM stays in flight for as long as the test needs, whatever the machine's speed."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

from bot.local import LocalStack
from simulator.slack.fake import RunningFakeSlack
from storage import orders as order_store
from tests.slack.conftest import stack_on
from tests.support import SimControl, wait_for


def code_dms(slack: RunningFakeSlack, user: str) -> list[dict]:
    return [m for m in slack.dms(user) if "Code:" in str(m.get("blocks"))]


def test_a_code_dm_in_flight_at_a_lease_takeover_goes_once(
    xo: SimControl, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    fake_slack.reset()
    db = tmp_path / "rewards.db"
    first = stack_on(db, xo, fake_slack)
    wait_for(lambda: first.bot.runtime.worker.status == "active")
    second = stack_on(db, xo, fake_slack)
    try:
        wait_for(lambda: second.bot.runtime.worker.status == "standby")
        fake_slack.hold_conversation("UBEN")  # Ben's DMs get no answer until released
        first.request("UREQUESTER", ["UBEN"])
        first.driver.click("UAPPROVER", "approve_request", message=first.approval_message("R-1"))
        database = first.bot.runtime.database
        wait_for(lambda: [o.state for o in order_store.for_request(database, 1)] == ["delivered"])
        wait_for(lambda: fake_slack.held_calls("UBEN") >= 1)  # the first room's DM, in flight

        first.bot.runtime.worker.stop()  # the old process stops: the lease is free
        wait_for(lambda: second.bot.runtime.worker.status == "active", timeout=30)
        # The new room went through its due rows (Ben's DMs among them) since it took the
        # lease: two rounds from now, one started after it. Kept short: the first room's
        # Slack client gives up on a call held past its 15 s timeout.
        rounds = second.bot.room.rounds
        wait_for(lambda: second.bot.room.rounds >= rounds + 2)

        fake_slack.release_conversation("UBEN")
        wait_for(lambda: code_dms(fake_slack, "UBEN") and second.bot.room.idle())
        wait_for(lambda: first.bot.room.idle())
        assert len(code_dms(fake_slack, "UBEN")) == 1
        texts = [m["text"] for m in fake_slack.dms("UBEN")]
        assert len(texts) == len(set(texts)), texts  # and no other DM to Ben twice
    finally:
        fake_slack.release_conversation("UBEN")
        first.stop()
        second.stop()


def test_a_claim_that_cannot_be_given_back_does_not_stop_its_key(stack: LocalStack) -> None:
    """Giving a row's claim back met a locked database once (sqlite3 raises after its busy
    timeout; raised here at once, as waiting 15 s for it would): the key stayed busy in the
    room until a restart, so that request's updates never went and the room was never idle."""
    room = stack.bot.room
    give_back = room.outbox.unclaim
    failed: list[str] = []

    def locked_once(row: Any) -> None:
        if not failed:
            failed.append(row.key)
            raise sqlite3.OperationalError("database is locked")
        give_back(row)

    room.outbox.unclaim = locked_once  # type: ignore[method-assign]
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    stack.driver.click("UAPPROVER", "approve_request", message=stack.approval_message("R-1"))
    wait_for(lambda: failed)
    db = stack.bot.runtime.database
    wait_for(lambda: [o.state for o in order_store.for_request(db, 1)] == ["delivered"])
    wait_for(room.idle)  # every key went, the one whose claim was not given back too
