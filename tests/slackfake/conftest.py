"""One fake Slack and one tiny real Bolt app over loopback, shared by the directory and reset
before every test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient

from plumbing.httpserver import ServerThread
from simulator.slack import RunningFakeSlack, SlackDriver, start_fake_slack

TOKEN = "xoxb-test"
SECRET = "test-signing-secret"

PEOPLE = [("UANA", "Ana Silva"), ("UBEN", "Ben Okafor"), ("UCHO", "Cho Min")]


def option(value: str, text: str) -> dict[str, Any]:
    return {"text": {"type": "plain_text", "text": text}, "value": value}


def reward_modal(program: str | None = None) -> dict[str, Any]:
    blocks: list[dict[str, Any]] = [
        {
            "type": "input",
            "block_id": "recipient_block",
            "label": {"type": "plain_text", "text": "Recipient"},
            "element": {
                "type": "external_select",
                "action_id": "recipient",
                "min_query_length": 1,
                "placeholder": {"type": "plain_text", "text": "Find someone"},
            },
        },
        {
            "type": "input",
            "block_id": "program_block",
            "dispatch_action": True,
            "label": {"type": "plain_text", "text": "Program"},
            "element": {
                "type": "static_select",
                "action_id": "program",
                "options": [option("gift", "Gift card"), option("cash", "Cash bonus")],
            },
        },
        {
            "type": "input",
            "block_id": "amount_block",
            "label": {"type": "plain_text", "text": "Amount"},
            "element": {"type": "plain_text_input", "action_id": "amount"},
        },
    ]
    if program:
        blocks.append(
            {"type": "context", "elements": [{"type": "mrkdwn", "text": f"Program: {program}"}]}
        )
    return {
        "type": "modal",
        "callback_id": "reward_modal",
        "private_metadata": "from=CREWARDS",
        "title": {"type": "plain_text", "text": "Send a reward"},
        "submit": {"type": "plain_text", "text": "Send"},
        "blocks": blocks,
    }


def approval_blocks(request_id: str) -> list[dict[str, Any]]:
    return [
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Riya* asks for 500 for Ana"}},
        {
            "type": "actions",
            "block_id": "decision",
            "elements": [
                {
                    "type": "button",
                    "action_id": "approve",
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Approve"},
                    "value": request_id,
                },
                {
                    "type": "button",
                    "action_id": "reject",
                    "style": "danger",
                    "text": {"type": "plain_text", "text": "Reject"},
                    "value": request_id,
                },
            ],
        },
    ]


def build_app(api_url: str, seen: list[tuple[str, dict[str, Any]]]) -> App:
    """A small real Bolt app exercising each payload kind the driver sends."""
    app = App(
        signing_secret=SECRET,
        client=WebClient(token=TOKEN, base_url=api_url),
        token_verification_enabled=False,
    )

    @app.command("/reward")
    def open_modal(ack, body, client, respond):
        seen.append(("command", body))
        ack()
        client.views_open(trigger_id=body["trigger_id"], view=reward_modal())
        respond("Opening the reward form")

    @app.options("recipient")
    def recipients(ack, payload):
        seen.append(("options", payload))
        typed = payload["value"].lower()
        ack(options=[option(uid, name) for uid, name in PEOPLE if typed in name.lower()])

    @app.action("program")
    def program_chosen(ack, body, action, client):
        seen.append(("select", body))
        ack()
        client.views_update(
            view_id=body["view"]["id"],
            hash=body["view"]["hash"],
            view=reward_modal(action["selected_option"]["text"]["text"]),
        )

    @app.view("reward_modal")
    def submitted(ack, body, view, client):
        seen.append(("submit", body))
        values = view["state"]["values"]
        amount = values["amount_block"]["amount"]["value"] or ""
        if not amount.isdigit():
            ack(response_action="errors", errors={"amount_block": "Enter a whole number"})
            return
        ack()
        recipient = values["recipient_block"]["recipient"]["selected_option"]["value"]
        client.chat_postMessage(channel=recipient, text=f"You got {amount}")

    @app.action("approve")
    def approve(ack, body, action, client, respond):
        seen.append(("click", body))
        ack()
        client.chat_update(
            channel=body["container"]["channel_id"],
            ts=body["container"]["message_ts"],
            text=f"Approved by <@{body['user']['id']}> ({action['value']})",
        )
        respond("Thanks, recorded")

    @app.action("help")
    def help_clicked(ack, body):
        seen.append(("help", body))
        ack()

    @app.event("app_home_opened")
    def home_opened(event, client):
        seen.append(("home_opened", event))
        if event.get("tab") != "home":
            return
        opened = sum(1 for kind, _ in seen if kind == "home_opened")
        client.views_publish(user_id=event["user"], view=home_view(f"opened {opened} times"))

    @app.action("home_button")
    def home_clicked(ack, body):
        seen.append(("home_click", body))
        ack()

    return app


def home_view(text: str) -> dict[str, Any]:
    return {
        "type": "home",
        "blocks": [
            {"type": "section", "text": {"type": "mrkdwn", "text": text}},
            {
                "type": "actions",
                "block_id": "home_actions",
                "elements": [
                    {
                        "type": "button",
                        "action_id": "home_button",
                        "text": {"type": "plain_text", "text": "Do it"},
                        "value": "v1",
                    }
                ],
            },
        ],
    }


class BotHarness:
    def __init__(self, fake: RunningFakeSlack) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.server = ServerThread(SlackRequestHandler(build_app(fake.api_url, self.seen)))

    def payloads(self, kind: str) -> list[dict[str, Any]]:
        return [body for k, body in self.seen if k == kind]


@pytest.fixture(scope="session")
def fake_server() -> Iterator[RunningFakeSlack]:
    with start_fake_slack(bot_token=TOKEN) as running:
        yield running


@pytest.fixture(scope="session")
def bot_harness(fake_server: RunningFakeSlack) -> Iterator[BotHarness]:
    harness = BotHarness(fake_server)
    with harness.server:
        yield harness


@pytest.fixture
def fake(fake_server: RunningFakeSlack) -> RunningFakeSlack:
    fake_server.reset()
    fake_server.on_call = None
    return fake_server


@pytest.fixture
def client(fake: RunningFakeSlack) -> WebClient:
    return WebClient(token=TOKEN, base_url=fake.api_url)


@pytest.fixture
def bot(bot_harness: BotHarness, fake: RunningFakeSlack) -> BotHarness:
    bot_harness.seen.clear()
    return bot_harness


@pytest.fixture
def driver(bot: BotHarness, fake: RunningFakeSlack) -> Iterator[SlackDriver]:
    with SlackDriver(bot.server.url, SECRET, fake) as d:
        yield d
