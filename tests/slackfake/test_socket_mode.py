"""The fake's Socket Mode side: apps.connections.open with the app-level token, the WebSocket
protocol seen from a raw client, then a real Bolt app on slack_sdk's builtin SocketModeClient
driven by SocketDriver (the same payload builders as over HTTP)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_bolt import App
from slack_bolt.adapter.socket_mode import SocketModeHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.socket_mode.builtin import SocketModeClient
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import ClientConnection
from websockets.sync.client import connect as ws_connect

from simulator.slack import APP_ID, SOCKET_ACK, RunningFakeSlack, SocketDriver, start_fake_slack
from tests.slackfake.conftest import TOKEN, approval_blocks, build_app
from tests.support import HANG_S, wait_for

APP_TOKEN = "xapp-1-A0REWARDS-test"
USER = "UREQUESTER"
PROXY_VARS = ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy")


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value.response["error"]


def open_url(fake: RunningFakeSlack) -> str:
    return WebClient(base_url=fake.api_url).apps_connections_open(app_token=APP_TOKEN)["url"]


def receive(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(ws.recv(timeout=5))


# ---- apps.connections.open and the raw protocol ------------------------------------------------


@pytest.fixture
def raw_fake() -> Iterator[RunningFakeSlack]:
    """A fresh fake per test, so a raw client is the only connection."""
    with start_fake_slack(bot_token=TOKEN, app_token=APP_TOKEN) as running:
        yield running


def test_connections_open_takes_only_the_app_token(raw_fake: RunningFakeSlack, fake):
    url = open_url(raw_fake)
    port = raw_fake.socket.port
    assert re.fullmatch(
        rf"ws://127\.0\.0\.1:{port}/link/\?ticket=[0-9a-f-]{{36}}&app_id={APP_ID}", url
    )
    assert open_url(raw_fake) != url  # a fresh ticket every time

    api = raw_fake.api_url
    assert (
        error_of(lambda: WebClient(base_url=api).apps_connections_open(app_token="xapp-1-wrong"))
        == "invalid_auth"
    )
    assert (
        error_of(lambda: WebClient(base_url=api).apps_connections_open(app_token=TOKEN))
        == "not_allowed_token_type"
    )
    assert httpx.post(api + "apps.connections.open").json() == {"ok": False, "error": "not_authed"}
    # an app-level token opens connections and nothing else
    assert error_of(WebClient(token=APP_TOKEN, base_url=api).auth_test) == "not_allowed_token_type"
    # a fake configured without an app token refuses every one
    assert (
        error_of(
            lambda: WebClient(base_url=fake.api_url).apps_connections_open(app_token=APP_TOKEN)
        )
        == "invalid_auth"
    )

    calls = raw_fake.calls("apps.connections.open")
    assert [c.response.get("error") for c in calls] == [
        None,
        None,
        "invalid_auth",
        "not_allowed_token_type",
        "not_authed",
    ]
    assert all(c.params == {} for c in calls)  # the token is never recorded
    assert APP_TOKEN not in repr(raw_fake.calls())


def test_hello_envelopes_and_acks_over_a_raw_websocket(raw_fake: RunningFakeSlack):
    with ws_connect(open_url(raw_fake)) as ws:
        assert receive(ws) == {
            "type": "hello",
            "num_connections": 1,
            "debug_info": {
                "host": "applink-fake-slack",
                "build_number": 1,
                "approximate_connection_time": 3600,
            },
            "connection_info": {"app_id": APP_ID},
        }
        assert raw_fake.socket_connected(timeout=HANG_S)

        command = {"command": "/reward", "text": "help", "user_id": USER}
        envelope_id = raw_fake.post_envelope("slash_commands", command)
        assert receive(ws) == {
            "envelope_id": envelope_id,
            "type": "slash_commands",
            "payload": command,
            "accepts_response_payload": True,
        }
        ws.send(json.dumps({"envelope_id": envelope_id, "payload": {"text": "Here is help"}}))
        ack = raw_fake.wait_ack(envelope_id)
        assert ack == {"envelope_id": envelope_id, "payload": {"text": "Here is help"}}
        [call] = raw_fake.calls(SOCKET_ACK)
        assert call.params == ack and call.ok
        assert call.response["type"] == "slash_commands" and call.response["acked_after"] < 3

        # events carry retry fields and take no response payload; so do shortcuts
        event = {"type": "event_callback", "event": {"type": "app_mention", "text": "<@UBOT>"}}
        envelope_id = raw_fake.post_envelope("events_api", event)
        assert receive(ws) == {
            "envelope_id": envelope_id,
            "type": "events_api",
            "payload": event,
            "accepts_response_payload": False,
            "retry_attempt": 0,
            "retry_reason": "",
        }
        raw_fake.post_envelope("interactive", {"type": "shortcut", "callback_id": "x"})
        assert receive(ws)["accepts_response_payload"] is False
        raw_fake.post_envelope("interactive", {"type": "block_actions"})
        assert receive(ws)["accepts_response_payload"] is True
        raw_fake.post_envelope("events_api", event, retry_attempt=1, retry_reason="timeout")
        assert receive(ws) | {"envelope_id": "-"} == {
            "envelope_id": "-",
            "type": "events_api",
            "payload": event,
            "accepts_response_payload": False,
            "retry_attempt": 1,
            "retry_reason": "timeout",
        }

        # a second ack, and an ack for an envelope never sent, are recorded as such
        ws.send(json.dumps({"envelope_id": ack["envelope_id"]}))
        ws.send(json.dumps({"envelope_id": "never-sent"}))
        raw_fake.wait_for(SOCKET_ACK, lambda c: c.params["envelope_id"] == "never-sent")
        assert [c.response.get("error") for c in raw_fake.calls(SOCKET_ACK)] == [
            None,
            "already_acknowledged",
            "unknown_envelope_id",
        ]

        # no ack in time
        with pytest.raises(AssertionError, match="did not ack interactive envelope"):
            raw_fake.send_envelope("interactive", {"type": "block_actions"}, timeout=0.2)
    with pytest.raises(ValueError, match="not one of"):
        raw_fake.post_envelope("slash_command", command)


def test_tickets_are_single_use_and_only_the_link_path_connects(raw_fake: RunningFakeSlack):
    url = open_url(raw_fake)
    with ws_connect(url) as ws:
        assert receive(ws)["type"] == "hello"
        with pytest.raises(InvalidStatus) as used:
            ws_connect(url)
        assert used.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as unknown:
            ws_connect(raw_fake.socket.url + "/link/?ticket=made-up")
        assert unknown.value.response.status_code == 401
        with pytest.raises(InvalidStatus) as elsewhere:
            ws_connect(raw_fake.socket.url + "/elsewhere")
        assert elsewhere.value.response.status_code == 404
        with ws_connect(open_url(raw_fake)) as second:
            assert receive(second)["num_connections"] == 2
            # envelopes go to the newest connection
            raw_fake.post_envelope("interactive", {"type": "block_actions"})
            assert receive(second)["type"] == "interactive"
        assert raw_fake.socket.connections_opened == 2


def test_disconnect_messages(raw_fake: RunningFakeSlack):
    with ws_connect(open_url(raw_fake)) as ws:
        receive(ws)
        assert raw_fake.socket_disconnect("warning", close_after=None) == 1
        assert receive(ws) == {
            "type": "disconnect",
            "reason": "warning",
            "debug_info": {"host": "applink-fake-slack"},
        }
        raw_fake.socket_disconnect("refresh_requested", close_after=0.1)
        assert receive(ws)["reason"] == "refresh_requested"
        with pytest.raises(ConnectionClosed):
            ws.recv(timeout=5)
    with pytest.raises(ValueError, match="not one of"):
        raw_fake.socket_disconnect("bored")


def test_without_a_connection_or_without_socket_mode(raw_fake: RunningFakeSlack, fake):
    assert raw_fake.socket_connected(timeout=0.1) is False
    with pytest.raises(AssertionError, match="no Socket Mode connection"):
        raw_fake.send_envelope("slash_commands", {"text": ""}, timeout=0.2)
    with pytest.raises(RuntimeError, match="app_token"):
        fake.send_envelope("slash_commands", {"text": ""})
    refused = httpx.post(
        fake.url + "/_fake/envelope", json={"type": "slash_commands", "payload": {}}
    )
    assert refused.status_code == 409


# ---- a real Bolt app over slack_sdk's builtin Socket Mode client -----------------------------


class SocketBot:
    def __init__(self, fake: RunningFakeSlack) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        self.app: App = build_app(fake.api_url, self.seen)

        @self.app.command("/echo")
        def echo(ack, command):
            self.seen.append(("echo", command))
            ack(text=f"you said {command['text']}")

        @self.app.event("app_mention")
        def mentioned(event):
            self.seen.append(("event", event))

        self.handler = SocketModeHandler(self.app, APP_TOKEN)

    def payloads(self, kind: str) -> list[dict[str, Any]]:
        return [body for k, body in self.seen if k == kind]


@pytest.fixture(scope="module")
def socket_fake() -> Iterator[RunningFakeSlack]:
    with start_fake_slack(bot_token=TOKEN, app_token=APP_TOKEN) as running:
        yield running


@pytest.fixture(scope="module")
def socket_bot(socket_fake: RunningFakeSlack) -> Iterator[SocketBot]:
    with pytest.MonkeyPatch.context() as patch:
        for name in PROXY_VARS:  # slack_sdk's socket client would send 127.0.0.1 to a proxy
            patch.delenv(name, raising=False)
        bot = SocketBot(socket_fake)
        bot.handler.connect()
        yield bot
        bot.handler.close()


@pytest.fixture
def sfake(socket_fake: RunningFakeSlack, socket_bot: SocketBot) -> RunningFakeSlack:
    socket_fake.reset()
    socket_bot.seen.clear()
    assert socket_fake.socket_connected(timeout=10)
    return socket_fake


@pytest.fixture
def sdriver(sfake: RunningFakeSlack) -> Iterator[SocketDriver]:
    with SocketDriver(sfake) as driver:
        yield driver


def test_bolt_connects_and_a_command_ack_payload_comes_back(sfake, sdriver, socket_bot):
    response = sdriver.command(USER, "hello there", command="/echo")
    assert (response.status_code, response.json()) == (200, {"text": "you said hello there"})
    assert sdriver.last_ack == {
        "envelope_id": sdriver.last_ack["envelope_id"],
        "payload": {"text": "you said hello there"},
    }
    assert sdriver.acks() == [sdriver.last_ack]
    [body] = socket_bot.payloads("echo")
    assert (body["user_id"], body["channel_name"], body["api_app_id"]) == (USER, "rewards", APP_ID)
    # the same over the /_fake/ control, for a driver in another process
    answer = httpx.post(
        sfake.url + "/_fake/envelope",
        json={"type": "slash_commands", "payload": {**body, "text": "via HTTP"}},
        timeout=10,
    ).json()
    assert answer["ok"] is True and answer["ack"]["payload"] == {"text": "you said via HTTP"}


def test_bolt_modal_flow_over_the_socket(sfake, sdriver, socket_bot):
    response = sdriver.command(USER, "for Ana")
    assert (response.status_code, response.text) == (200, "")  # ack() with nothing
    sfake.wait_for("views.open", lambda c: c.ok)
    sfake.wait_for("response_url")
    assert [e["text"] for e in sfake.ephemerals(USER)] == ["Opening the reward form"]
    view_id = sfake.latest_view(USER)["id"]

    loaded = sdriver.options(USER, view_id, "recipient", "an")
    assert loaded.json() == {
        "options": [{"text": {"type": "plain_text", "text": "Ana Silva"}, "value": "UANA"}]
    }
    sdriver.fill(view_id, "recipient_block", "recipient", "UANA")
    assert sdriver.select(USER, view_id, "program_block", "program", "gift").status_code == 200
    sfake.wait_for("views.update", lambda c: c.ok)
    assert "Program: Gift card" in sfake.plain_text(sfake.view(view_id))

    sdriver.fill(view_id, "amount_block", "amount", "lots")
    refused = sdriver.submit(USER, view_id)
    assert refused.json() == {
        "response_action": "errors",
        "errors": {"amount_block": "Enter a whole number"},
    }
    assert [v["id"] for v in sfake.open_views(USER)] == [view_id]
    sdriver.fill(view_id, "amount_block", "amount", 500)
    assert sdriver.submit(USER, view_id).text == ""
    assert sfake.open_views(USER) == []
    sfake.wait_for("chat.postMessage", lambda c: c.ok)
    assert [m["text"] for m in sfake.dms("UANA")] == ["You got 500"]
    acked = [c.response["type"] for c in sfake.calls(SOCKET_ACK)]
    assert acked == ["slash_commands", *["interactive"] * 4]


def test_bolt_button_click_and_event(sfake, sdriver, socket_bot):
    client = WebClient(token=TOKEN, base_url=sfake.api_url)
    client.chat_postMessage(channel="UAPPROVER", text="approve?", blocks=approval_blocks("req-7"))
    [message] = sfake.dms("UAPPROVER")
    assert sdriver.click("UAPPROVER", "approve", message=message).status_code == 200
    sfake.wait_for("chat.update", lambda c: c.ok)
    assert sfake.dms("UAPPROVER")[0]["text"] == "Approved by <@UAPPROVER> (req-7)"

    event = {
        "token": "fake-verification-token",
        "team_id": "T0001",
        "api_app_id": APP_ID,
        "type": "event_callback",
        "event_id": "Ev0001",
        "event_time": int(time.time()),
        "event": {"type": "app_mention", "user": USER, "text": "<@UBOT> hi", "channel": "CREWARDS"},
    }
    ack = sfake.send_envelope("events_api", event)
    assert "payload" not in ack  # events are acked with the envelope_id alone
    # Bolt acks an event before its listener runs, on another thread.
    wait_for(lambda: socket_bot.payloads("event"))
    assert socket_bot.payloads("event")[0]["text"] == "<@UBOT> hi"


def test_home_opened_and_a_home_click_over_the_socket(sfake, sdriver, socket_bot):
    ack = sdriver.open_home(USER)
    assert (ack.status_code, ack.text) == (200, "")  # an event's ack carries nothing
    sfake.wait_for("views.publish", lambda c: c.ok)
    [event] = socket_bot.payloads("home_opened")
    assert (event["type"], event["user"], event["tab"]) == ("app_home_opened", USER, "home")
    home = sfake.home(USER)
    sdriver.click_home(USER, "home_button")
    wait_for(lambda: socket_bot.payloads("home_click"))
    [click] = socket_bot.payloads("home_click")
    assert click["container"] == {"type": "view", "view_id": home["id"]}
    assert click["view"]["type"] == "home"
    assert [c.response["type"] for c in sfake.calls(SOCKET_ACK)] == ["events_api", "interactive"]


def test_bolt_reconnects_when_slack_asks(sfake, sdriver, socket_bot):
    opened = sfake.socket.connections_opened
    assert sfake.socket_disconnect("refresh_requested") >= 1
    sfake.wait_for("apps.connections.open", lambda c: c.ok)
    wait_for(lambda: sfake.socket.connections_opened != opened)
    assert sfake.socket.connections_opened == opened + 1
    response = sdriver.command(USER, "after the refresh", command="/echo")
    assert response.json() == {"text": "you said after the refresh"}


def test_a_wrong_app_token_is_refused_to_the_client(socket_fake: RunningFakeSlack, monkeypatch):
    for name in PROXY_VARS:
        monkeypatch.delenv(name, raising=False)
    web = WebClient(base_url=socket_fake.api_url)
    for token, error in (("xapp-1-not-ours", "invalid_auth"), (TOKEN, "not_allowed_token_type")):
        client = SocketModeClient(app_token=token, web_client=web, auto_reconnect_enabled=False)
        try:
            with pytest.raises(SlackApiError) as info:
                client.connect()
            assert info.value.response["error"] == error
        finally:
            client.close()
