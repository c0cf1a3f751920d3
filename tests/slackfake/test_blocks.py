"""Block Kit helpers: the state entries Slack sends per element type, and text flattening."""

from __future__ import annotations

import pytest

from simulator.slack.blocks import initial_entry, plain_text, state_entry
from simulator.slack.validate import view_problems
from tests.slackfake.conftest import option, reward_modal

STATIC = {"type": "static_select", "action_id": "p", "options": [option("gift", "Gift card")]}


def test_state_entries_follow_the_element_type():
    assert state_entry(STATIC, "gift") == {
        "type": "static_select",
        "selected_option": option("gift", "Gift card"),
    }
    assert state_entry({"type": "multi_users_select"}, ["UANA", "UBEN"]) == {
        "type": "multi_users_select",
        "selected_users": ["UANA", "UBEN"],
    }
    checkboxes = {"type": "checkboxes", "options": [option("a", "A"), option("b", "B")]}
    assert state_entry(checkboxes, ["b"]) == {
        "type": "checkboxes",
        "selected_options": [option("b", "B")],
    }
    assert state_entry({"type": "number_input"}, 12.5) == {"type": "number_input", "value": "12.5"}
    assert state_entry({"type": "plain_text_input"}, "hi") == {
        "type": "plain_text_input",
        "value": "hi",
    }
    assert state_entry({"type": "users_select"}, "UANA") == {
        "type": "users_select",
        "selected_user": "UANA",
    }
    assert state_entry({"type": "datepicker"}, "2025-01-31") == {
        "type": "datepicker",
        "selected_date": "2025-01-31",
    }
    external = {"type": "external_select"}
    loaded = [option("UANA", "Ana Silva")]
    assert state_entry(external, "UANA", loaded)["selected_option"] == option("UANA", "Ana Silva")
    assert state_entry(external, "UX")["selected_option"]["value"] == "UX"
    with pytest.raises(ValueError, match="no option 'cash'"):
        state_entry(STATIC, "cash")
    with pytest.raises(ValueError, match="carry no state"):
        state_entry({"type": "button"}, "x")


def test_untouched_elements_report_initial_values_or_nothing():
    assert initial_entry(STATIC) == {"type": "static_select", "selected_option": None}
    assert initial_entry({"type": "multi_users_select", "initial_users": ["UANA"]}) == {
        "type": "multi_users_select",
        "selected_users": ["UANA"],
    }
    assert initial_entry({"type": "checkboxes"}) == {"type": "checkboxes", "selected_options": []}
    assert initial_entry({"type": "plain_text_input", "initial_value": "5"})["value"] == "5"
    assert initial_entry({"type": "button"}) is None


def test_plain_text_flattens_what_people_read():
    message = {
        "text": "fallback",
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": "Reward request"}},
            {
                "type": "section",
                "text": {"type": "mrkdwn", "text": "*Riya* asks"},
                "fields": [{"type": "mrkdwn", "text": "500 INR"}],
            },
            {"type": "context", "elements": [{"type": "mrkdwn", "text": "id r-1"}]},
            {
                "type": "actions",
                "elements": [{"type": "button", "text": {"type": "plain_text", "text": "Approve"}}],
            },
            {"type": "divider"},
        ],
    }
    assert plain_text(message) == "Reward request\n*Riya* asks\n500 INR\nid r-1\nApprove"
    assert plain_text({"text": "only text", "blocks": []}) == "only text"
    assert plain_text(reward_modal()) == "Send a reward\nRecipient\nProgram\nAmount"


def test_view_problems_catch_common_mistakes():
    assert view_problems(reward_modal()) == []
    no_submit = reward_modal() | {"submit": None}
    assert view_problems(no_submit) == ["[ERROR] submit is required when input blocks are present"]
    duplicate = reward_modal() | {"blocks": reward_modal()["blocks"][:1] * 2}
    assert "duplicate block_id 'recipient_block'" in view_problems(duplicate)[0]
