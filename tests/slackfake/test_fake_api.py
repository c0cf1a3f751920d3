"""The fake Web API through a real slack_sdk WebClient, as the bot will use it."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pytest
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler

from simulator.slack import Call, RunningFakeSlack, start_fake_slack
from simulator.slack.workspace import dm_channel
from tests.slackfake.conftest import TOKEN, approval_blocks, reward_modal


def error_of(call) -> str:
    with pytest.raises(SlackApiError) as info:
        call()
    return info.value.response["error"]


def test_auth_test_names_the_bot(client: WebClient):
    answer = client.auth_test()
    assert (answer["user_id"], answer["team_id"], answer["bot_id"]) == ("UBOT", "T0001", "BREWARDS")
    assert answer["url"] == "https://rewards-demo.slack.com/"


def test_wrong_or_missing_token_is_rejected(fake: RunningFakeSlack):
    assert (
        error_of(WebClient(token="xoxb-wrong", base_url=fake.api_url).auth_test) == "invalid_auth"
    )
    assert error_of(WebClient(base_url=fake.api_url).auth_test) == "not_authed"
    # a token param works like the header
    answer = httpx.post(fake.api_url + "auth.test", data={"token": TOKEN}).json()
    assert answer["ok"] is True
    assert [c.response.get("error") for c in fake.calls("auth.test")] == [
        "invalid_auth",
        "not_authed",
        None,
    ]


def test_unknown_method(client: WebClient):
    assert error_of(lambda: client.api_call("chat.scheduleMessage")) == "unknown_method"


def test_post_message_to_user_lands_in_dm_with_increasing_ts(client: WebClient, fake):
    first = client.chat_postMessage(channel="UANA", text="hello", blocks=approval_blocks("r1"))
    second = client.chat_postMessage(channel="CREWARDS", text="in channel", thread_ts=first["ts"])
    assert first["channel"] == dm_channel("UANA") == fake.dm_channel("UANA")
    assert float(second["ts"]) > float(first["ts"])
    assert first["message"]["blocks"][1]["elements"][0]["value"] == "r1"
    [dm] = fake.dms("UANA")
    assert (dm["channel"], dm["ts"], dm["text"], dm["edits"]) == (
        dm_channel("UANA"),
        first["ts"],
        "hello",
        [],
    )
    [threaded] = fake.messages("CREWARDS")
    assert threaded["thread_ts"] == first["ts"]
    with pytest.warns(UserWarning, match="text"):  # the SDK warns too, then sends it
        assert error_of(lambda: client.chat_postMessage(channel="CREWARDS")) == "no_text"
    assert error_of(lambda: client.chat_postMessage(channel="UNOBODY", text="x")) == (
        "channel_not_found"
    )


def test_form_body_with_json_string_blocks(fake, client: WebClient):
    blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": "*form* body"}}]
    answer = httpx.post(
        fake.api_url + "chat.postMessage",
        data={"channel": "CREWARDS", "blocks": json.dumps(blocks)},
        headers={"Authorization": f"Bearer {TOKEN}"},
    ).json()
    assert answer["ok"] is True
    stored = fake.message("CREWARDS", answer["ts"])
    assert stored["blocks"][0]["text"]["text"] == "*form* body"
    assert stored["blocks"][0]["block_id"]  # Slack fills in missing block ids
    assert fake.plain_text(stored) == "*form* body"


def test_update_replaces_content_and_keeps_history(client: WebClient, fake):
    posted = client.chat_postMessage(channel="UAPPROVER", text="asks", blocks=approval_blocks("r"))
    updated = client.chat_update(channel=posted["channel"], ts=posted["ts"], text="Approved")
    assert updated["message"]["text"] == "Approved"
    [msg] = fake.dms("UAPPROVER")
    assert msg["blocks"] == []  # text-only update removes the buttons, as in Slack
    assert [e["text"] for e in msg["edits"]] == ["asks"]
    assert msg["edits"][0]["blocks"][1]["elements"][0]["action_id"] == "approve"
    assert error_of(
        lambda: client.chat_update(channel=dm_channel("UAPPROVER"), ts="1.2", text="x")
    ) == ("message_not_found")
    assert error_of(lambda: client.chat_update(channel="UAPPROVER", ts=posted["ts"], text="x")) == (
        "channel_not_found"
    )


def test_post_ephemeral(client: WebClient, fake):
    answer = client.chat_postEphemeral(channel="CAPPROVALS", user="UBEN", text="only you")
    [eph] = fake.ephemerals("UBEN")
    assert (eph["ts"], eph["channel"], eph["text"]) == (
        answer["message_ts"],
        "CAPPROVALS",
        "only you",
    )
    assert fake.ephemerals("UANA") == []
    assert fake.messages() == []
    assert error_of(
        lambda: client.chat_postEphemeral(channel="CAPPROVALS", user="UX", text="x")
    ) == ("user_not_in_channel")
    # Where the bot is not a member, refused even with chat:write.public (node-slack-sdk#977).
    assert error_of(
        lambda: client.chat_postEphemeral(channel="CREWARDS", user="UBEN", text="x")
    ) == ("not_in_channel")
    assert error_of(lambda: client.chat_postEphemeral(channel="C1", user="UBEN", text="x")) == (
        "channel_not_found"
    )


def test_conversations_open(client: WebClient):
    assert client.conversations_open(users="UCHO")["channel"]["id"] == dm_channel("UCHO")
    assert client.conversations_open(users=["UCHO"])["channel"]["id"] == dm_channel("UCHO")
    assert error_of(lambda: client.conversations_open(users="UNOPE")) == "user_not_found"
    assert error_of(lambda: client.conversations_open(users="UBOTUSER")) == "cannot_dm_bot"


def test_user_directory(client: WebClient):
    riya = client.users_info(user="UREQUESTER")["user"]
    assert (riya["real_name"], riya["profile"]["email"], riya["is_bot"]) == (
        "Riya Kapoor",
        "riya@example.com",
        False,
    )
    assert "email" not in client.users_info(user="UNOMAIL")["user"]["profile"]
    assert client.users_info(user="UBOTUSER")["user"]["is_bot"] is True
    assert client.users_lookupByEmail(email="ALEX@example.com")["user"]["id"] == "UAPPROVER"
    assert error_of(lambda: client.users_info(user="UNOPE")) == "user_not_found"
    assert error_of(lambda: client.users_lookupByEmail(email="x@example.com")) == "users_not_found"


def test_custom_directory_and_add_user():
    users = {"UONE": {"id": "UONE", "name": "one", "profile": {"email": "one@example.com"}}}
    with start_fake_slack(bot_token="xoxb-x", users=users) as fake:
        client = WebClient(token="xoxb-x", base_url=fake.api_url)
        assert client.users_lookupByEmail(email="one@example.com")["user"]["id"] == "UONE"
        assert error_of(lambda: client.users_info(user="UANA")) == "user_not_found"
        fake.add_user({"id": "UTWO", "name": "two", "profile": {}})
        assert client.users_info(user="UTWO")["user"]["name"] == "two"
        fake.reset()
        assert error_of(lambda: client.users_info(user="UTWO")) == "user_not_found"


def test_rate_limit_then_retry_succeeds(fake):
    fake.fail_next("chat.postMessage", times=1, retry_after=0)
    client = WebClient(
        token=TOKEN, base_url=fake.api_url, retry_handlers=[RateLimitErrorRetryHandler()]
    )
    answer = client.chat_postMessage(channel="CREWARDS", text="eventually")
    assert answer["ok"] is True
    calls = fake.calls("chat.postMessage")
    assert [(c.status, c.response.get("error")) for c in calls] == [
        (429, "ratelimited"),
        (200, None),
    ]
    assert [m["text"] for m in fake.messages()] == ["eventually"]


def test_fail_next_headers_and_plain_errors(fake, client: WebClient):
    fake.fail_next("users.info", retry_after=7)
    raw = httpx.post(
        fake.api_url + "users.info",
        data={"user": "UANA"},
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert (raw.status_code, raw.headers["retry-after"], raw.json()["error"]) == (
        429,
        "7",
        "ratelimited",
    )
    # without a retry handler the SDK surfaces the 429
    fake.fail_next("users.info")
    with pytest.raises(SlackApiError) as info:
        client.users_info(user="UANA")
    assert info.value.response.status_code == 429
    fake.fail_next("chat.update", times=2, status=200, error="internal_error")
    for _ in range(2):
        assert (
            error_of(lambda: client.chat_update(channel="CREWARDS", ts="1", text="x"))
            == "internal_error"
        )
    assert (
        error_of(lambda: client.chat_update(channel="CREWARDS", ts="1", text="x"))
        == "message_not_found"
    )


def test_views_open_trigger_rules(client: WebClient, fake):
    trigger = fake.issue_trigger("UREQUESTER")
    view = client.views_open(trigger_id=trigger, view=reward_modal())["view"]
    assert view["id"].startswith("V") and view["hash"] and view["callback_id"] == "reward_modal"
    assert view["state"] == {"values": {}}
    assert fake.latest_view("UREQUESTER")["id"] == view["id"]
    assert fake.latest_view("UANA") is None
    again = lambda: client.views_open(trigger_id=trigger, view=reward_modal())  # noqa: E731
    assert error_of(again) == "trigger_exchanged"
    assert error_of(lambda: client.views_open(trigger_id="1.2.3", view=reward_modal())) == (
        "invalid_trigger_id"
    )


def test_expired_trigger(client: WebClient, fake):
    ttl = fake.trigger_ttl
    fake.trigger_ttl = 0.05
    try:
        trigger = fake.issue_trigger("UREQUESTER")
        time.sleep(0.1)
        assert error_of(lambda: client.views_open(trigger_id=trigger, view=reward_modal())) == (
            "expired_trigger_id"
        )
    finally:
        fake.trigger_ttl = ttl


def test_invalid_view_keeps_the_trigger(client: WebClient, fake):
    trigger = fake.issue_trigger("UANA")
    bad = reward_modal() | {"title": {"type": "plain_text", "text": "A title far longer than 24"}}
    with pytest.raises(SlackApiError) as info:
        client.views_open(trigger_id=trigger, view=bad)
    assert info.value.response["error"] == "invalid_arguments"
    assert "24 characters" in info.value.response["response_metadata"]["messages"][0]
    [violation] = fake.take_violations()
    assert (violation.method, violation.error) == ("views.open", "invalid_arguments")
    assert client.views_open(trigger_id=trigger, view=reward_modal())["ok"] is True


def test_views_update_hash_and_push(client: WebClient, fake):
    opened = client.views_open(trigger_id=fake.issue_trigger("UANA"), view=reward_modal())["view"]
    updated = client.views_update(
        view_id=opened["id"], hash=opened["hash"], view=reward_modal("gift")
    )["view"]
    assert updated["id"] == opened["id"] and updated["hash"] != opened["hash"]
    assert "Program: gift" in fake.plain_text(fake.view(opened["id"]))
    stale = lambda: client.views_update(  # noqa: E731
        view_id=opened["id"], hash=opened["hash"], view=reward_modal()
    )
    assert error_of(stale) == "hash_conflict"
    assert (
        error_of(lambda: client.views_update(view_id="VNOPE", view=reward_modal())) == "not_found"
    )
    pushed = client.views_push(trigger_id=fake.issue_trigger("UANA"), view=reward_modal())["view"]
    assert pushed["previous_view_id"] == opened["id"] and pushed["root_view_id"] == opened["id"]
    assert [v["id"] for v in fake.open_views("UANA")] == [opened["id"], pushed["id"]]
    client.views_push(trigger_id=fake.issue_trigger("UANA"), view=reward_modal())
    fourth = lambda: client.views_push(  # noqa: E731
        trigger_id=fake.issue_trigger("UANA"), view=reward_modal()
    )
    assert error_of(fourth) == "push_limit_reached"


def test_wait_for_sees_calls_from_other_threads_and_reports_misses(client: WebClient, fake):
    since = len(fake.calls())
    timer = threading.Timer(0.05, lambda: client.chat_postMessage(channel="UBEN", text="later"))
    timer.start()
    call = fake.wait_for("chat.postMessage", lambda c: c.params["channel"] == "UBEN", since=since)
    timer.join()
    assert isinstance(call, Call) and call.ok and call.response["channel"] == dm_channel("UBEN")
    with pytest.raises(AssertionError, match=r"no matching views.open call.*chat.postMessage"):
        fake.wait_for("views.open", timeout=0.05)


def test_on_call_hook_sees_each_call(client: WebClient, fake):
    seen: list[str] = []
    fake.on_call = lambda call: seen.append(call.method)
    client.auth_test()
    client.chat_postMessage(channel="CREWARDS", text="hi")
    assert seen == ["auth.test", "chat.postMessage"]


def test_http_controls(fake, client: WebClient):
    http = httpx.Client(base_url=fake.url)
    assert http.post(
        "/_fake/fail_next", json={"method": "auth.test", "status": 200, "error": "x"}
    ).json()["ok"]
    assert error_of(client.auth_test) == "x"
    client.chat_postMessage(channel="CREWARDS", text="hi")
    calls = http.get("/_fake/calls", params={"method": "chat.postMessage"}).json()["calls"]
    assert [c["params"]["text"] for c in calls] == ["hi"]
    assert http.get("/_fake/messages").json()["messages"][0]["text"] == "hi"
    trigger = http.post("/_fake/trigger", json={"user": "UANA"}).json()["trigger_id"]
    client.views_open(trigger_id=trigger, view=reward_modal())
    assert list(http.get("/_fake/views").json()["views"]) == [fake.latest_view("UANA")["id"]]
    http.post("/_fake/reset")
    assert fake.calls() == [] and fake.messages() == [] and fake.views == {}
    assert http.post("/_fake/nope").status_code == 404


def test_response_url_posts_are_recorded_and_shown(fake):
    url = fake.issue_response_url("UBEN", "CREWARDS")
    assert httpx.post(url, json={"text": "just you"}).text == "ok"
    assert httpx.post(url, json={"text": "everyone", "response_type": "in_channel"}).text == "ok"
    assert [e["text"] for e in fake.ephemerals("UBEN")] == ["just you"]
    assert [m["text"] for m in fake.messages("CREWARDS")] == ["everyone"]
    assert [c.params["text"] for c in fake.calls("response_url")] == ["just you", "everyone"]
    httpx.post(fake.url + "/hooks/unknown/path", json={"text": "stray"})
    assert fake.calls("response_url")[-1].params["url"] == "/hooks/unknown/path"


def test_response_url_replace_and_delete_original(fake, client: WebClient):
    posted = client.chat_postMessage(
        channel="CREWARDS", text="pending", blocks=approval_blocks("r")
    )
    url = fake.issue_response_url("UBEN", "CREWARDS", posted["ts"], kind="actions")
    httpx.post(url, json={"replace_original": True, "text": "approved"})
    [msg] = fake.messages("CREWARDS")
    assert (msg["text"], msg["blocks"], [e["text"] for e in msg["edits"]]) == (
        "approved",
        [],
        ["pending"],
    )
    httpx.post(url, json={"delete_original": True})
    assert fake.messages("CREWARDS") == []


def test_submission_answers_change_the_modal_stack(fake, client: WebClient):
    root = client.views_open(trigger_id=fake.issue_trigger("UANA"), view=reward_modal())["view"]
    fake.apply_submission_ack(root["id"], {"response_action": "update", "view": reward_modal("x")})
    assert "Program: x" in fake.plain_text(fake.view(root["id"]))
    fake.apply_submission_ack(root["id"], {"response_action": "push", "view": reward_modal()})
    top = fake.latest_view("UANA")
    assert top["previous_view_id"] == root["id"]
    fake.apply_submission_ack(top["id"], None)  # plain ack closes only the top modal
    assert [v["id"] for v in fake.open_views("UANA")] == [root["id"]]
    fake.apply_submission_ack(root["id"], {"response_action": "clear"})
    assert fake.open_views("UANA") == []
    assert error_of(lambda: client.views_update(view_id=root["id"], view=reward_modal())) == (
        "not_found"
    )
