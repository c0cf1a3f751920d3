"""The stand-in's custom steps, permalinks and message shortcuts, as strict as Slack: executions
of the manifest's functions, their completion (once, with the declared outputs, by the right
token), chat.getPermalink, and the payloads a real Bolt app receives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from slack_bolt import App
from slack_bolt.adapter.wsgi import SlackRequestHandler
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from plumbing.httpserver import ServerThread
from simulator.slack import RunningFakeSlack, SlackDriver
from simulator.slack.functions import load_functions, parse_functions, value_problems
from tests.slackfake.conftest import SECRET, TOKEN

OUTPUTS = {"request_ref": "R-1", "state": "pending_approval", "cost": 24.5, "currency": "USD"}
INPUTS = {
    "recipient": "UANA",
    "reward_type": "gift_card",
    "product_id": 27222,
    "amount": 25,
    "message": "Thanks",
    "runner": {"id": "UREQUESTER", "secret": "s"},
}


def error_of(call: Any) -> str:
    with pytest.raises(SlackApiError) as info:
        call()
    return str(info.value.response["error"])


def started(fake: RunningFakeSlack, step: str = "send_reward", **inputs: Any) -> dict[str, Any]:
    return fake.start_execution(step, {**INPUTS, **inputs} if step == "send_reward" else inputs)


def test_the_manifests_functions_are_what_the_stand_in_runs() -> None:
    functions = load_functions()
    assert set(functions) == {"send_reward", "reward_status"}
    send = functions["send_reward"]
    assert send.inputs["recipient"].type == "slack#/types/user_id"
    assert send.inputs["runner"].type == "slack#/types/user_context"
    assert not send.inputs["runner"].is_required and send.inputs["amount"].is_required
    assert list(send.outputs) == ["request_ref", "state", "cost", "currency"]
    with pytest.raises(ValueError, match="unknown or missing type"):
        parse_functions({"functions": {"f": {"title": "F", "input_parameters": {"x": {}}}}})


def test_an_execution_is_delivered_as_slack_sends_function_executed(
    fake: RunningFakeSlack,
) -> None:
    body = started(fake)
    event = body["event"]
    assert body["type"] == "event_callback" and body["event_id"].startswith("Ev")
    assert event["type"] == "function_executed"
    assert event["function"]["callback_id"] == "send_reward"
    assert {p["name"] for p in event["function"]["input_parameters"]} >= {"recipient", "runner"}
    assert event["function_execution_id"].startswith("Fx")
    assert event["workflow_execution_id"].startswith("Wx")
    assert event["bot_access_token"].startswith("xwfp-")
    assert event["inputs"] == INPUTS
    assert fake.execution(event["function_execution_id"])["state"] == "running"


def test_slack_only_runs_a_step_with_inputs_its_parameters_can_hold(
    fake: RunningFakeSlack,
) -> None:
    with pytest.raises(ValueError, match="declares no function 'nope'"):
        fake.start_execution("nope", {})
    for wrong in (
        {"amount": "25"},  # a number input holds numbers
        {"recipient": "ana"},  # a user_id input holds member ids
        {"runner": {"id": "UREQUESTER"}},  # a user_context has a secret
        {"colour": "red"},  # not a parameter of the step
    ):
        with pytest.raises(ValueError, match="would not run send_reward"):
            started(fake, **wrong)
    with pytest.raises(ValueError, match="missing required field: request_ref"):
        fake.start_execution("reward_status", {})


def test_complete_success_once_with_the_declared_outputs(
    fake: RunningFakeSlack, client: WebClient
) -> None:
    execution_id = started(fake)["event"]["function_execution_id"]
    for outputs, problem in (
        ({**OUTPUTS, "cost": "24.50"}, "cost must be of type number"),
        ({k: v for k, v in OUTPUTS.items() if k != "state"}, "missing required field: state"),
        ({**OUTPUTS, "extra": 1}, "extra is not a declared parameter"),
    ):
        refused = error_of(
            lambda o=outputs: client.functions_completeSuccess(
                function_execution_id=execution_id, outputs=o
            )
        )
        assert refused == "parameter_validation_failed"
        [violation] = fake.take_violations()
        assert problem in str(violation), violation
    assert fake.execution(execution_id)["state"] == "running"  # a refused completion is none
    client.functions_completeSuccess(function_execution_id=execution_id, outputs=OUTPUTS)
    assert fake.execution(execution_id)["outputs"] == OUTPUTS
    # once: a second completion, either way, is refused
    for again in (
        lambda: client.functions_completeSuccess(
            function_execution_id=execution_id, outputs=OUTPUTS
        ),
        lambda: client.functions_completeError(function_execution_id=execution_id, error="x"),
    ):
        assert error_of(again) == "execution_not_in_running_state"
    assert (
        error_of(lambda: client.functions_completeError(function_execution_id="FxNEVER", error="x"))
        == "function_execution_not_found"
    )
    assert [v.error for v in fake.take_violations()] == [
        "execution_not_in_running_state",
        "execution_not_in_running_state",
        "function_execution_not_found",
    ]
    assert fake.execution(execution_id)["state"] == "completed"


def test_complete_error_needs_a_sentence(fake: RunningFakeSlack, client: WebClient) -> None:
    execution_id = started(fake)["event"]["function_execution_id"]
    assert (
        error_of(
            lambda: client.functions_completeError(function_execution_id=execution_id, error=" ")
        )
        == "invalid_arguments"
    )
    fake.take_violations()
    client.functions_completeError(function_execution_id=execution_id, error="Amount: not 30.")
    done = fake.execution(execution_id)
    assert (done["state"], done["error"], done["outputs"]) == ("failed", "Amount: not 30.", None)


def test_the_steps_token_works_while_it_runs_and_only_for_itself(fake: RunningFakeSlack) -> None:
    one, other = started(fake)["event"], started(fake)["event"]
    as_one = WebClient(token=one["bot_access_token"], base_url=fake.api_url)
    assert as_one.auth_test()["ok"]  # a bot token of its own, while the step runs
    assert (
        error_of(
            lambda: as_one.functions_completeSuccess(
                function_execution_id=other["function_execution_id"], outputs=OUTPUTS
            )
        )
        == "access_denied"
    )
    fake.take_violations()
    as_one.functions_completeSuccess(
        function_execution_id=one["function_execution_id"], outputs=OUTPUTS
    )
    assert error_of(as_one.auth_test) == "token_revoked"  # gone once the step is complete
    assert error_of(WebClient(token="xwfp-made-up", base_url=fake.api_url).auth_test) == (
        "invalid_auth"
    )


def test_permalinks_of_messages_and_thread_replies(
    fake: RunningFakeSlack, client: WebClient
) -> None:
    top = fake.post_as("UANA", "CREWARDS", "Shipped it")
    reply = fake.post_as("UBEN", "CREWARDS", "Nice", thread_ts=top["ts"])
    link = client.chat_getPermalink(channel="CREWARDS", message_ts=top["ts"])["permalink"]
    assert link == f"https://rewards-demo.slack.com/archives/CREWARDS/p{top['ts'].replace('.', '')}"
    threaded = client.chat_getPermalink(channel="CREWARDS", message_ts=reply["ts"])["permalink"]
    assert threaded.endswith(f"?thread_ts={top['ts']}&cid=CREWARDS")
    assert error_of(lambda: client.chat_getPermalink(channel="CREWARDS", message_ts="1.2")) == (
        "message_not_found"
    )
    assert error_of(lambda: client.chat_getPermalink(channel="CNOPE", message_ts=top["ts"])) == (
        "channel_not_found"
    )
    stored = fake.message("CREWARDS", top["ts"])
    assert stored is not None and stored["user"] == "UANA" and "bot_id" not in stored


class StepApp:
    """A small real Bolt app with one custom step and one message shortcut."""

    def __init__(self, fake: RunningFakeSlack) -> None:
        self.seen: list[tuple[str, dict[str, Any]]] = []
        app = App(
            signing_secret=SECRET,
            client=WebClient(token=TOKEN, base_url=fake.api_url),
            token_verification_enabled=False,
        )

        @app.function("send_reward")
        def step(event, inputs, client, complete):
            self.seen.append(("step", {"inputs": inputs, "token": client.token}))
            complete(outputs=OUTPUTS)

        @app.shortcut("reward_message")
        def shortcut(ack, shortcut, client):
            ack()
            self.seen.append(("shortcut", shortcut))

        self.server = ServerThread(SlackRequestHandler(app))


@pytest.fixture(scope="module")
def step_app(fake_server: RunningFakeSlack) -> Iterator[StepApp]:
    harness = StepApp(fake_server)
    with harness.server:
        yield harness


def test_a_bolt_app_gets_the_event_over_signed_http_and_completes_with_the_steps_token(
    fake: RunningFakeSlack, step_app: StepApp
) -> None:
    step_app.seen.clear()
    with SlackDriver(step_app.server.url, SECRET, fake) as driver:
        response, body = driver.run_step("send_reward", INPUTS, runner="UCHO")
        assert response.status_code == 200
        done = fake.wait_for("functions.completeSuccess")
        assert done.ok and done.params["outputs"] == OUTPUTS
        [(_kind, seen)] = step_app.seen
        assert seen["inputs"]["runner"]["id"] == "UCHO"  # Slack filled the user_context
        assert seen["token"] == body["event"]["bot_access_token"]  # Bolt's function token
        [ack] = [c for c in fake.acks() if c.response["type"] == "event_callback"]
        assert ack.response["ok"] and ack.response["status"] == 200

        # An event the app has no listener for is answered 404: Slack sees an error.
        refused, _ = driver.run_step("reward_status", {"request_ref": "R-1"})
        assert refused.status_code == 404
        # Slack did not see it taken: the same event again, three times, marked as retries.
        violations = fake.take_violations()
        assert len(violations) == 4
        assert all("the app answered HTTP 404" in str(v) for v in violations)


def test_a_message_shortcut_payload_is_what_slack_sends(
    fake: RunningFakeSlack, step_app: StepApp
) -> None:
    step_app.seen.clear()
    posted = fake.post_as("UANA", "CREWARDS", "Shipped it")
    message = fake.message("CREWARDS", posted["ts"])
    assert message is not None
    with SlackDriver(step_app.server.url, SECRET, fake) as driver:
        assert driver.message_shortcut("UBEN", message, "reward_message").status_code == 200
    [(_kind, payload)] = step_app.seen
    assert payload["type"] == "message_action" and payload["callback_id"] == "reward_message"
    assert payload["user"]["id"] == "UBEN" and payload["channel"]["id"] == "CREWARDS"
    assert payload["message"]["user"] == "UANA" and payload["message"]["ts"] == posted["ts"]
    assert payload["message_ts"] == posted["ts"]
    assert payload["trigger_id"] and payload["response_url"].startswith(fake.url + "/hooks/")
    # the response_url answers in the channel, to the one who used the shortcut
    assert httpx.post(payload["response_url"], json={"text": "On it"}).text == "ok"
    assert [e["text"] for e in fake.ephemerals("UBEN")] == ["On it"]


def test_value_problems_name_each_parameter() -> None:
    outputs = load_functions()["reward_status"].outputs
    assert value_problems(outputs, {"state": "approved"}, "outputs") == []
    assert value_problems(outputs, [], "outputs") == [
        "[ERROR] outputs must be an object [json-pointer:/outputs]"
    ]


class ClickStepApp:
    """A Bolt app whose step ends on a click, as Slack's samples build one: the step posts a
    DM with a button using the step's token; the click completes it."""

    def __init__(self, fake: RunningFakeSlack) -> None:
        self.clicks: list[dict[str, Any]] = []
        self.step_tokens: list[str] = []
        app = App(
            signing_secret=SECRET,
            client=WebClient(token=TOKEN, base_url=fake.api_url),
            token_verification_enabled=False,
        )

        @app.function("send_reward")
        def step(inputs, client):  # no complete(): the step waits for the click
            self.step_tokens.append(client.token)
            button = {
                "type": "button",
                "action_id": "yes",
                "text": {"type": "plain_text", "text": "Yes"},
            }
            client.chat_postMessage(
                channel=inputs["runner"]["id"],
                text="Send it?",
                blocks=[{"type": "actions", "block_id": "ask", "elements": [button]}],
            )

        @app.action("yes")
        def yes(ack, body, client, complete):
            ack()
            self.clicks.append({"body": body, "token": client.token})
            if "function_data" in body:
                complete(outputs=OUTPUTS)

        self.server = ServerThread(SlackRequestHandler(app))


def test_a_step_ends_on_a_click_with_the_fresh_token_the_click_brings(
    fake: RunningFakeSlack,
) -> None:
    harness = ClickStepApp(fake)
    with harness.server, SlackDriver(harness.server.url, SECRET, fake) as driver:
        _response, body = driver.run_step("send_reward", INPUTS, runner="UCHO")
        execution_id = body["event"]["function_execution_id"]
        posted = fake.wait_for("chat.postMessage", lambda c: c.ok)
        [ask] = fake.dms("UCHO")
        assert fake.execution(execution_id)["state"] == "running"  # waits for the click
        assert "function_execution_id" not in fake.public_message(ask)
        fake.age_function_tokens(execution_id, 16 * 60)  # the step's own token has lapsed
        step_client = WebClient(token=harness.step_tokens[0], base_url=fake.api_url)
        assert error_of(step_client.auth_test) == "token_expired"

        assert driver.click("UCHO", "yes", message=ask).status_code == 200
        done = fake.wait_for("functions.completeSuccess")
        assert done.ok and fake.execution(execution_id)["state"] == "completed"
        [click] = harness.clicks
        payload = click["body"]
        assert payload["function_data"]["execution_id"] == execution_id
        assert payload["function_data"]["inputs"] == body["event"]["inputs"]
        assert payload["function_data"]["function"]["callback_id"] == "send_reward"
        assert payload["interactivity"]["interactor"]["id"] == "UCHO"
        fresh = payload["bot_access_token"]
        assert fresh.startswith("xwfp-") and fresh != harness.step_tokens[0]
        assert click["token"] == fresh  # Bolt's client and complete() use the click's token
        assert posted.params["channel"] == "UCHO"

        # A message the bot posted with its own token is nobody's step: no function_data.
        plain = WebClient(token=TOKEN, base_url=fake.api_url)
        sent = plain.chat_postMessage(channel="UCHO", text="hi", blocks=ask["blocks"])
        mine = fake.message(sent["channel"], sent["ts"])
        assert mine is not None
        driver.click("UCHO", "yes", message=mine)
        assert "function_data" not in harness.clicks[-1]["body"]
