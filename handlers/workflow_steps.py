"""Workflow Builder steps: `send_reward` asks for a reward, `reward_status` says where one stands.

Slack sends `function_executed` (over HTTP or Socket Mode); Bolt acknowledges it at once and
runs the listener after the ack, with the step's `inputs`, `complete` and `fail`
(https://docs.slack.dev/tools/bolt-python/concepts/custom-steps). Nobody waits on a 3-second
answer here, so the step may wait on Slack's directory and the wallet as the modal may not.

Rules, in the order they are applied:

* Who pays is who ran the workflow, as Slack says it: the `runner` input, of type
  slack#/types/user_context, which Workflow Builder fills from the trigger (a link, a form, a
  button someone clicked) and lets no one type in
  (https://docs.slack.dev/reference/types/user_context-type). A workflow author could put
  anyone in `requester`, so `requester` must be that same person; without a runner (a
  scheduled workflow with no click) nobody's budget can be spent and the step fails.
* Then exactly what /reward does, through the same intake (services/intake.py): the checks,
  the policy, the budget and the approval; its errors come back by field and are said here
  naming the step's inputs.
* One request per execution: the execution id is the request's idempotency key, so Slack
  replaying the event (same event, same execution) finds the request already recorded, and
  each execution is answered (completed or failed) once.
* `reward_status` answers what `/reward status` would show the person who ran the workflow
  (RewardService.view_for: the requester, an approver, or a recipient for their own reward);
  anything else is "no such request", whether it exists or not.

Sentences for `fail()` reach the person through a Slackbot message, so what they echo (a
product's name, a value typed in Workflow Builder) is escaped like any mrkdwn.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from slack_bolt import App
from slack_bolt.context.complete import Complete
from slack_bolt.context.fail import Fail

from handlers import mrkdwn as md
from handlers.deps import Deps
from handlers.errors import user_message
from handlers.ids import Step
from handlers.step_outputs import outputs_of, step_state
from services.consent import request_key
from services.errors import RewardError
from services.intake import PHONE_BOX, Ask, Field, FieldError, Line, Source
from services.money import AmountError, parse_amount
from services.notify import Steps
from services.reward_types import all_details, kind

log = logging.getLogger(__name__)

# A step waits this long for Slack to describe the people (the modal: 1.5 s, for its ack).
STEP_LOOKUP_DEADLINE_S = 10.0
MAX_MESSAGE = 500  # as the modal's message field
CONSUMER = "workflow"  # the answers given, in the notification steps' record

# The inputs as Workflow Builder shows them (manifest.yml `functions.send_reward`; the manifest
# test holds the two equal), and which one each of the form's fields is.
TITLES = {
    "recipient": "Recipient",
    "reward_type": "Kind of reward",
    "product_id": "Product ID",
    "amount": "Amount",
    "message": "Message",
    "requester": "Requester",
}  # and one input per extra field of the kinds, named and titled by the registry: titles()


def titles() -> dict[str, str]:
    """Every input's title, the kinds' extra fields' as the registry has them now."""
    return {**TITLES, **{d.field: d.title for d in all_details()}}


# Which input each of the intake's fields is (services/intake.py); a kind's extra field is
# the input of its name, and a field not here (the request as a whole: the wallet) is said
# without an input's name.
INPUT_OF_FIELD = {
    Field.REWARD_TYPE: "reward_type",
    Field.PRODUCT: "product_id",
    Field.AMOUNT: "amount",
    Field.QUANTITY: "amount",
    Field.RECIPIENTS: "recipient",
    Field.EMAIL: "recipient",
    Field.CONTACT: PHONE_BOX,  # a product's required contact is given as the phone number
    Field.MESSAGE: "message",
}

NO_RUNNER = (
    "Slack did not say who ran this workflow, so nobody's budget can pay for a reward. "
    "Start the workflow from a link, a form or a button that the person who pays clicks "
    "(a scheduled workflow: add a step with a button before this one)."
)
NO_RUNNER_STATUS = (
    "Slack did not say who ran this workflow, so I cannot tell whether they may see the "
    "request. Start the workflow from a link, a form or a button."
)


# What a step's work returns when the step was answered elsewhere already (its runner's
# click: handlers/workflow_consent.py): say nothing more, and remember it is answered.
ANSWERED_ELSEWHERE: dict[str, Any] = {}


class StepRefused(Exception):
    """The step cannot go on: `sentence` (plain words, escaped when sent: step_error) is
    what the workflow's person reads."""

    def __init__(self, sentence: str) -> None:
        super().__init__(sentence)
        self.sentence = sentence


def sentence(text: str) -> str:
    """Capitalised, with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[:1].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def refusal(errors: Sequence[FieldError]) -> str:
    """The intake's errors as sentences naming the step's inputs."""
    parts = []
    named = titles()
    for error in errors:
        title = named.get(INPUT_OF_FIELD.get(error.field, error.field), "")
        said = f"{title}: {sentence(error.message)}" if title else sentence(error.message)
        if said not in parts:
            parts.append(said)
    return " ".join(parts)


def step_error(text: str) -> str:
    """What fail() sends: escaped, since Slack shows it as a message (mrkdwn)."""
    return md.escape(text)[:2000]


# --- reading the inputs --------------------------------------------------------------------


@dataclass(frozen=True)
class SendReward:
    """send_reward's inputs, read and checked for shape (the form's checks come next)."""

    recipient: str
    reward_type: str  # a key of the reward-kind registry
    product_id: int | None  # None: the recipient chooses it (reward_type choice)
    amount: str  # written as the amount parser reads it
    message: str
    requester: str | None
    runner: str | None
    details: dict[str, str | None]  # the kinds' extra fields, by input name


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def runner_of(value: Any) -> str | None:
    """The member id in a slack#/types/user_context value, or None."""
    user = value.get("id") if isinstance(value, dict) else None
    return user if isinstance(user, str) and md.is_member_id(user) else None


def _amount_text(value: Any) -> str:
    """A Workflow Builder number as the amount parser reads it: 25 -> "25", 25.5 -> "25.5"."""
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        amount = Decimal(repr(value))  # the shortest text that is this number: what was typed
        return str(int(amount)) if amount == amount.to_integral_value() else format(amount, "f")
    return str(value or "").strip()


def _product_id(value: Any) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value if value > 0 else None
    if isinstance(value, float) and value.is_integer() and value > 0:
        return int(value)
    text = str(value or "").strip()
    return int(text) if text.isdigit() and len(text) <= 12 and int(text) > 0 else None


def read_send_reward(inputs: dict[str, Any]) -> SendReward:
    """The inputs, or StepRefused naming the first one that is wrong."""
    recipient = _text(inputs.get("recipient"))
    if recipient is None or not md.is_member_id(recipient):
        raise StepRefused(f"{TITLES['recipient']}: choose a person in this workspace.")
    try:
        reward_kind = kind(_text(inputs.get("reward_type")))
    except KeyError as exc:
        raise StepRefused(f"{TITLES['reward_type']}: {sentence(str(exc.args[0]))}") from None
    # Their choice names no product: the recipient chooses one, for the amount given.
    product_id = None if reward_kind.chooses_from else _product_id(inputs.get("product_id"))
    if product_id is None and not reward_kind.chooses_from:
        raise StepRefused(
            f"{TITLES['product_id']}: give the number of a product in the catalog, such as 27222."
        )
    amount = _amount_text(inputs.get("amount"))
    try:
        parse_amount(amount)
    except AmountError as exc:
        raise StepRefused(f"{TITLES['amount']}: {sentence(exc.message)}") from None
    written = inputs.get("message")
    message = written.strip() if isinstance(written, str) else ""
    if len(message) > MAX_MESSAGE:
        raise StepRefused(
            f"{TITLES['message']}: at most {MAX_MESSAGE} characters (it has {len(message)})."
        )
    requester = _text(inputs.get("requester"))
    if requester is not None and not md.is_member_id(requester):
        raise StepRefused(f"{TITLES['requester']}: choose a person in this workspace.")
    return SendReward(
        recipient=recipient,
        reward_type=reward_kind.key,
        product_id=product_id,
        amount=amount,
        message=message,
        requester=requester,
        runner=runner_of(inputs.get("runner")),
        details={d.field: _text(inputs.get(d.field)) for d in all_details()},
    )


def requester_of(step: SendReward) -> str:
    """Whose budget pays: the person Slack says ran the workflow, and nobody else."""
    if step.runner is None:
        raise StepRefused(NO_RUNNER)
    if step.requester is not None and step.requester != step.runner:
        raise StepRefused(
            f"{TITLES['requester']}: a reward is paid from the budget of the person who ran "
            "the workflow, so Requester must be them or empty."
        )
    return step.runner


def ask_of(
    step: SendReward, requester: str, execution_id: str, confirmed_by: str | None = None
) -> Ask:
    """What the step asks for, in the intake's terms (services/intake.py). Nobody waits on
    a 3-second answer, so the intake may ask Xoxoday for the wallet's currency; such a request
    always waits for an approver (services/rewards.py, UNATTENDED_SOURCES)."""
    return Ask(
        requester_id=requester,
        lines=[
            Line(
                product_id=step.product_id,
                amount=step.amount,
                reward_type=step.reward_type,
                members=[step.recipient],
                details=step.details,
            )
        ],
        source=Source.WORKFLOW,
        idempotency_key=idempotency_key(execution_id),
        message=step.message,
        may_wait=True,
        confirmed_by=confirmed_by,
    )


# --- answering each execution once ---------------------------------------------------------


class Answers:
    """Each execution is answered once, whatever Slack replays: one at a time per execution
    in this process, and recorded in the database (services.notify.Steps), so a replay
    after the answer does nothing and one after a crash before it answers then."""

    def __init__(self, deps: Deps) -> None:
        self.steps = Steps(deps.rewards.database, CONSUMER)
        self._guard = threading.Lock()
        self._locks: dict[str, tuple[threading.Lock, int]] = {}

    @contextmanager
    def _held(self, execution_id: str) -> Iterator[None]:
        with self._guard:
            lock, users = self._locks.get(execution_id, (threading.Lock(), 0))
            self._locks[execution_id] = (lock, users + 1)
        try:
            with lock:
                yield
        finally:
            with self._guard:
                lock, users = self._locks[execution_id]
                if users <= 1:
                    del self._locks[execution_id]
                else:
                    self._locks[execution_id] = (lock, users - 1)

    def answer(
        self,
        execution_id: str,
        work: Callable[[], dict[str, Any] | None],
        complete: Complete,
        fail: Fail,
    ) -> None:
        """Run `work` for its outputs and complete the step with them (None: it is not answered
        yet, it ends on a click); a StepRefused (or anything unexpected, as a sentence with a
        log reference) fails it instead."""

        def run() -> bool:
            """True once the step was answered (completed or failed)."""
            try:
                outputs = work()
            except StepRefused as exc:
                fail(error=step_error(exc.sentence))
            except Exception as exc:
                fail(error=step_error(user_message(exc)))  # logs it with a reference
            else:
                if outputs is None:  # it ends later, on its runner's click: not answered
                    return False
                if outputs is ANSWERED_ELSEWHERE:
                    log.info("workflow step %s was answered already (by a click)", execution_id)
                    return True
                complete(outputs=outputs)
            return True

        key = f"{execution_id}:answer"
        with self._held(execution_id):
            if self.steps.done(key):
                log.info("workflow step %s was answered already (Slack replayed it)", execution_id)
                return
            if run():
                self.steps.settle(key, "done")


# --- the steps -----------------------------------------------------------------------------


def idempotency_key(execution_id: str) -> str:
    return request_key(execution_id)


def prepared(deps: Deps, inputs: dict[str, Any]) -> tuple[SendReward, str]:
    """The step's inputs read, whose budget pays, the catalog and the people known."""
    step = read_send_reward(inputs)
    requester = requester_of(step)
    if deps.catalog.refreshed_at() is None:
        deps.catalog.ensure_fresh()  # the first use after a start: fill the cache
    # Fill the directory now, waiting longer than a modal may, so the intake finds everyone.
    found = deps.users.lookup([step.recipient, requester], deadline_s=STEP_LOOKUP_DEADLINE_S)
    if found.late:
        raise StepRefused("Slack did not answer in time about the people involved; run it again.")
    return step, requester


def send_reward(
    deps: Deps, execution_id: str, inputs: dict[str, Any], confirmed_by: str | None = None
) -> dict[str, Any]:
    """Record the request the step asks for (once per execution); its outputs. The step's
    listener calls it only once the runner pressed Send (handlers/workflow_consent.py), with
    `confirmed_by` their user id."""
    existing = deps.rewards.recorded(idempotency_key(execution_id))
    if existing is not None:  # recorded before a crash or a replay: the same request
        return outputs_of(existing.request, existing.orders)
    step, requester = prepared(deps, inputs)
    submitted = deps.intake.submit(ask_of(step, requester, execution_id, confirmed_by))
    if submitted.decision is None:
        raise StepRefused(refusal(submitted.errors))
    return outputs_of(submitted.decision.request, submitted.decision.orders)


def reward_status(deps: Deps, inputs: dict[str, Any]) -> dict[str, Any]:
    reference = _text(inputs.get("request_ref")) or ""
    reader = runner_of(inputs.get("runner"))
    if reader is None:
        raise StepRefused(NO_RUNNER_STATUS)
    try:
        view = deps.rewards.view_for(reader, reference)
    except RewardError as exc:
        raise StepRefused(sentence(exc.message)) from None
    if view is None:
        raise StepRefused(
            f"There is no request {reference[:40]} that the person who ran this workflow may see."
        )
    return {"state": step_state(view.request, view.orders)}


def register(app: App, deps: Deps) -> None:
    """reward_status; send_reward's listener is handlers/workflow_consent.py's."""
    answers = Answers(deps)

    @app.function(Step.REWARD_STATUS)
    def on_reward_status(event: dict[str, Any], complete: Complete, fail: Fail) -> None:
        inputs = event.get("inputs") or {}
        answers.answer(
            event["function_execution_id"], lambda: reward_status(deps, inputs), complete, fail
        )
