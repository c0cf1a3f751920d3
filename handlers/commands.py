"""/reward: the modal at once, or a text command (help, status, history, balance, cancel)."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from handlers import messages as msg
from handlers.deps import Deps
from handlers.ids import COMMAND
from handlers.reward_form import open_modal
from services.errors import RewardError
from services.xoxoday import errors as xe
from storage import orders as order_store
from storage import requests as request_store
from storage.models import RequestRow

log = logging.getLogger(__name__)

REQUEST_REF = re.compile(r"^(?:R-?)?(\d{1,9})$", re.IGNORECASE)


def register(app: App, deps: Deps) -> None:
    @app.command(COMMAND)
    def on_reward(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        text = (body.get("text") or "").strip()
        user_id = body["user_id"]
        if not text:
            ack()  # first, so the modal opens while the trigger is fresh
            open_modal(client, body["trigger_id"], body.get("channel_id"))
            return
        word, _, rest = text.partition(" ")
        handler = TEXT_COMMANDS.get(word.lower())
        if handler is None:
            ack(text=msg.help_text(deps.policy.is_approver(user_id)))
            return
        handler(deps, ack, respond, user_id, rest.strip())


def _help(deps: Deps, ack: Ack, respond: Respond, user_id: str, rest: str) -> None:
    ack(text=msg.help_text(deps.policy.is_approver(user_id)))


def _find(deps: Deps, reference: str) -> RequestRow | None:
    match = REQUEST_REF.match(reference.strip())
    if match:
        return request_store.get(deps.database, int(match.group(1)))
    order = order_store.by_po(deps.database, reference.strip())
    return request_store.get(deps.database, order.request_id) if order else None


def _may_see(deps: Deps, user_id: str, request: RequestRow) -> bool:
    if user_id == request.requester_id or deps.policy.is_approver(user_id):
        return True
    return any(
        o.recipient_id == user_id for o in order_store.for_request(deps.database, request.id)
    )


def _status(deps: Deps, ack: Ack, respond: Respond, user_id: str, rest: str) -> None:
    if not rest:
        ack(text="Which request? For example `/reward status R-12`, or a poNumber.")
        return
    request = _find(deps, rest)
    if request is None or not _may_see(deps, user_id, request):
        ack(text=f"I found no request {rest} of yours.")
        return
    ack(text=msg.status_text(request, order_store.for_request(deps.database, request.id)))


def _history(deps: Deps, ack: Ack, respond: Respond, user_id: str, rest: str) -> None:
    ack(text=msg.history_text(request_store.for_requester(deps.database, user_id, limit=10)))


def _cancel(deps: Deps, ack: Ack, respond: Respond, user_id: str, rest: str) -> None:
    request = _find(deps, rest) if rest else None
    if request is None:
        ack(text="Which request? For example `/reward cancel R-12`.")
        return
    try:
        deps.rewards.cancel(request.id, user_id)
    except RewardError as exc:
        ack(text=f"{request.ref} was not cancelled: {exc.message}.")
        return
    ack(text=f"{request.ref} is cancelled; nothing was ordered and your budget is as it was.")


def _balance(deps: Deps, ack: Ack, respond: Respond, user_id: str, rest: str) -> None:
    if not deps.policy.is_approver(user_id):
        ack(text="Only approvers can see the wallet balance.")
        return
    ack(text="Checking the Xoxoday wallet…")

    def answer() -> None:
        try:
            view = deps.wallet.view()
        except xe.XoxodayError as exc:
            respond(
                text=f"The balance is not available right now: {exc.message}.",
                replace_original=True,
            )
            return
        respond(
            text=msg.balance_text(view.balance, view.committed, view.currency),
            replace_original=True,
        )

    deps.background.submit(answer)  # getBalance may be slow: never on the listener thread


TEXT_COMMANDS: dict[str, Callable[[Deps, Ack, Respond, str, str], None]] = {
    "help": _help,
    "status": _status,
    "history": _history,
    "cancel": _cancel,
    "balance": _balance,
}
