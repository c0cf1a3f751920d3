"""Slack retries a request when an ack is lost or late, and the retry may reach a second bot
process on the same database. The runner's Send (the click that records a workflow's request,
handlers/workflow_consent.py) delivered to both: if the second read the execution id (the
idempotency key) just before the first one committed its request, RewardService.record looks
again inside its write transaction and answers with that request, instead of failing the step
on the unique index (a failed step invites the person to run it again). Found by an outside
review; the step's event itself, retried on a second process, asks the runner once.

The interleaving (process 2 reads the key before process 1's commit) is forced by answering
its reads before the transaction as they were a moment earlier; everything else is the real
stack over loopback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from simulator.slack.fake import RunningFakeSlack
from storage import orders as order_store
from storage import requests as request_store
from tests.slack.conftest import stack_on
from tests.support import SimControl, wait_for

GIFT = {
    "recipient": "UANA",
    "reward_type": "gift_card",
    "product_id": 27222,
    "amount": 25,
    "message": "Happy work anniversary!",
}


def consent_in(message: dict[str, Any], execution_id: str) -> bool:
    return any(
        execution_id in [e.get("value") for e in block.get("elements") or []]
        for block in message.get("blocks") or []
        if block.get("type") == "actions"
    )


def as_posted(message: dict[str, Any]) -> dict[str, Any]:
    return message["edits"][0] if message["edits"] else message


def consent_ask_of(slack: RunningFakeSlack, execution_id: str) -> dict[str, Any] | None:
    return next((m for m in slack.dms("UREQUESTER") if consent_in(m, execution_id)), None)


def test_a_retry_on_a_second_process_answers_with_the_request_the_first_recorded(
    xo: SimControl, fake_slack: RunningFakeSlack, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_slack.reset()
    db = tmp_path / "rewards.db"
    options = {"rewards_auto_approve_max": "50", "rewards_monthly_budget": "500"}
    first = stack_on(db, xo, fake_slack, **options)
    second = stack_on(db, xo, fake_slack, **options)
    try:
        fake_slack.set_latency("functions.completeSuccess", 1.5)  # Slack a little slow
        execution = fake_slack.start_execution(
            "send_reward", {**GIFT, "runner": {"id": "UREQUESTER", "secret": "s"}}
        )
        execution_id = execution["event"]["function_execution_id"]
        database = first.bot.runtime.database
        assert first.driver.send_event(execution).status_code == 200  # process 1 asks
        ask = wait_for(lambda: consent_ask_of(fake_slack, execution_id))
        assert second.driver.send_event(execution, retry_num=1).status_code == 200
        wait_for(lambda: (c := first.bot.runtime.consents.get(execution_id)) and c.ts)
        assert first.driver.click("UREQUESTER", "consent_send", message=ask).status_code == 200
        wait_for(lambda: database.query("SELECT 1 FROM requests"))  # recorded; completing
        # Process 2 gets Slack's retry of the click and read the key just before process 1
        # committed: its reads before the write transaction answer as a moment earlier.
        real = request_store.by_idempotency_key
        stale = iter([None, None])

        def a_moment_earlier(database: object, key: str) -> object:
            return next(stale, real(database, key))  # type: ignore[arg-type]

        monkeypatch.setattr(request_store, "by_idempotency_key", a_moment_earlier)
        assert second.driver.click("UREQUESTER", "consent_send", message=ask).status_code == 200
        done = wait_for(
            lambda: (e := fake_slack.execution(execution_id))["state"] != "running" and e
        )
        monkeypatch.undo()
        recorded = database.query("SELECT id, state FROM requests")
        assert done["state"] == "completed", (
            f"the step ended {done['state']} ({done.get('error')!r}) while the bot recorded "
            f"{recorded}"
        )
        assert recorded == [{"id": 1, "state": "pending_approval"}]  # one request, one ask
        assert len(order_store.for_request(database, 1)) == 1
        # One ask posted (read as first posted: the click edits its buttons away, whenever the
        # delivery room gets to it)
        asks = [m for m in fake_slack.dms("UREQUESTER") if consent_in(as_posted(m), execution_id)]
        assert len(asks) == 1
    finally:
        fake_slack.set_latency("functions.completeSuccess", 0)
        first.stop()
        second.stop()
