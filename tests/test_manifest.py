"""manifest.yml asks for what the bot uses, and points Slack at the routes the bot serves."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from handlers.ids import COMMAND, Shortcut, Step
from handlers.workflow_steps import titles
from simulator.slack.channels import DEFAULT_SCOPES

MANIFEST: dict[str, Any] = yaml.safe_load(
    (Path(__file__).parent.parent / "manifest.yml").read_text()
)


def test_slash_command_and_its_url() -> None:
    [command] = MANIFEST["features"]["slash_commands"]
    assert command["command"] == COMMAND
    assert command["url"].endswith("/slack/events")


def test_the_command_escapes_mentions_as_design_md_says() -> None:
    # `/reward delegate @ben …` must arrive as `<@UBEN|ben>`: a member id, not a name anyone
    # could type; the Slack stand-in's driver sends command text this way by default.
    [command] = MANIFEST["features"]["slash_commands"]
    assert command["should_escape"] is True
    assert "delegate" in command["usage_hint"]


def test_home_tab_on_and_its_event_subscribed() -> None:
    assert MANIFEST["features"]["app_home"]["home_tab_enabled"] is True
    events = MANIFEST["settings"]["event_subscriptions"]
    assert "app_home_opened" in events["bot_events"]
    assert events["request_url"].endswith("/slack/events")  # HTTP mode


def test_scopes_cover_every_web_api_call_the_bot_makes() -> None:
    scopes = set(MANIFEST["oauth_config"]["scopes"]["bot"])
    # commands: /reward; chat:write: postMessage, update, postEphemeral; im:write: conversations.open;
    # users:read(.email): users.info and users.lookupByEmail with the profile email.
    assert {"commands", "chat:write", "im:write", "users:read", "users:read.email"} <= scopes


def test_interactivity_and_options_load_url() -> None:
    interactivity = MANIFEST["settings"]["interactivity"]
    assert interactivity["is_enabled"] is True
    assert interactivity["request_url"].endswith("/slack/events")
    assert interactivity["message_menu_options_url"].endswith("/slack/events")


def test_socket_mode_is_available() -> None:
    assert MANIFEST["settings"]["socket_mode_enabled"] is True
    assert MANIFEST["features"]["bot_user"]["always_online"] is True


def test_messages_tab_on_so_recipients_can_read_the_bots_dms() -> None:
    # Off, a recipient opening the bot's DM reads "Sending messages to this app has been
    # turned off" instead of their reward.
    app_home = MANIFEST["features"].get("app_home") or {}
    assert app_home.get("messages_tab_enabled") is True
    # The bot does not read DMs: people see its messages but are not invited to type.
    assert app_home.get("messages_tab_read_only_enabled") is True


def test_the_slack_stand_in_grants_what_the_manifest_asks_for() -> None:
    # The stand-in refuses calls the app's scopes do not cover, as Slack does.
    assert set(MANIFEST["oauth_config"]["scopes"]["bot"]) == set(DEFAULT_SCOPES)


# --- Workflow Builder steps and the message shortcut (issue 11) -------------------------------

USER_ID, STRING, NUMBER = "slack#/types/user_id", "string", "number"
USER_CONTEXT = "slack#/types/user_context"
# design.md's contract: (type, required) of each input and output.
STEP_INPUTS = {
    "send_reward": {
        "recipient": (USER_ID, True),
        "reward_type": (STRING, True),
        # Not for reward_type choice (the recipient chooses): the step asks for it otherwise.
        "product_id": (NUMBER, False),
        "amount": (NUMBER, True),
        "message": (STRING, True),
        "requester": (USER_ID, False),
        "loyalty_member_id": (STRING, False),
        "phone": (STRING, False),
        # Slack's word for who ran the workflow: whose budget pays (see the README)
        "runner": (USER_CONTEXT, False),
    },
    "reward_status": {"request_ref": (STRING, True), "runner": (USER_CONTEXT, False)},
}
STEP_OUTPUTS = {
    "send_reward": {
        "request_ref": STRING,
        "state": STRING,
        "cost": NUMBER,
        "currency": STRING,
    },
    "reward_status": {"state": STRING},
}


def test_both_steps_are_declared_with_their_parameter_types() -> None:
    functions = MANIFEST["functions"]
    assert set(functions) == {step.value for step in Step} == set(STEP_INPUTS)
    for name, step in functions.items():
        assert step["title"] and step["description"], name
        inputs = {k: (v["type"], v["is_required"]) for k, v in step["input_parameters"].items()}
        assert inputs == STEP_INPUTS[name], name
        outputs = {k: v["type"] for k, v in step["output_parameters"].items()}
        assert outputs == STEP_OUTPUTS[name], name
        assert all(v["is_required"] for v in step["output_parameters"].values())
        assert all(v["title"] for v in step["input_parameters"].values())


def test_the_step_names_its_inputs_as_workflow_builder_shows_them() -> None:
    inputs = MANIFEST["functions"][Step.SEND_REWARD]["input_parameters"]
    assert {name: inputs[name]["title"] for name in titles()} == titles()


def test_custom_steps_run_in_this_bot_and_the_app_is_org_ready() -> None:
    settings = MANIFEST["settings"]
    assert settings["function_runtime"] == "remote"
    assert settings["org_deploy_enabled"] is True  # custom steps need an org-ready app
    events = settings["event_subscriptions"]
    assert "function_executed" in events["bot_events"]
    assert events["request_url"].endswith("/slack/events")


def test_the_reward_message_shortcut() -> None:
    [shortcut] = MANIFEST["features"]["shortcuts"]
    assert shortcut == {
        "name": "Reward this message",
        "type": "message",
        "callback_id": Shortcut.REWARD_MESSAGE.value,
        "description": shortcut["description"],
    }
    # short, as the shortcut menu shows them on one line
    assert 0 < len(shortcut["description"]) <= 50 and len(shortcut["name"]) <= 24
