"""/reward: the modal at once, or a text command (help, status, history, balance, cancel,
delegate).

The command is declared with `should_escape: true` (manifest.yml), so its text arrives as Slack
writes all text: `&`, `<`, `>` as entities, and a mention as `<@U123|name>`, a member id that
cannot be faked by typing (typed `<@U1>` arrives as `&lt;@U1&gt;`). Mentions are read from the
text as it came; everything else is unescaped first and escaped again when echoed.
Answers are mrkdwn: anything echoed from what was typed is escaped, and who may see or do what
is the services' decision (`RewardService.view_for`, `Delegations.set`), from the signed user id.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from datetime import date
from typing import Any

from slack_bolt import Ack, App, Respond
from slack_sdk import WebClient

from handlers import mrkdwn as md
from handlers import replies
from handlers.deps import Deps
from handlers.form_notes import form_notes
from handlers.ids import COMMAND
from handlers.reward_form import open_modal, where_of
from services.errors import RewardError
from services.rewards import RequestView
from services.xoxoday import errors as xe

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    @app.command(COMMAND)
    def on_reward(ack: Ack, body: dict[str, Any], client: WebClient, respond: Respond) -> None:
        text = (body.get("text") or "").strip()
        user_id = body["user_id"]
        if not text:
            ack()  # first, so the modal opens while the trigger is fresh
            notes = form_notes(deps, user_id, [])  # SQLite only: no wait on Slack or Xoxoday
            where = where_of(deps)
            open_modal(client, body, body.get("channel_id"), notes=notes, where=where)
            return
        word, _, rest = text.partition(" ")
        handler = TEXT_COMMANDS.get(md.unescape(word).lower())
        if handler is None:
            ack(text=replies.help_text(deps.rewards.visibility.sees_company(user_id)))
            return
        handler(deps, ack, respond, user_id, rest.strip())


def _help(deps: Deps, ack: Ack, respond: Respond, user_id: str, rest: str) -> None:
    ack(text=replies.help_text(deps.rewards.visibility.sees_company(user_id)))


def _visible(
    deps: Deps, ack: Ack, user_id: str, reference: str, example: str
) -> RequestView | None:
    """The request as this user may see it; else an answer that tells nothing about it."""
    reference = md.unescape(reference).strip()
    if not reference:
        ack(text=f"Which request? For example `{example}`, or a poNumber.")
        return None
    try:
        view = deps.rewards.view_for(user_id, reference)
    except RewardError as exc:
        ack(text=md.escape(exc.message[:1].upper() + exc.message[1:]) + ".")
        return None
    if view is None:
        ack(text=f"I found no request {md.escape(reference)} of yours.")
    return view


def _status(deps: Deps, ack: Ack, respond: Respond, user_id: str, rest: str) -> None:
    view = _visible(deps, ack, user_id, rest, "/reward status R-12")
    if view is not None:
        ack(text=replies.status_text(view.request, view.orders, whole=view.whole))


def _history(deps: Deps, ack: Ack, respond: Respond, user_id: str, rest: str) -> None:
    ack(text=replies.history_text(deps.rewards.history(user_id, limit=10)))


def _cancel(deps: Deps, ack: Ack, respond: Respond, user_id: str, rest: str) -> None:
    view = _visible(deps, ack, user_id, rest, "/reward cancel R-12")
    if view is None:
        return
    request = view.request
    try:
        deps.rewards.cancel(request.id, user_id)
    except RewardError as exc:
        ack(text=f"{request.ref} was not cancelled: {md.escape(exc.message)}.")
        return
    ack(text=f"{request.ref} is cancelled; nothing was ordered and your budget is as it was.")


def _balance(deps: Deps, ack: Ack, respond: Respond, user_id: str, rest: str) -> None:
    if not deps.rewards.visibility.sees_company(user_id):  # services/visibility.py
        ack(text="Only approvers can see the wallet balance.")
        return
    ack(text="Checking the Xoxoday wallet…")

    def answer() -> None:
        try:
            view = deps.wallet.view()
        except xe.XoxodayError as exc:
            respond(
                text=f"The balance is not available right now: {md.escape(exc.message)}.",
                replace_original=True,
            )
            return
        respond(
            text=replies.balance_text(view.balance, view.committed, view.currency),
            replace_original=True,
        )

    deps.background.submit(answer)  # getBalance may be slow: never on the listener thread


# `<@U123|name>` (or `<@U123>`) at the start, as Slack writes a mention with should_escape.
DELEGATE = re.compile(r"<@([UW][A-Z0-9]{2,20})(?:\|[^<>]*)?>\s+until\s+(\S+)", re.IGNORECASE)
DAY = re.compile(r"\d{4}-\d{2}-\d{2}")
DELEGATE_USAGE = (
    "Name who approves in your place and until when: "
    "`/reward delegate @someone until 2026-12-24`, or `/reward delegate off`."
)


def _delegate(deps: Deps, ack: Ack, respond: Respond, user_id: str, rest: str) -> None:
    """`delegate <@U…|name> until YYYY-MM-DD` and `delegate off`, by an approver."""
    delegations = deps.delegations
    if delegations is None:
        ack(text="Delegation is not available here.")
        return
    if md.unescape(rest).strip().lower() == "off":
        ack(text=replies.delegate_reply(delegations.off(user_id), ended=True))
        return
    if not delegations.may_delegate(user_id):  # the service checks again; this saves a lookup
        ack(text="Only approvers can name someone to stand in for them.")
        return
    match = DELEGATE.fullmatch(rest.strip())
    if match is None:
        ack(text=DELEGATE_USAGE)
        return
    delegate_id, until_text = match.groups()
    try:
        until = date.fromisoformat(until_text) if DAY.fullmatch(until_text) else None
    except ValueError:
        until = None
    if until is None:
        shown = md.escape(md.unescape(until_text))
        ack(text=f"{shown} is not a day: write it like 2026-12-24.")
        return
    found = deps.users.lookup([delegate_id])
    person = found.users.get(delegate_id)
    if delegate_id in found.late:
        ack(text="Slack was slow to tell me who that is; try again in a moment.")
        return
    if person is None or person.deleted:
        ack(text=f"{md.mention(delegate_id)} is not an active member of this workspace.")
        return
    if person.is_bot:
        ack(text=f"{md.escape(person.name)} is a bot: name a person.")
        return
    try:
        delegation = delegations.set(user_id, delegate_id, until)
    except RewardError as exc:
        ack(text=md.escape(exc.message[:1].upper() + exc.message[1:]) + ".")
        return
    ack(text=replies.delegate_reply(delegation))


TEXT_COMMANDS: dict[str, Callable[[Deps, Ack, Respond, str, str], None]] = {
    "help": _help,
    "status": _status,
    "history": _history,
    "cancel": _cancel,
    "balance": _balance,
    "delegate": _delegate,
}
