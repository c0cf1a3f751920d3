"""The Slack side of a workflow's question to its runner once it is answered
(services/consent.py), as the delivery room sends it (handlers/sender.py hands these events
here): the DM's buttons give way to what happened, and an expiry fails the step.

Both go with the bot's own token: a step's token is revoked once the step ends, and lasts 15
minutes anyway (slackapi/bolt-python#1075), while the runner has a day to answer.
"""

from __future__ import annotations

from slack_sdk import WebClient

from handlers import consent_messages
from handlers import mrkdwn as md
from handlers.step_outputs import outputs_of
from handlers.targets import Targets
from services.consent import EXPIRED
from storage.models import EventKind, EventRow

CONSENT_KINDS = frozenset({EventKind.WORKFLOW_CONSENT_EXPIRED, EventKind.WORKFLOW_CONSENT_ANSWERED})


def send_consent_event(targets: Targets, client: WebClient, event: EventRow) -> None:
    if event.kind == EventKind.WORKFLOW_CONSENT_EXPIRED:
        # Nobody pressed Send within a day (or a Send that failed unexpectedly was not
        # pressed again through it): the step fails, with the event's sentence.
        execution = str(event.data.get("execution_id") or "")
        reason = event.reason or EXPIRED
        why = md.escape(reason[:1].upper() + reason[1:] + ".")
        targets.attempt(
            f"e{event.id}:fail",
            None,
            execution,
            lambda: client.functions_completeError(function_execution_id=execution, error=why),
        )
        outcome = "lapsed" if event.data.get("was") == "sending" else "expired"
        detail = ""
    else:
        outcome, detail = str(event.data.get("outcome") or ""), event.reason or ""
        if event.data.get("complete"):
            _complete(targets, client, event)
    channel, ts = event.data.get("channel"), event.data.get("ts")
    if not (channel and ts):
        return
    text, blocks = consent_messages.consent_answered(outcome, detail)
    targets.attempt(
        f"e{event.id}:dm",
        None,
        str(event.data.get("runner") or ""),
        lambda: client.chat_update(channel=channel, ts=ts, text=text, blocks=blocks),
    )


def _complete(targets: Targets, client: WebClient, event: EventRow) -> None:
    """A step the clock found sent (its Send recorded the request, then died before
    completing it): completed now with the request's outputs, as the Send would have."""
    execution = str(event.data.get("execution_id") or "")
    request = targets.notices.request(int(event.data.get("request_id") or 0))
    if request is None:
        return
    outputs = outputs_of(request, targets.notices.orders(request.id))
    targets.attempt(
        f"e{event.id}:complete",
        None,
        execution,
        lambda: client.functions_completeSuccess(function_execution_id=execution, outputs=outputs),
    )
