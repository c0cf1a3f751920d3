"""A code DM Slack keeps failing is given up after its tries (about a day and a half), and
then the people who can act are told: the requester by DM, the operators by the alert they
already get, both naming `rewards-bot orders resend`; an event records it. The code itself
goes nowhere but the recipient's DM."""

from __future__ import annotations

import logging

import pytest

from bot.local import APPROVAL_CHANNEL, LocalStack
from storage import events
from storage import orders as order_store
from tests.support import SimControl, wait_for


def test_a_code_dm_given_up_is_told_to_the_requester_and_the_operators(
    stack: LocalStack, xo: SimControl, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)  # as run: libraries' DEBUG bodies are off (bot/logs.py)
    stack.bot.room.retry_first_s = 0.05  # the day and a half of tries, in a moment
    stack.bot.room.max_tries = 3
    stack.slack.fail_conversation("UBEN", "internal_error")  # Slack keeps failing Ben's DM
    stack.request("UREQUESTER", ["UBEN"])
    stack.driver.click("UAPPROVER", "approve_request", message=stack.approval_message("R-1"))
    database = stack.bot.runtime.database
    wait_for(lambda: [o.state for o in order_store.for_request(database, 1)] == ["delivered"])
    [order] = order_store.for_request(database, 1)

    def told(user: str) -> list[str]:
        return [m["text"] for m in stack.slack.dms(user) if "never reached" in m["text"]]

    def alerted() -> list[str]:
        return [
            m["text"]
            for m in stack.slack.messages(APPROVAL_CHANNEL)
            if "never reached" in m["text"]
        ]

    wait_for(lambda: told("UREQUESTER") and alerted() and stack.bot.room.idle())
    resend = f"`rewards-bot orders resend {order.po_number}`"
    [to_requester] = told("UREQUESTER")
    assert "<@UBEN>" in to_requester and "R-1" in to_requester and resend in to_requester
    [alert] = alerted()
    assert order.po_number in alert and resend in alert

    kinds = [e.kind for e in events.for_order(database, order.id)]
    assert kinds.count("order.code_undelivered") == 1
    assert kinds.count("system.alert") == 1
    assert stack.slack.dms("UBEN") == []  # Ben got nothing: the stand-in failed every try

    # The code went nowhere but (the tries at) Ben's DM: not in any other call, log or event.
    [sim_order] = [o for o in xo.orders() if o["poNumber"] == order.po_number]
    codes = [str(code) for code in sim_order["vouchers"]]
    assert codes
    ben = stack.slack.dm_channel("UBEN")
    elsewhere = [c for c in stack.slack.calls() if c.params.get("channel") not in ("UBEN", ben)]
    assert elsewhere
    for code in codes:
        assert not any(code in str(c.params) for c in elsewhere)
        assert not any(code in r.getMessage() for r in caplog.records)
        assert not any(code in str(e) for e in events.for_order(database, order.id))
