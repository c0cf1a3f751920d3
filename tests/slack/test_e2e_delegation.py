"""`/reward delegate` end to end: the command as Slack sends it (should_escape: mentions as
`<@U…|name>`), its refusals, a delegate deciding in the channel with both names shown and
recorded, and the rules a delegate keeps."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.local import APPROVAL_CHANNEL, LocalStack
from storage import events
from storage import requests as request_store
from tests.slack.test_e2e_commands import reply
from tests.support import wait_for


def test_delegate_refusals_then_a_delegate_decides_under_every_rule(stack: LocalStack) -> None:
    today = datetime.now(UTC).date()
    until = (today + timedelta(days=7)).isoformat()
    assert reply(stack, "UOTHER", f"delegate @ben until {until}") == (
        "Only approvers can name someone to stand in for them."
    )
    assert reply(stack, "UAPPROVER", "delegate @ben until tomorrow") == (
        "tomorrow is not a day: write it like 2026-12-24."
    )
    assert reply(stack, "UAPPROVER", "delegate @ben until 2020-01-01") == (
        "2020-01-01 has passed; give a day from today on."
    )
    assert reply(stack, "UAPPROVER", f"delegate ben until {until}").startswith("Name who")
    assert reply(stack, "UAPPROVER", f"delegate @alex until {until}") == (
        "Name someone else: you already approve for yourself."
    )
    assert "is a bot" in reply(stack, "UAPPROVER", f"delegate @helper-bot until {until}")
    typed = reply(stack, "UAPPROVER", f"delegate <@UEVIL> until {until}")  # typed, not a mention
    assert typed.startswith("Name who")
    assert request_store.waiting(stack.bot.runtime.database) == []
    assert stack.bot.runtime.delegations.of("UAPPROVER") is None

    answer = reply(stack, "UAPPROVER", f"delegate @ben until {until}")
    assert answer.startswith("🔁 <@UBEN> can approve and reject in your place until")
    wait_for(lambda: any("asked you to approve" in m["text"] for m in stack.slack.dms("UBEN")))

    # The ask says who stands in for whom; the delegate approves in the channel.
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    approval = stack.approval_message("R-1")
    assert "<@UBEN> stands in for <@UAPPROVER>" in stack.slack.plain_text(approval)
    # The delegate, who may not be in the approval channel, is asked by DM too.
    asked = wait_for(
        lambda: [m for m in stack.slack.dms("UBEN") if "R-1 needs approval" in m["text"]]
    )
    assert "You stand in for <@UAPPROVER> here" in stack.slack.plain_text(asked[0])
    stack.driver.click("UBEN", "approve_request", message=approval)
    wait_for(
        lambda: (
            "Approved by <@UBEN> (standing in for <@UAPPROVER>)"
            in stack.slack.plain_text(stack.slack.message(APPROVAL_CHANNEL, approval["ts"]))
        )
    )
    request = request_store.get(stack.bot.runtime.database, 1)
    assert request is not None
    assert (request.decided_by, request.decided_for) == ("UBEN", "UAPPROVER")
    wait_for(  # the DM ask gives way to the decision too
        lambda: (
            "Approved by <@UBEN>"
            in stack.slack.plain_text(stack.slack.message(asked[0]["channel"], asked[0]["ts"]))
        )
    )
    [decided] = [
        e for e in events.for_request(stack.bot.runtime.database, 1) if e.kind == "request.approved"
    ]
    assert (decided.actor, decided.data["decided_for"]) == ("UBEN", "UAPPROVER")
    wait_for(
        lambda: any(
            "approved by <@UBEN> (standing in for <@UAPPROVER>)" in m["text"]
            for m in stack.slack.dms("UREQUESTER")
        )
    )

    # Never a reward to themselves, never their own request.
    assert stack.request("UREQUESTER", ["UBEN"]).text == ""
    stack.driver.click("UBEN", "approve_request", message=stack.approval_message("R-2"))
    wait_for(
        lambda: any(
            e["text"] == "You cannot approve or reject a request that rewards you."
            for e in stack.slack.ephemerals("UBEN")
        )
    )
    assert stack.request("UBEN", ["UANA"]).text == ""
    stack.driver.click("UBEN", "reject_request", message=stack.approval_message("R-3"))
    wait_for(
        lambda: any(
            e["text"] == "You cannot approve or reject your own request."
            for e in stack.slack.ephemerals("UBEN")
        )
    )
    assert [r.state for r in request_store.waiting(stack.bot.runtime.database)] == [
        "pending_approval",
        "pending_approval",
    ]

    # Ended: the delegate is told, and is nobody's stand-in any more.
    assert reply(stack, "UAPPROVER", "delegate off") == "<@UBEN> no longer stands in for you."
    assert reply(stack, "UAPPROVER", "delegate off") == "You have no one standing in for you."
    wait_for(lambda: any("no longer stand in" in m["text"] for m in stack.slack.dms("UBEN")))
    assert stack.request("UREQUESTER", ["UCHO"]).text == ""
    stack.driver.click("UBEN", "approve_request", message=stack.approval_message("R-4"))
    wait_for(
        lambda: any(
            e["text"] == "Only the configured approvers can approve or reject rewards."
            for e in stack.slack.ephemerals("UBEN")
        )
    )


def test_the_other_text_commands_parse_as_slack_sends_them(stack: LocalStack) -> None:
    """With should_escape, text arrives with entities; status and cancel still read it."""
    assert stack.request("UREQUESTER", ["UANA"]).text == ""
    assert reply(stack, "UREQUESTER", "status  R-1 ").startswith("*R-1*: ⏳ Waiting for approval")
    assert reply(stack, "UREQUESTER", "STATUS r1").startswith("*R-1*")
    assert reply(stack, "UOTHER", "status <R-1> & co") == (
        "I found no request &lt;R-1&gt; &amp; co of yours."  # shown as typed, inert
    )
    assert reply(stack, "UREQUESTER", "cancel R-1").startswith("R-1 is cancelled")
    assert "delegate @someone" in reply(stack, "UAPPROVER", "help")
    assert "delegate" not in reply(stack, "UREQUESTER", "help")
