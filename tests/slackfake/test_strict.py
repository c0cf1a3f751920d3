"""The stand-in is as strict as Slack: payloads through slack_sdk's models and Slack's limits,
answers to Slack's requests, response_url uses, channel membership, scopes, undeliverable DMs,
latency and rate limits. Each refusal answers as Slack does and is recorded as a violation."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from websockets.sync.client import connect as ws_connect

from plumbing.httpserver import ServerThread
from simulator.slack import RunningFakeSlack, SlackDriver, start_fake_slack
from simulator.slack.fake import HTTP_ACK
from simulator.slack.validate import (
    blocks_problems,
    command_answer_problems,
    options_answer_problems,
    submission_answer_problems,
    view_problems,
)
from simulator.slack.violations import ledger_mark, unclaimed_since
from simulator.slack.workspace import dm_channel
from tests.slackfake.conftest import SECRET, TOKEN, approval_blocks, option, reward_modal

APP_TOKEN = "xapp-1-A0REWARDS-strict"


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value.response["error"]


def section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text}}


def button(value: str = "v", text: str = "Go", action_id: str = "go") -> dict[str, Any]:
    return {
        "type": "button",
        "action_id": action_id,
        "text": {"type": "plain_text", "text": text},
        "value": value,
    }


def select(options: list[dict[str, Any]], initial: dict[str, Any] | None = None) -> dict[str, Any]:
    element: dict[str, Any] = {"type": "static_select", "action_id": "pick", "options": options}
    if initial is not None:
        element["initial_option"] = initial
    return {"type": "section", "text": {"type": "mrkdwn", "text": "Pick"}, "accessory": element}


# ---- Block Kit, through slack_sdk's models and Slack's limits --------------------------------

BAD_BLOCKS = {
    "nested button value over 2,000": [{"type": "actions", "elements": [button("v" * 2001)]}],
    "button text over 75": [{"type": "actions", "elements": [button(text="b" * 76)]}],
    "more than 25 actions": [
        {"type": "actions", "elements": [button(action_id=f"b{i}") for i in range(26)]}
    ],
    "empty actions": [{"type": "actions", "elements": []}],
    "option text over 75": [select([option("a", "o" * 76)])],
    "more than 100 static options": [select([option(str(i), str(i)) for i in range(101)])],
    "initial option not among the options": [
        select([option("a", "A"), option("b", "B")], initial=option("c", "C"))
    ],
    "section text over 3,000": [section("s" * 3001)],
    "a field over 2,000": [{"type": "section", "fields": [{"type": "mrkdwn", "text": "f" * 2001}]}],
    "more than 10 fields": [
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"} for _ in range(11)]}
    ],
    "header over 150": [{"type": "header", "text": {"type": "plain_text", "text": "h" * 151}}],
    "mrkdwn header": [{"type": "header", "text": {"type": "mrkdwn", "text": "*h*"}}],
    "more than 10 context elements": [
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"} for _ in range(11)]}
    ],
    "block_id over 255": [section("x") | {"block_id": "b" * 256}],
    "action_id over 255": [{"type": "actions", "elements": [button(action_id="a" * 256)]}],
    "duplicate block_id": [
        section("x") | {"block_id": "same"},
        section("y") | {"block_id": "same"},
    ],
    "unknown property": [section("x") | {"colour": "red"}],
    "empty text": [section("")],
    "unknown block type": [{"type": "marquee", "text": "hi"}],
    "more than 50 blocks": [section(str(i)) for i in range(51)],
}


@pytest.mark.parametrize("case", sorted(BAD_BLOCKS))
def test_slack_refuses_bad_blocks_and_the_refusal_is_a_violation(case, client, fake):
    with pytest.raises(SlackApiError) as info:
        client.chat_postMessage(channel="CREWARDS", text="fallback", blocks=BAD_BLOCKS[case])
    assert info.value.response["error"] == "invalid_blocks"
    assert info.value.response["response_metadata"]["messages"], case
    assert fake.messages() == []
    [violation] = fake.take_violations()
    assert (violation.method, violation.error) == ("chat.postMessage", "invalid_blocks")


def test_valid_blocks_pass_including_what_the_bot_sends(client, fake):
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": "Reward"}},
        section("*bold* <@UANA>"),
        {"type": "section", "fields": [{"type": "mrkdwn", "text": "f"} for _ in range(10)]},
        select([option("a", "A"), option("b", "B")], initial=option("b", "B")),
        {"type": "context", "elements": [{"type": "mrkdwn", "text": "c"}]},
        *approval_blocks("r-1"),
        {"type": "divider"},
    ]
    assert blocks_problems(blocks, 50) == []
    assert client.chat_postMessage(channel="CREWARDS", text="ok", blocks=blocks)["ok"]
    assert view_problems(reward_modal()) == []
    assert fake.violations() == []


def test_long_text_is_refused_past_4000(client, fake):
    assert error_of(lambda: client.chat_postMessage(channel="CREWARDS", text="t" * 4001)) == (
        "msg_too_long"
    )
    [violation] = fake.take_violations()
    assert violation.error == "msg_too_long" and "4001" in violation.problems[0]
    assert client.chat_postMessage(channel="CREWARDS", text="t" * 4000)["ok"]
    # With the rule off (Slack's documented behaviour of old), long text is cut, and recorded.
    fake.rules.off("msg_too_long", "the cut Slack used to make, checked here")
    answer = client.chat_postMessage(channel="CREWARDS", text="t" * 4100)
    assert answer["ok"] and len(fake.message("CREWARDS", answer["ts"])["text"]) == 4000
    [violation] = fake.take_violations()
    assert violation.error == "text_truncated" and "4100" in violation.problems[0]


def test_blocks_past_12000_characters_of_text_are_refused(client, fake):
    blocks = [section("b" * 2900) for _ in range(5)]  # each section is fine, together 14,500
    assert error_of(
        lambda: client.chat_postMessage(channel="CREWARDS", text="codes", blocks=blocks)
    ) == ("msg_blocks_too_long")
    assert fake.take_violations()[0].error == "msg_blocks_too_long"
    assert client.chat_postMessage(channel="CREWARDS", text="codes", blocks=blocks[:4])["ok"]


def test_read_only_and_thread_only_channels(client, fake):
    fake.update_channel("CGENERAL", read_only=True, bot_member=True)
    assert error_of(lambda: client.chat_postMessage(channel="CGENERAL", text="x")) == (
        "restricted_action_read_only_channel"
    )
    fake.update_channel("CGENERAL", read_only=False, thread_only=True)
    assert error_of(lambda: client.chat_postMessage(channel="CGENERAL", text="x")) == (
        "restricted_action_thread_only_channel"
    )
    fake.update_channel("CGENERAL", thread_only=False)
    parent = client.chat_postMessage(channel="CGENERAL", text="top")
    fake.update_channel("CGENERAL", thread_only=True)
    assert client.chat_postMessage(channel="CGENERAL", text="reply", thread_ts=parent["ts"])["ok"]


def test_home_tab_off_and_views_too_large(client, fake):
    home = {"type": "home", "blocks": [section("x" * 2900) for _ in range(100)]}
    assert error_of(lambda: client.views_publish(user_id="UANA", view=home)) == "view_too_large"
    assert fake.take_violations()[0].error == "view_too_large"
    fake.home_tab(False)
    small = {"type": "home", "blocks": [section("hello")]}
    assert error_of(lambda: client.views_publish(user_id="UANA", view=small)) == "not_enabled"


def test_view_limits(client, fake):
    too_many = reward_modal() | {"blocks": [section(str(i)) for i in range(101)]}
    metadata = reward_modal() | {"private_metadata": "m" * 3001}
    mrkdwn_title = reward_modal() | {"title": {"type": "mrkdwn", "text": "Send"}}
    nested = reward_modal() | {
        "blocks": [
            *reward_modal()["blocks"],
            {"type": "actions", "elements": [button("v" * 2001)]},
        ]
    }
    for view in (too_many, metadata, mrkdwn_title, nested):
        trigger = fake.issue_trigger("UANA")
        opening = lambda t=trigger, v=view: client.views_open(trigger_id=t, view=v)  # noqa: E731
        assert error_of(opening) == "invalid_arguments"
    assert [v.error for v in fake.take_violations()] == ["invalid_arguments"] * 4


def test_home_tab_publish(client, fake):
    home = {"type": "home", "blocks": [section(str(i)) for i in range(100)]}
    published = client.views_publish(user_id="UANA", view=home)["view"]
    assert fake.home("UANA")["id"] == published["id"] and len(published["blocks"]) == 100
    again = client.views_publish(user_id="UANA", view={"type": "home", "blocks": [section("x")]})
    assert again["view"]["id"] == published["id"]
    over = {"type": "home", "blocks": [section(str(i)) for i in range(101)]}
    assert error_of(lambda: client.views_publish(user_id="UANA", view=over)) == "invalid_arguments"
    with_title = home | {"title": {"type": "plain_text", "text": "x"}}
    assert error_of(lambda: client.views_publish(user_id="UANA", view=with_title)) == (
        "invalid_arguments"
    )
    assert len(fake.take_violations()) == 2


# ---- the app's answers to Slack's requests ---------------------------------------------------


def test_answer_checks_as_data():
    view = reward_modal()
    assert submission_answer_problems(None, view) == []
    assert (
        submission_answer_problems(
            {"response_action": "errors", "errors": {"amount_block": "Enter a number"}}, view
        )
        == []
    )
    [problem] = submission_answer_problems(
        {"response_action": "errors", "errors": {"amount": "Enter a number"}}, view
    )
    assert "'amount' is not an input block of the view" in problem
    assert submission_answer_problems({"response_action": "close"}, view)
    assert submission_answer_problems(
        {
            "response_action": "update",
            "view": view | {"title": {"type": "plain_text", "text": "t" * 25}},
        },
        view,
    )
    assert command_answer_problems("plain text") == []
    assert command_answer_problems({"text": "t" * 4001})
    assert options_answer_problems({"options": [option("a", "A")]}) == []
    assert options_answer_problems({"options": [option(str(i), "x") for i in range(101)]})
    assert options_answer_problems(
        {"options": [{"text": {"type": "mrkdwn", "text": "A"}, "value": "a"}]}
    )
    assert options_answer_problems({"options": [option("v" * 151, "A")]})
    assert (
        options_answer_problems(
            {
                "option_groups": [
                    {"label": {"type": "plain_text", "text": "G"}, "options": [option("a", "A")]}
                ]
            }
        )
        == []
    )


class Answering:
    """A stand-in app over HTTP that answers whatever a test tells it to."""

    def __init__(self) -> None:
        self.status = 200
        self.body: Any = None

    def __call__(self, environ: dict[str, Any], start_response: Any) -> list[bytes]:
        environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
        content = b"" if self.body is None else json.dumps(self.body).encode()
        start_response(f"{self.status} X", [("Content-Type", "application/json")])
        return [content]


@pytest.fixture
def answering(fake: RunningFakeSlack) -> Iterator[tuple[Answering, SlackDriver]]:
    app = Answering()
    with ServerThread(app) as server, SlackDriver(server.url, SECRET, fake) as driver:
        yield app, driver


def test_http_answers_are_judged_and_timed(answering, client, fake):
    app, driver = answering
    view = client.views_open(trigger_id=fake.issue_trigger("UANA"), view=reward_modal())["view"]
    driver.fill(view["id"], "recipient_block", "recipient", "UBEN")
    driver.fill(view["id"], "amount_block", "amount", "5")

    app.body = {"response_action": "errors", "errors": {"amount": "Enter a number"}}
    driver.submit("UANA", view["id"], enforce_required=False)  # keyed by action id: wrong
    app.body = {"options": [option(str(i), str(i)) for i in range(101)]}
    driver.options("UANA", view["id"], "recipient", "ana")
    app.status, app.body = 404, None  # Bolt's answer to a request nobody handles
    driver.command("UANA", "help")
    app.status, app.body = 200, {"text": "fine", "blocks": [section("ok")]}
    driver.command("UANA", "help")

    acks = [c.response for c in fake.calls(HTTP_ACK)]
    assert [(a["type"], a["ok"]) for a in acks] == [
        ("view_submission", False),
        ("block_suggestion", False),
        ("slash_commands", False),
        ("slash_commands", True),
    ]
    assert all(a["acked_after"] >= 0 and a["late"] is False for a in acks)
    assert fake.acks() == fake.calls(HTTP_ACK)
    found = fake.take_violations()
    assert [v.method for v in found] == [HTTP_ACK] * 3
    assert "is not an input block" in found[0].problems[0]
    assert "HTTP 404" in found[2].problems[0]


def test_socket_mode_acks_are_judged_the_same_way():
    with start_fake_slack(bot_token=TOKEN, app_token=APP_TOKEN) as fake:
        url = WebClient(base_url=fake.api_url).apps_connections_open(app_token=APP_TOKEN)["url"]
        with ws_connect(url) as ws:
            json.loads(ws.recv(timeout=5))  # hello
            submitted = {"type": "view_submission", "view": reward_modal()}
            envelope_id = fake.post_envelope("interactive", submitted)
            json.loads(ws.recv(timeout=5))
            bad = {"response_action": "errors", "errors": {"nope": "x"}}
            ws.send(json.dumps({"envelope_id": envelope_id, "payload": bad}))
            fake.wait_ack(envelope_id)
            envelope_id = fake.post_envelope("slash_commands", {"command": "/reward"})
            json.loads(ws.recv(timeout=5))
            ws.send(json.dumps({"envelope_id": envelope_id, "payload": {"text": "ok"}}))
            fake.wait_ack(envelope_id)
        first, second = (c.response for c in fake.acks())
        assert "is not an input block" in first["problems"][0] and "problems" not in second
        [violation] = fake.take_violations()
        assert violation.error == "invalid_answer"


# ---- response_url ----------------------------------------------------------------------------


def test_response_url_takes_five_posts_within_30_minutes(fake):
    url = fake.issue_response_url("UBEN", "CREWARDS")
    answers = [httpx.post(url, json={"text": f"post {i}"}) for i in range(6)]
    assert [a.status_code for a in answers] == [200] * 5 + [404]
    assert answers[-1].text == "used_url"
    assert [e["text"] for e in fake.ephemerals("UBEN")] == [f"post {i}" for i in range(5)]
    bad = httpx.post(
        fake.issue_response_url("UBEN", "CREWARDS"),
        json={"text": "x", "blocks": [section("s" * 3001)]},
    )
    assert (bad.status_code, bad.text) == (400, "invalid_blocks")
    ttl = fake.hook_ttl
    fake.hook_ttl = 0.05
    try:
        late = fake.issue_response_url("UBEN", "CREWARDS")
        time.sleep(0.1)
        assert httpx.post(late, json={"text": "late"}).text == "expired_url"
    finally:
        fake.hook_ttl = ttl
    assert [v.error for v in fake.take_violations()] == [
        "used_url",
        "invalid_blocks",
        "expired_url",
    ]


# ---- channels, DMs and scopes ----------------------------------------------------------------


def test_channel_membership_and_chat_write_public(client, fake):
    # CREWARDS is public and the bot is not in it: chat:write.public lets it post
    assert client.chat_postMessage(channel="CREWARDS", text="hi")["ok"]
    fake.set_scopes({"chat:write", "users:read"})
    assert error_of(lambda: client.chat_postMessage(channel="CREWARDS", text="hi")) == (
        "not_in_channel"
    )
    fake.update_channel("CREWARDS", bot_member=True)
    assert client.chat_postMessage(channel="CREWARDS", text="hi")["ok"]
    # a private channel the bot is not in does not exist for it
    fake.add_channel("CSECRET", "secret", private=True, members=["UANA"])
    assert error_of(lambda: client.chat_postMessage(channel="CSECRET", text="x")) == (
        "channel_not_found"
    )
    assert error_of(lambda: client.chat_postMessage(channel="CNOPE", text="x")) == (
        "channel_not_found"
    )
    fake.update_channel("CAPPROVALS", archived=True)
    assert error_of(lambda: client.chat_postMessage(channel="CAPPROVALS", text="x")) == (
        "is_archived"
    )
    fake.add_channel("CTEAM", "team", bot_member=True, members=["UANA"])
    assert client.chat_postEphemeral(channel="CTEAM", user="UANA", text="psst")["ok"]
    assert error_of(lambda: client.chat_postEphemeral(channel="CTEAM", user="UBEN", text="x")) == (
        "user_not_in_channel"
    )
    assert fake.violations() == []  # refusals of where to post are Slack's answers, not bugs


def test_undeliverable_dms(client, fake):
    assert client.conversations_open(users="UANA")["channel"]["id"] == dm_channel("UANA")
    fake.deactivate_user("UANA")
    assert error_of(lambda: client.conversations_open(users="UANA")) == "user_disabled"
    assert error_of(lambda: client.chat_postMessage(channel="UANA", text="x")) == "user_disabled"
    assert (
        error_of(lambda: client.chat_postMessage(channel=dm_channel("UANA"), text="x"))
        == "user_disabled"
    )
    assert client.users_info(user="UANA")["user"]["deleted"] is True
    assert error_of(lambda: client.conversations_open(users="UBOTUSER")) == "cannot_dm_bot"
    assert error_of(lambda: client.chat_postMessage(channel="UBOTUSER", text="x")) == (
        "cannot_dm_bot"
    )


def test_scopes_decide_what_the_app_may_see_and_do(client, fake):
    fake.set_scopes({"chat:write", "users:read"})
    assert "email" not in client.users_info(user="UANA")["user"]["profile"]
    assert all("email" not in m["profile"] for m in client.users_list()["members"])
    with pytest.raises(SlackApiError) as info:
        client.users_lookupByEmail(email="ana@example.com")
    assert (info.value.response["error"], info.value.response["needed"]) == (
        "missing_scope",
        "users:read.email",
    )
    assert error_of(lambda: client.conversations_open(users="UANA")) == "missing_scope"


def test_users_list_pages_through_everyone(client, fake):
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        page = client.users_list(limit=4, cursor=cursor)
        seen += [m["id"] for m in page["members"]]
        pages += 1
        cursor = page["response_metadata"]["next_cursor"]
        if not cursor:
            break
    assert sorted(seen) == sorted(fake.users) and pages == 3
    assert {"UBOTUSER", "UBOT"} <= set(seen)  # bots are listed, as Slack lists them
    assert len(client.users_list()["members"]) == len(fake.users)
    assert error_of(lambda: client.users_list(cursor="bm9wZQ==")) == "invalid_cursor"


# ---- pace ------------------------------------------------------------------------------------


def test_latency_per_method(client, fake):
    fake.set_latency("users.info", 0.3)
    began = time.monotonic()
    client.users_info(user="UANA")
    assert time.monotonic() - began >= 0.3  # a floor the stand-in guarantees, not a speed goal
    began = time.monotonic()
    client.auth_test()
    slow_auth = time.monotonic() - began >= 0.3
    assert not slow_auth or fake.pace.latency("auth.test") == 0  # only users.info was slowed
    assert fake.pace.latency("auth.test") == 0 and fake.pace.latency("users.info") == 0.3
    fake.set_latency("*", 0.2)
    assert fake.pace.latency("chat.update") == 0.2 and fake.pace.latency("users.info") == 0.3


def test_rate_limit_tiers_and_the_per_channel_post_limit(client, fake):
    assert fake.rules.on("rate_limits")  # on by default, in every test
    for _ in range(20):  # users.list is Tier 2: 20 a minute
        client.users_list(limit=1)
    with pytest.raises(SlackApiError) as info:
        client.users_list(limit=1)
    assert info.value.response.status_code == 429
    assert 1 <= int(info.value.response.headers["Retry-After"]) <= 60
    assert client.users_info(user="UANA")["ok"]  # other methods have their own allowance
    for i in range(5):  # chat.postMessage: a short burst, then about one a second per channel
        client.chat_postMessage(channel="CREWARDS", text=str(i))
    assert error_of(lambda: client.chat_postMessage(channel="CREWARDS", text="6")) == "ratelimited"
    assert client.chat_postMessage(channel="CGENERAL", text="elsewhere")["ok"]
    with pytest.raises(ValueError, match="say why"):
        fake.rate_limits(False)
    fake.rate_limits(False, why="checked: a rule goes off only with a reason")
    assert fake.rules.switched_off() == {
        "rate_limits": "checked: a rule goes off only with a reason"
    }
    assert client.users_list(limit=1)["ok"]
    fake.reset()
    assert fake.rules.on("rate_limits")


def test_a_post_to_a_person_and_to_their_dm_channel_count_as_one_conversation(
    client, fake, monkeypatch
):
    """Slack counts posts per conversation: a DM posted to the user id lands in the app's DM
    with them, the D… channel its answer names, and both count against that one channel.
    The stand-in's clock stands still, so no refill comes however slow the machine is."""
    now = time.monotonic()
    monkeypatch.setattr(fake.pace, "_clock", lambda: now)
    dm = client.chat_postMessage(channel="UANA", text="0")["channel"]
    assert dm.startswith("D")
    for i in range(1, 4):
        client.chat_postMessage(channel="UANA", text=str(i))
    client.chat_postMessage(channel=dm, text="4")  # the burst's fifth, whichever id is used
    assert error_of(lambda: client.chat_postMessage(channel=dm, text="5")) == "ratelimited"
    assert error_of(lambda: client.chat_postMessage(channel="UANA", text="5")) == "ratelimited"
    assert client.chat_postMessage(channel="UBEN", text="another conversation")["ok"]


# ---- the strictness check and the HTTP controls ---------------------------------------------


def test_unclaimed_violations_are_what_fails_a_test(client, fake):
    mark = ledger_mark()
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="CREWARDS", text="x", blocks=[section("")])
    assert [v.error for v in unclaimed_since(mark)] == ["invalid_blocks"]
    fake.take_violations()
    assert unclaimed_since(mark) == []


def test_http_controls_for_the_new_switches(fake, client):
    http = httpx.Client(base_url=fake.url)
    assert http.post("/_fake/latency", json={"method": "users.info", "seconds": 0.01}).json()["ok"]
    assert fake.pace.latency("users.info") == 0.01
    assert http.post("/_fake/rate_limits", json={"enabled": True}).json()["ok"]
    assert fake.pace.enabled
    assert http.post("/_fake/rate_limits", json={"enabled": False}).status_code == 400  # why?
    off = {"off": "rate_limits", "why": "a control test"}
    assert http.post("/_fake/rules", json=off).json()["off"] == {"rate_limits": "a control test"}
    assert not fake.pace.enabled
    http.post("/_fake/channel", json={"id": "CGENERAL", "read_only": True, "bot_member": True})
    assert error_of(lambda: client.chat_postMessage(channel="CGENERAL", text="x")) == (
        "restricted_action_read_only_channel"
    )
    http.post("/_fake/user", json={"id": "UBEN", "deactivated": True})
    assert error_of(lambda: client.conversations_open(users="UBEN")) == "user_disabled"
    http.post("/_fake/channel", json={"id": "CNEW", "name": "new", "bot_member": True})
    assert client.chat_postMessage(channel="CNEW", text="hi")["ok"]
    http.post("/_fake/channel", json={"id": "CNEW", "archived": True})
    assert error_of(lambda: client.chat_postMessage(channel="CNEW", text="hi")) == "is_archived"
    http.post("/_fake/scopes", json={"scopes": ["chat:write"]})
    assert error_of(lambda: client.users_info(user="UANA")) == "missing_scope"
    with pytest.raises(SlackApiError):
        client.chat_postMessage(channel="CAPPROVALS", text="x", blocks=[section("")])
    assert [v["error"] for v in http.get("/_fake/violations").json()["violations"]] == [
        "invalid_blocks"
    ]
    assert len(http.post("/_fake/violations").json()["violations"]) == 1
    assert fake.take_violations() == []
    assert http.post("/_fake/user", json={"id": "UANA"}).status_code == 400


def test_an_event_acked_late_is_a_failure_and_is_delivered_again(fake: RunningFakeSlack) -> None:
    """Slack shows operation_timeout after 3 s and delivers an event it did not see acked
    again, with X-Slack-Retry-Num and X-Slack-Retry-Reason (docs.slack.dev/apis/events-api)."""
    seen: list[dict[str, str]] = []

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        seen.append(
            {
                "num": environ.get("HTTP_X_SLACK_RETRY_NUM", ""),
                "reason": environ.get("HTTP_X_SLACK_RETRY_REASON", ""),
            }
        )
        if len(seen) == 1:
            time.sleep(3.2)  # the first delivery is answered too late
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b""]

    with ServerThread(app, "127.0.0.1", 0, 4) as server:
        driver = SlackDriver(server.url, SECRET, fake, path="/")
        response = driver.event({"type": "app_home_opened", "user": "UANA", "tab": "home"})
        assert response.status_code == 200
        assert seen == [{"num": "", "reason": ""}, {"num": "1", "reason": "http_timeout"}]
        [late] = fake.take_violations()
        assert "operation_timeout" in str(late)
        fake.rules.off("event_redelivery", "checked: without the rule, no second delivery")
        fake.rules.off("late_ack", "checked: without the rule, a late ack is no failure")
        seen.clear()
        seen.append({"num": "", "reason": ""})  # the app answers at once from now on
        driver.event({"type": "app_home_opened", "user": "UANA", "tab": "home"})
        assert len(seen) == 2 and fake.take_violations() == []
