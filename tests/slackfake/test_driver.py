"""The driver against a tiny real Bolt app: signed requests over loopback HTTP, answered by
Bolt's own parsing, acks and listeners, with the bot's Web API calls landing in the fake."""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from simulator.slack import RunningFakeSlack, SlackDriver
from simulator.slack.workspace import dm_channel
from tests.slackfake.conftest import SECRET, TOKEN, BotHarness, approval_blocks, reward_modal
from tests.support import wait_for

USER = "UREQUESTER"


def open_modal(driver: SlackDriver, fake: RunningFakeSlack) -> str:
    assert driver.command(USER, "for Ana").status_code == 200
    fake.wait_for("views.open", lambda c: c.ok)
    # The command's listener answers through its response_url after opening the modal: wait
    # for that too, or on a slow machine it lands in the next test's (reset) fake.
    fake.wait_for("response_url")
    return fake.latest_view(USER)["id"]


def test_command_payload_and_respond(driver, fake, bot: BotHarness):
    response = driver.command(USER, "hello there", channel="CREWARDS")
    assert (response.status_code, response.text) == (200, "")
    [body] = bot.payloads("command")
    assert {k: body[k] for k in ("command", "text", "user_id", "user_name", "channel_name")} == {
        "command": "/reward",
        "text": "hello there",
        "user_id": USER,
        "user_name": "riya",
        "channel_name": "rewards",
    }
    assert body["trigger_id"] == driver.last_trigger_id
    assert body["response_url"].startswith(fake.url + "/hooks/commands/T0001/")
    fake.wait_for("response_url")
    [eph] = fake.ephemerals(USER)
    assert (eph["text"], eph["channel"], eph["source"]) == (
        "Opening the reward form",
        "CREWARDS",
        "response_url",
    )


def test_modal_flow_select_options_errors_then_submit(driver, fake, bot: BotHarness):
    view_id = open_modal(driver, fake)

    # options load for the external select, filtered by what was typed
    loaded = driver.options(USER, view_id, "recipient", "an")
    assert loaded.status_code == 200
    assert loaded.json() == {
        "options": [{"text": {"type": "plain_text", "text": "Ana Silva"}, "value": "UANA"}]
    }
    [suggestion] = bot.payloads("options")
    assert (suggestion["type"], suggestion["block_id"], suggestion["view"]["id"]) == (
        "block_suggestion",
        "recipient_block",
        view_id,
    )
    with pytest.raises(ValueError, match="no dispatch_action"):
        driver.select(USER, view_id, "recipient_block", "recipient", "UANA")
    driver.fill(view_id, "recipient_block", "recipient", "UANA")

    # a dispatching static select: the bot sees the choice and updates the modal
    before = fake.view(view_id)["hash"]
    assert driver.select(USER, view_id, "program_block", "program", "gift").status_code == 200
    [chosen] = bot.payloads("select")
    assert chosen["actions"][0]["selected_option"]["value"] == "gift"
    assert chosen["container"] == {"type": "view", "view_id": view_id}
    assert chosen["view"]["state"]["values"]["recipient_block"]["recipient"]["selected_option"][
        "value"
    ] == ("UANA")
    fake.wait_for("views.update", lambda c: c.ok)
    updated = fake.view(view_id)
    assert updated["hash"] != before and "Program: Gift card" in fake.plain_text(updated)

    # server-side validation keeps the modal open
    driver.fill(view_id, "amount_block", "amount", "lots")
    refused = driver.submit(USER, view_id)
    assert refused.status_code == 200
    assert refused.json() == {
        "response_action": "errors",
        "errors": {"amount_block": "Enter a whole number"},
    }
    assert [v["id"] for v in fake.open_views(USER)] == [view_id]

    driver.fill(view_id, "amount_block", "amount", 500)
    accepted = driver.submit(USER, view_id)
    assert (accepted.status_code, accepted.text) == (200, "")
    assert fake.open_views(USER) == []
    submission = bot.payloads("submit")[-1]
    assert submission["view"]["state"]["values"] == {
        "recipient_block": {
            "recipient": {
                "type": "external_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "Ana Silva"},
                    "value": "UANA",
                },
            }
        },
        "program_block": {
            "program": {
                "type": "static_select",
                "selected_option": {
                    "text": {"type": "plain_text", "text": "Gift card"},
                    "value": "gift",
                },
            }
        },
        "amount_block": {"amount": {"type": "plain_text_input", "value": "500"}},
    }
    assert submission["view"]["private_metadata"] == "from=CREWARDS"
    assert submission["response_urls"] == []
    fake.wait_for("chat.postMessage", lambda c: c.ok)
    assert [m["text"] for m in fake.dms("UANA")] == ["You got 500"]
    with pytest.raises(ValueError, match="no longer open"):
        driver.submit(USER, view_id)


def test_required_inputs_and_query_length_are_enforced_client_side(driver, fake):
    view_id = open_modal(driver, fake)
    with pytest.raises(ValueError, match="recipient_block"):
        driver.submit(USER, view_id)
    with pytest.raises(ValueError, match="no option 'bogus'"):
        driver.fill(view_id, "program_block", "program", "bogus")
    with pytest.raises(ValueError, match="belongs to UREQUESTER"):
        driver.submit("UANA", view_id)
    with pytest.raises(ValueError, match="needs 1 typed"):
        driver.options(USER, view_id, "recipient", "")


def test_button_click_on_posted_message(driver, fake, client: WebClient, bot: BotHarness):
    client.chat_postMessage(channel="UAPPROVER", text="approve?", blocks=approval_blocks("req-42"))
    [message] = fake.dms("UAPPROVER")
    response = driver.click("UAPPROVER", "approve", message=message)
    assert (response.status_code, response.text) == (200, "")
    [click] = bot.payloads("click")
    assert click["container"] == {
        "type": "message",
        "message_ts": message["ts"],
        "channel_id": dm_channel("UAPPROVER"),
        "is_ephemeral": False,
    }
    assert click["actions"][0] | {"action_ts": "-"} == {
        "action_id": "approve",
        "block_id": "decision",
        "text": {"type": "plain_text", "text": "Approve"},
        "type": "button",
        "value": "req-42",
        "style": "primary",
        "action_ts": "-",
    }
    assert click["message"]["ts"] == message["ts"] and click["channel"]["id"] == dm_channel(
        "UAPPROVER"
    )
    fake.wait_for("chat.update", lambda c: c.ok)
    fake.wait_for("response_url", lambda c: c.params["text"] == "Thanks, recorded")
    [now] = fake.dms("UAPPROVER")
    assert now["text"] == "Approved by <@UAPPROVER> (req-42)" and now["blocks"] == []
    assert [e["text"] for e in now["edits"]] == ["approve?"]
    assert [e["text"] for e in fake.ephemerals("UAPPROVER")] == ["Thanks, recorded"]

    # the old copy still has the button: a stale second click with a forged value
    driver.click("UAPPROVER", "approve", message=message, value="forged")
    assert bot.payloads("click")[-1]["actions"][0]["value"] == "forged"
    with pytest.raises(LookupError, match="no element action_id='approve'"):
        driver.click("UAPPROVER", "approve", message=fake.dms("UAPPROVER")[0])


def command_body(fake: RunningFakeSlack) -> bytes:
    fields = {
        "command": "/reward",
        "text": "",
        "user_id": USER,
        "team_id": "T0001",
        "channel_id": "CREWARDS",
        "trigger_id": fake.issue_trigger(USER),
        "response_url": fake.issue_response_url(USER, "CREWARDS"),
    }
    return urlencode(fields).encode()


def test_bad_signature_is_refused(driver, fake, bot: BotHarness):
    body = command_body(fake)
    headers = driver.signed_headers(body)
    assert driver.post_raw(body, headers).status_code == 200  # the control: valid passes
    forged = headers | {"X-Slack-Signature": "v0=" + "0" * 64}
    assert driver.post_raw(body, forged).status_code == 401
    assert driver.post_raw(body + b"&text=tampered", headers).status_code == 401
    assert driver.post_raw(body, {"Content-Type": headers["Content-Type"]}).status_code == 401
    assert len(bot.payloads("command")) == 1


def test_old_timestamp_is_refused(driver, fake, bot: BotHarness):
    body = command_body(fake)
    stale = driver.signed_headers(body, timestamp=int(time.time()) - 600)
    assert driver.post_raw(body, stale).status_code == 401
    assert bot.payloads("command") == []


def test_trigger_reuse_is_refused(driver, fake):
    open_modal(driver, fake)
    client = WebClient(token=TOKEN, base_url=fake.api_url)
    with pytest.raises(SlackApiError) as info:
        client.views_open(trigger_id=driver.last_trigger_id, view=reward_modal())
    assert info.value.response["error"] == "trigger_exchanged"


def test_click_in_ephemeral_and_in_modal(driver, fake, client: WebClient, bot: BotHarness):
    help_button = {
        "type": "actions",
        "block_id": "more",
        "elements": [
            {"type": "button", "action_id": "help", "text": {"type": "plain_text", "text": "?"}}
        ],
    }
    client.chat_postEphemeral(channel="CAPPROVALS", user="UBEN", text="psst", blocks=[help_button])
    [eph] = fake.ephemerals("UBEN")
    assert driver.click("UBEN", "help", message=eph).status_code == 200
    [from_eph] = bot.payloads("help")
    assert from_eph["container"]["is_ephemeral"] is True and "message" not in from_eph
    assert "value" not in from_eph["actions"][0]  # the button has none, so Slack sends none

    modal = reward_modal() | {"blocks": [*reward_modal()["blocks"], help_button]}
    view = client.views_open(trigger_id=fake.issue_trigger("UBEN"), view=modal)["view"]
    driver.fill(view["id"], "amount_block", "amount", "7")
    assert driver.click("UBEN", "help", view=view["id"]).status_code == 200
    from_view = bot.payloads("help")[-1]
    assert from_view["container"] == {"type": "view", "view_id": view["id"]}
    assert from_view["view"]["state"]["values"]["amount_block"]["amount"]["value"] == "7"
    assert "response_url" not in from_view
    with pytest.raises(ValueError, match="static_select, not a button"):
        driver.click("UBEN", "program", view=view["id"])


def test_command_text_is_sent_as_the_slack_client_sends_it(driver, fake, bot: BotHarness):
    """should_escape (the manifest's setting): mentions, channels and links in Slack's markup,
    and `&`, `<`, `>` as entities always; `@nobody` stays text."""
    typed = "delegate @ben & @nobody <b> in #rewards https://x.example/?a=1&b=2"
    driver.command(USER, typed)
    assert bot.payloads("command")[-1]["text"] == (
        "delegate <@UBEN|ben> &amp; @nobody &lt;b&gt; in <#CREWARDS|rewards> "
        "<https://x.example/?a=1&amp;b=2>"
    )
    with SlackDriver(bot.server.url, SECRET, fake, should_escape=False) as plain:
        plain.command(USER, typed)
    assert bot.payloads("command")[-1]["text"] == (
        "delegate @ben &amp; @nobody &lt;b&gt; in #rewards https://x.example/?a=1&amp;b=2"
    )
    driver.command(USER, "<@UEVIL> as typed by no client", raw=True)
    assert bot.payloads("command")[-1]["text"] == "<@UEVIL> as typed by no client"


def test_home_opened_publish_and_a_home_click(driver, fake, bot: BotHarness):
    response = driver.open_home(USER)
    assert (response.status_code, response.text) == (200, "")
    fake.wait_for("views.publish", lambda c: c.ok)
    [event] = bot.payloads("home_opened")
    assert (event["type"], event["user"], event["tab"], event["channel"]) == (
        "app_home_opened",
        USER,
        "home",
        dm_channel(USER),
    )
    assert "view" not in event  # nothing was published before
    home = fake.home(USER)
    assert home["type"] == "home" and "opened 1 times" in fake.plain_text(home["blocks"])

    driver.open_home(USER)  # again: the event carries the Home as published
    wait_for(lambda: len(bot.payloads("home_opened")) == 2)
    assert bot.payloads("home_opened")[1]["view"]["id"] == home["id"]
    fake.wait_for("views.publish", lambda c: c.ok and "2 times" in str(c.params))

    driver.click_home(USER, "home_button")
    wait_for(lambda: bot.payloads("home_click"))
    [click] = bot.payloads("home_click")
    assert click["container"] == {"type": "view", "view_id": home["id"]}
    assert click["view"]["type"] == "home" and click["view"]["id"] == home["id"]
    assert "channel" not in click and "response_url" not in click
    assert click["actions"][0]["value"] == "v1"
    acks = [c.response["type"] for c in fake.acks()]
    assert acks.count("event_callback") == 2 and acks[-1] == "block_actions"

    driver.open_home(USER, tab="messages")  # the Messages tab: the app publishes nothing
    wait_for(lambda: len(bot.payloads("home_opened")) == 3)
    assert len(fake.calls("views.publish")) == 2
    with pytest.raises(ValueError, match="no Home tab"):
        driver.click_home("UBEN", "home_button")
