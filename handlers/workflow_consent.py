"""A `send_reward` step asks its runner first, and ends on their click (services/consent.py).

Slack's pattern for a step that ends on a click (slack-samples/bolt-python-request-time-off,
`functions/request_approval.py` and `functions/actions/approve.py`): the step's listener
posts a message with buttons using the step's own token (`xwfp-…`, on the listener's client),
and does not complete. A click on one of those buttons reaches the app as `block_actions`
carrying `function_data` and a fresh `bot_access_token`; Bolt puts that token on the
listener's client and gives it `complete` and `fail` for the execution
(bolt-python `tests/scenario_tests/test_function_block_action.py`). So:

* the step checks what it asks for as the intake would (nothing recorded), then DMs its runner
  what, to whom, from which run, and what it costs their budget, with Send and Don't send;
* Send records the request through the one intake, with `confirmed_by` (the approvers' ask
  says the runner confirmed it), and completes the step with the confirmed request's outputs;
* Don't send fails the step with a sentence; nothing is recorded;
* no answer within a day: the scheduler expires the question, and the delivery room fails the
  step with the bot's token and closes the DM (workflow.consent_expired).

Only the runner may answer (checked from the signed user id against the recorded question).
"""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from slack_bolt import Ack, App
from slack_bolt.context.complete import Complete
from slack_bolt.context.fail import Fail
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers import consent_messages as cm
from handlers.deps import Deps
from handlers.errors import user_message
from handlers.ids import Action, Step
from handlers.workflow_steps import (
    ANSWERED_ELSEWHERE,
    Answers,
    SendReward,
    StepRefused,
    ask_of,
    idempotency_key,
    outputs_of,
    prepared,
    refusal,
    send_reward,
    step_error,
)
from services.consent import DECLINED, ConsentClosed, NotTheRunner
from services.errors import RewardError
from services.intake import Quote

log = logging.getLogger(__name__)


def consent_of(
    deps: Deps,
    execution_id: str,
    workflow_execution_id: str | None,
    step: SendReward,
    runner: str,
    quote: Quote,
) -> cm.ConsentAsk:
    """The question: what the step asks for, and what it costs the runner's budget."""
    reward = quote.rewards[0] if quote.rewards else None
    return cm.ConsentAsk(
        execution_id=execution_id,
        workflow_execution_id=workflow_execution_id,
        recipient=step.recipient,
        product=reward.product.name if reward is not None else str(step.product_id),
        amount=Decimal(step.amount),
        product_currency=(reward.product.currency_code if reward is not None else "") or "",
        cost=quote.total or Decimal(0),
        currency=quote.currency,
        message=step.message,
        budget=deps.budget(runner),
    )


def ask_to_send(deps: Deps, client: WebClient, event: dict[str, Any]) -> dict[str, Any] | None:
    """The step's listener: checked as the intake would check it, nothing recorded, then the
    runner is asked by DM with the step's client. None: the step ends on their click.
    StepRefused when there is nothing to ask (the inputs, the policy or the budget refuse)."""
    execution_id = str(event["function_execution_id"])
    inputs = event.get("inputs") or {}
    consent = deps.consents.get(execution_id)
    if consent is not None and consent.state != "asked":
        # Slack replayed a step its runner answered already, or is answering right now: from
        # `sending` the click owns the answer (it completes the step, then records `sent`; a
        # replay in between must not complete it twice, which Slack refuses: token_revoked).
        return ANSWERED_ELSEWHERE
    existing = deps.rewards.recorded(idempotency_key(execution_id))
    if existing is not None:  # sent before (a replay of the step after the click)
        return outputs_of(existing.request, existing.orders)
    step, runner = prepared(deps, inputs)
    quote = deps.intake.quote(ask_of(step, runner, execution_id))
    if quote.errors:
        raise StepRefused(refusal(quote.errors))
    workflow_run = event.get("workflow_execution_id")
    ask = consent_of(deps, execution_id, workflow_run, step, runner, quote)
    asked = deps.consents.ask(execution_id, runner, inputs, workflow_run)
    if not asked.new and (asked.row.ts or not deps.consents.stalled(asked.row)):
        # Slack replayed the step: the runner has the question already, or another process
        # is asking right now (one that stalled before its DM went out is taken over).
        log.info("workflow step %s: its runner was asked already", execution_id)
        return None
    text, blocks = cm.consent_ask(ask)
    posted = client.chat_postMessage(channel=runner, text=text, blocks=blocks)
    deps.consents.posted(execution_id, str(posted["channel"]), str(posted["ts"]))
    return None


def _tell(client: WebClient, user: str, text: str) -> None:
    try:
        client.chat_postMessage(channel=user, text=text)
    except SlackApiError as exc:
        log.warning("could not tell %s: %s", user, exc.response.get("error"))


def on_send(
    deps: Deps, body: dict[str, Any], client: WebClient, complete: Complete, fail: Fail
) -> None:
    execution_id = str((body.get("function_data") or {}).get("execution_id") or "")
    user = body["user"]["id"]
    try:
        row = deps.consents.claim_send(execution_id, user)
    except NotTheRunner as exc:
        _tell(client, user, exc.message[:1].upper() + exc.message[1:] + ".")
        return
    except ConsentClosed as exc:
        log.info("Send on %s: %s", execution_id, exc.message)
        return  # expired here (the delivery room ends the step) or answered before
    try:
        outputs = send_reward(deps, execution_id, row.inputs, confirmed_by=user)
    except (StepRefused, RewardError) as exc:
        why = exc.sentence if isinstance(exc, StepRefused) else exc.message
        fail(error=step_error(why))
        deps.consents.refused(execution_id, why.rstrip("."))  # the DM says why (an event)
        return
    except Exception as exc:  # logged with a reference; Send may be pressed again
        _tell(client, user, user_message(exc))
        return
    # Completed first: if Slack loses it, the DM keeps its buttons and Send again answers.
    complete(outputs=outputs)
    ref = str(outputs["request_ref"])
    deps.consents.sent(execution_id, int(ref.removeprefix("R-")), ref)


def on_decline(deps: Deps, body: dict[str, Any], client: WebClient, fail: Fail) -> None:
    execution_id = str((body.get("function_data") or {}).get("execution_id") or "")
    user = body["user"]["id"]
    try:
        deps.consents.decline(execution_id, user)
    except NotTheRunner as exc:
        _tell(client, user, exc.message[:1].upper() + exc.message[1:] + ".")
        return
    except ConsentClosed as exc:
        log.info("Don't send on %s: %s", execution_id, exc.message)
        return
    name = deps.users.known(user)
    who = name.name if name is not None else "The person who ran the workflow"
    fail(error=step_error(DECLINED.format(who=who) + "."))


def register(app: App, deps: Deps) -> None:
    answers = Answers(deps)

    @app.function(Step.SEND_REWARD)
    def on_send_reward(
        event: dict[str, Any], client: WebClient, complete: Complete, fail: Fail
    ) -> None:
        # `client` carries the step's token: the buttons it posts belong to this execution.
        execution_id = event["function_execution_id"]
        answers.answer(execution_id, lambda: ask_to_send(deps, client, event), complete, fail)

    @app.action(Action.CONSENT_SEND)
    def consent_send(
        ack: Ack, body: dict[str, Any], client: WebClient, complete: Complete, fail: Fail
    ) -> None:
        ack()
        deps.background.submit(on_send, deps, body, client, complete, fail)

    @app.action(Action.CONSENT_DECLINE)
    def consent_decline(ack: Ack, body: dict[str, Any], client: WebClient, fail: Fail) -> None:
        ack()
        deps.background.submit(on_decline, deps, body, client, fail)
