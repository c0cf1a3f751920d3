"""What the workflow steps and the message shortcut build, as plain data and fed hostile text:
the link back to the rewarded message, the prefilled form, the steps' inputs, sentences and
outputs."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

import pytest

from handlers import ask_messages
from handlers import messages as msg
from handlers.forms import RewardForm
from handlers.ids import Action, Block
from handlers.metadata import RewardModalMeta
from handlers.shortcuts import note_for, recipients_for
from handlers.views import reward_modal
from handlers.workflow_steps import (
    NO_RUNNER,
    StepRefused,
    ask_of,
    outputs_of,
    read_send_reward,
    refusal,
    requester_of,
    step_error,
    step_state,
)
from services.intake import Field, FieldError, Source
from tests.hostile import HOSTILE, HOSTILE_TOKENS, mrkdwn_of, stray_markup
from tests.slack.test_blocks import order, request
from tests.slack.test_escaping import MEMBERS, assert_inert, hostile_order, hostile_request

LINK = "https://rewards-demo.slack.com/archives/CREWARDS/p1700000000123456"
THREAD_LINK = LINK + "?thread_ts=1700000000.000100&cid=CREWARDS"
FORGED = [
    HOSTILE,
    "javascript:alert(1)",
    "https://evil.example/archives/C1/p1700000000123456",
    "https://evil.example/?.slack.com/archives/C1/p1700000000123456",
    f"{LINK}|Claim your gift card",
    f"{LINK}>",
    "http://rewards-demo.slack.com/archives/CREWARDS/p1700000000123456",
    LINK + "&x=<!channel>",
]
STEP = {
    "recipient": "UANA",
    "reward_type": "gift_card",
    "product_id": 27222,
    "amount": 25,
    "message": "Happy anniversary",
    "runner": {"id": "UREQ", "secret": "s"},
}


# --- the link back to the message ------------------------------------------------------------


@pytest.mark.parametrize("link", [LINK, THREAD_LINK])
def test_approval_and_status_messages_link_back_to_the_rewarded_message(link: str) -> None:
    shown = f"<{link.replace('&', '&amp;')}|the message it rewards>"
    for state in ("pending_approval", "approved"):
        req = request(state, source_link=link, decided_by="UAPP")
        for built in (
            ask_messages.approval_message(req, [order()]),
            msg.status_message(req, [order()]),
        ):
            texts = list(mrkdwn_of(built))
            assert any(shown in t for t in texts), (state, texts)
            # the link is the one piece of markup beside the mentions and dates
            assert stray_markup(texts, ["UREQ", "UAPP", "U0001"]) == [shown]


@pytest.mark.parametrize("forged", FORGED)
def test_a_link_that_is_not_a_slack_permalink_is_never_shown_or_kept(forged: str) -> None:
    assert msg.source_line(request(source_link=forged)) == ""
    req = hostile_request("pending_approval", decided_by=None, source_link=forged)
    assert_inert(
        ask_messages.approval_message(req, [hostile_order(1, "pending_approval")]),
        msg.status_message(req, [hostile_order(1, "pending_approval")]),
    )
    # nor carried by a modal's metadata, which the Slack client sends back
    meta = RewardModalMeta.load(json.dumps({"channel_id": "C1", "source_link": forged}))
    assert meta is not None and meta.source_link is None


def test_a_request_without_a_source_message_shows_no_link() -> None:
    assert msg.source_line(request()) == ""
    for built in (
        msg.status_message(request(), [order()]),
        ask_messages.approval_message(request(), []),
    ):
        assert "the message it rewards" not in str(built)


# --- the form the shortcut opens -------------------------------------------------------------


def shortcut(author: str | None, user: str = "UREQ", **message: Any) -> dict[str, Any]:
    return {"user": {"id": user}, "message": {"user": author, "ts": "1.2", **message}}


def test_the_form_is_prefilled_with_the_author_and_a_plain_text_note() -> None:
    form = RewardForm(recipients=recipients_for(shortcut("UANA")), message=note_for(LINK))
    view = reward_modal(RewardModalMeta(channel_id="CREWARDS", source_link=LINK), form)
    by_id = {b.get("block_id"): b for b in view["blocks"]}
    assert by_id[Block.RECIPIENTS]["element"]["initial_users"] == ["UANA"]
    note = by_id[Block.MESSAGE]["element"]
    assert (note["action_id"], note["initial_value"]) == (
        Action.MESSAGE,
        f"For your message: {LINK}",
    )
    assert '"mrkdwn"' not in json.dumps(view["blocks"])  # plain text: nothing Slack parses
    assert RewardModalMeta.load(view["private_metadata"]) == RewardModalMeta(
        channel_id="CREWARDS", source_link=LINK
    )


@pytest.mark.parametrize(
    "payload",
    [
        shortcut("UREQ"),  # one's own message
        shortcut("UANA", bot_id="B1"),  # an app's message posted as someone
        shortcut(None),  # a bot's message has no user
        shortcut(HOSTILE),
        shortcut("<@UEVIL01>"),
    ],
)
def test_nobody_is_prefilled_but_a_person_who_wrote_the_message(payload: dict[str, Any]) -> None:
    assert recipients_for(payload) == []


# --- the steps ---------------------------------------------------------------------------------


def test_the_steps_inputs_become_what_the_intake_is_asked() -> None:
    """The step asks the one intake in its own terms: no pretend modal form in between."""
    step = read_send_reward({**STEP, "amount": 25.5, "loyalty_member_id": " ", "phone": None})
    assert requester_of(step) == "UREQ"
    ask = ask_of(step, "UREQ", "Fx1")
    (line,) = ask.lines
    assert (line.members, line.product_id, line.amount) == (["UANA"], 27222, "25.5")
    assert line.reward_type == "gift_card" and line.details["loyalty_member_id"] is None
    assert (ask.requester_id, ask.source, ask.channel_id) == ("UREQ", Source.WORKFLOW, None)
    assert ask.idempotency_key == "slack:function:Fx1" and ask.may_wait
    assert ask.message == "Happy anniversary"
    assert read_send_reward({**STEP, "amount": 25.0, "product_id": 27222.0}).amount == "25"


@pytest.mark.parametrize(
    ("wrong", "starts"),
    [
        ({"recipient": HOSTILE}, "Recipient: choose a person"),
        ({"reward_type": HOSTILE}, "Kind of reward: Unknown reward type"),
        ({"product_id": HOSTILE}, "Product ID: give the number"),
        ({"product_id": -3}, "Product ID: give the number"),
        ({"product_id": True}, "Product ID: give the number"),
        ({"amount": HOSTILE}, "Amount: Write the amount like 25"),
        ({"amount": -5}, "Amount: Write the amount like 25"),
        ({"amount": 1e21}, "Amount: Write the amount like 25"),
        ({"message": HOSTILE * 20}, "Message: at most 500 characters"),
        ({"requester": HOSTILE}, "Requester: choose a person"),
    ],
)
def test_wrong_inputs_are_refused_with_an_inert_sentence(
    wrong: dict[str, Any], starts: str
) -> None:
    with pytest.raises(StepRefused) as refused:
        read_send_reward({**STEP, **wrong})
    assert refused.value.sentence.startswith(starts)
    assert_inert(step_error(refused.value.sentence))


def test_whose_budget_pays_is_for_slack_to_say() -> None:
    without = read_send_reward({k: v for k, v in STEP.items() if k != "runner"})
    with pytest.raises(StepRefused) as refused:
        requester_of(without)
    assert refused.value.sentence == NO_RUNNER
    for forged_runner in ({"id": HOSTILE, "secret": "s"}, "UREQ", {"secret": "s"}):
        assert read_send_reward({**STEP, "runner": forged_runner}).runner is None
    with pytest.raises(StepRefused, match="Requester must be them or empty"):
        requester_of(read_send_reward({**STEP, "requester": "UAPP"}))
    assert requester_of(read_send_reward({**STEP, "requester": "UREQ"})) == "UREQ"


def test_the_forms_errors_name_the_steps_inputs_and_stay_inert() -> None:
    errors = [
        FieldError(Field.AMOUNT, f"{HOSTILE} comes in 10, 25 USD, not 30"),
        FieldError(Field.RECIPIENTS, "You cannot send a reward to yourself."),
        FieldError(Field.PRODUCT, "product 9 is not in the Xoxoday catalog"),
        FieldError("loyalty_member_id", "Enter the recipient's loyalty member ID."),
        FieldError(Field.REQUEST, "the Xoxoday wallet is not reachable yet"),
    ]
    text = refusal(errors)
    assert text.startswith("Amount: ")
    assert " Recipient: You cannot send a reward to yourself. " in text
    assert " Product ID: Product 9 is not in the Xoxoday catalog. " in text
    assert " Loyalty member ID: Enter the recipient's loyalty member ID. " in text
    assert text.endswith(" The Xoxoday wallet is not reachable yet.")
    shown = step_error(text)
    assert all(token not in shown for token in HOSTILE_TOKENS) and "&lt;!channel&gt;" in shown
    assert stray_markup([shown], MEMBERS) == []
    assert len(step_error(HOSTILE * 200)) == 2000


@pytest.mark.parametrize(
    ("state", "orders", "word"),
    [
        ("pending_approval", ["pending_approval"], "pending_approval"),
        ("rejected", ["withdrawn"], "rejected"),
        ("cancelled", ["withdrawn"], "cancelled"),
        ("approved", ["queued", "delivered"], "approved"),
        ("approved", ["placed"], "approved"),
        ("approved", ["delivered", "delivered"], "delivered"),
        ("approved", ["delivered", "failed"], "failed"),
        ("approved", ["canceled"], "failed"),
    ],
)
def test_the_state_a_workflow_branches_on(state: str, orders: list[str], word: str) -> None:
    rows = [order(n, s) for n, s in enumerate(orders, start=1)]
    assert step_state(request(state), rows) == word


def test_outputs_are_what_the_manifest_declares() -> None:
    outputs = outputs_of(request(total_cost=Decimal("49.005")), [order()])
    assert outputs == {
        "request_ref": "R-12",
        "state": "pending_approval",
        "cost": 49.01,
        "currency": "USD",
    }


def test_the_consent_ask_names_what_whom_which_run_and_the_cost_and_escapes_the_author() -> None:
    from decimal import Decimal

    from handlers.consent_messages import ConsentAsk, consent_answered, consent_ask
    from services.budget import BudgetView

    ask = ConsentAsk(
        execution_id="Fx123",
        workflow_execution_id="Wx9",
        recipient="U0001",
        product=HOSTILE,
        amount=Decimal(100),
        product_currency="USD",
        cost=Decimal("98.00"),
        currency="USD",
        message=HOSTILE,
        budget=BudgetView(Decimal(500), Decimal(402), Decimal(0), "USD"),
    )
    text, blocks = consent_ask(ask)
    assert_inert({"text": text, "blocks": blocks})
    shown = "\n".join(mrkdwn_of(blocks))
    assert "<@U0001>" in shown and "run `Wx9`" in shown
    assert "It costs your budget 98 USD: 98 USD of your 500 USD are left this month." in shown
    [actions] = [b for b in blocks if b["type"] == "actions"]
    assert [(e["action_id"], e["value"], e["style"]) for e in actions["elements"]] == [
        (Action.CONSENT_SEND, "Fx123", "primary"),
        (Action.CONSENT_DECLINE, "Fx123", "danger"),
    ]
    for outcome, detail in (
        ("sent", "R-7"),
        ("declined", ""),
        ("expired", ""),
        ("lapsed", ""),
        ("refused", HOSTILE),
    ):
        closed_text, closed = consent_answered(outcome, detail)
        assert not any(b["type"] == "actions" for b in closed)
        if outcome == "refused":
            assert_inert({"text": closed_text, "blocks": closed})
