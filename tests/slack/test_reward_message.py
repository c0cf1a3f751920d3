""" "Reward this message" end to end: a person's message in the Slack stand-in, the message
shortcut sent to the bot's real endpoint, the /reward modal it opens, and the request it makes."""

from __future__ import annotations

import json
import re

from bot.local import APPROVAL_CHANNEL, LocalStack
from handlers.ids import Shortcut
from storage import orders as order_store
from storage import requests as request_store
from tests.support import wait_for

PERMALINK = re.compile(r"https://rewards-demo\.slack\.com/archives/CREWARDS/p\d{16}")


def shortcut_on(stack: LocalStack, author: str, user: str, text: str) -> tuple[str, str]:
    """`author` writes in #rewards, `user` picks Reward this message on it; returns the open
    modal's id (once the link is in) and the message's permalink."""
    since = len(stack.slack.calls())
    posted = stack.slack.post_as(author, "CREWARDS", text)
    message = stack.slack.message("CREWARDS", posted["ts"])
    assert message is not None
    response = stack.driver.message_shortcut(user, message, Shortcut.REWARD_MESSAGE)
    assert response.status_code == 200 and response.text == ""
    opened = stack.slack.wait_for("views.open", lambda c: c.ok, since=since)
    updated = stack.slack.wait_for("views.update", lambda c: c.ok, since=since)
    view_id = opened.response["view"]["id"]
    assert updated.params["view_id"] == view_id
    link = stack.slack.wait_for("chat.getPermalink", since=since).response["permalink"]
    return view_id, link


def test_the_shortcut_opens_the_form_prefilled_and_the_request_links_back_to_the_message(
    stack: LocalStack,
) -> None:
    view_id, link = shortcut_on(stack, "UANA", "UREQUESTER", "Shipped the checkout fix")
    assert PERMALINK.fullmatch(link)
    # The modal opened before the permalink was asked for (the trigger lasts 3 s) ...
    methods = [c.method for c in stack.slack.calls() if c.method.startswith(("views.", "chat.get"))]
    assert methods[:3] == ["views.open", "chat.getPermalink", "views.update"]
    # ... with the author as the recipient and, once updated, the link in the note.
    state = stack.driver.state(view_id)["values"]
    assert state["recipients"]["recipients"]["selected_users"] == ["UANA"]
    assert state["message"]["message"]["value"] == f"For your message: {link}"
    assert json.loads(stack.slack.view(view_id)["private_metadata"])["source_link"] == link

    stack.choose("UREQUESTER", view_id, "gift_card", 27222)
    stack.driver.fill(view_id, "denomination_choice", "denomination_choice", "25")
    response = stack.driver.submit("UREQUESTER", view_id)
    assert response.status_code == 200 and response.text == ""  # the modal closes
    request = request_store.get(stack.bot.runtime.database, 1)
    assert request is not None and request.source_link == link
    assert request.channel_id == "CREWARDS"  # the status goes where the message is
    assert request.message == f"For your message: {link}"

    shown = f"<{link}|the message it rewards>"
    approval = stack.approval_message("R-1")
    assert shown in stack.slack.plain_text(approval)
    status = stack.slack.wait_for("chat.postMessage", lambda c: c.params["channel"] == "CREWARDS")
    assert shown in stack.slack.plain_text(status.params)

    stack.driver.click("UAPPROVER", "approve_request", message=approval)
    wait_for(
        lambda: (
            [o.state for o in order_store.for_request(stack.bot.runtime.database, 1)]
            == ["delivered"]
        )
    )
    decided = wait_for(
        lambda: (m := stack.slack.message(APPROVAL_CHANNEL, approval["ts"])) and m["edits"] and m
    )
    assert shown in stack.slack.plain_text(decided)  # still linked once decided
    gift = wait_for(lambda: [m for m in stack.slack.dms("UANA") if "received a reward" in str(m)])
    assert link in stack.slack.plain_text(gift[0])  # the note the recipient reads


def test_nobody_is_prefilled_for_ones_own_message_and_the_form_keeps_its_link_across_types(
    stack: LocalStack,
) -> None:
    view_id, link = shortcut_on(stack, "UREQUESTER", "UREQUESTER", "My own update")
    state = stack.driver.state(view_id)["values"]
    assert state["recipients"]["recipients"].get("selected_users") in (None, [])
    stack.choose("UREQUESTER", view_id, "charity", 40001)  # another kind: a new form
    assert json.loads(stack.slack.view(view_id)["private_metadata"])["source_link"] == link


def test_the_link_stays_only_while_the_author_is_a_recipient(stack: LocalStack) -> None:
    """Issue 16, finding 2: the recipient changed in the shortcut's form, the request kept the
    original message's link, and the ask showed the new recipient beside "For the message it
    rewards"."""
    view_id, link = shortcut_on(stack, "UANA", "UREQUESTER", "Shipped the checkout fix")
    stack.choose("UREQUESTER", view_id, "gift_card", 27222)
    stack.driver.fill(view_id, "denomination_choice", "denomination_choice", "25")
    stack.driver.fill(view_id, "recipients", "recipients", ["UBEN"])  # Ana taken out
    assert stack.driver.submit("UREQUESTER", view_id).text == ""
    request = request_store.get(stack.bot.runtime.database, 1)
    assert request is not None and request.source_link is None
    assert "the message it rewards" not in stack.slack.plain_text(stack.approval_message("R-1"))

    # With the author still among the recipients, the link stays.
    view_id, link = shortcut_on(stack, "UANA", "UREQUESTER", "And the release notes")
    stack.choose("UREQUESTER", view_id, "gift_card", 27222)
    stack.driver.fill(view_id, "denomination_choice", "denomination_choice", "25")
    stack.driver.fill(view_id, "recipients", "recipients", ["UBEN", "UANA"])
    assert stack.driver.submit("UREQUESTER", view_id).text == ""
    request = request_store.get(stack.bot.runtime.database, 2)
    assert request is not None and request.source_link == link
