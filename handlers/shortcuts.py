""" "Reward this message": the /reward form, with the message's author as the recipient and a
link to the message in the note.

A shortcut's trigger_id works once and for 3 seconds
(https://docs.slack.dev/interactivity/implementing-shortcuts), so the modal opens first, from
what the payload already says (who wrote the message); the link comes from chat.getPermalink
afterwards and goes in with views.update. The permalink also travels in the modal's metadata
(checked again whenever it is read: handlers/permalinks.py) with the message's author, so the
request keeps it, and the approval ask and the status message link back to the message, as
long as the author is among the recipients (a form whose recipient was changed rewards
someone else, and is not made "for the message": services/intake.py). Everything after that is the
/reward modal's own path (handlers/reward_form.py).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers import mrkdwn as md
from handlers import permalinks
from handlers.deps import Deps
from handlers.errors import open_view
from handlers.forms import RewardForm
from handlers.ids import Shortcut
from handlers.metadata import RewardModalMeta
from handlers.reward_form import where_of
from handlers.views import Where, reward_modal

log = logging.getLogger(__name__)


def note_for(permalink: str) -> str:
    """The note the form starts with (plain text in the modal; the recipient reads it)."""
    return f"For your message: {permalink}"


def recipients_for(shortcut: dict[str, Any]) -> list[str]:
    """The message's author, when the form can offer them: a person's member id, not the one
    using the shortcut (nobody rewards themselves) and not an app's message."""
    message = shortcut.get("message") or {}
    author = message.get("user")
    user = (shortcut.get("user") or {}).get("id")
    if not md.is_member_id(author) or author == user or message.get("bot_id"):
        return []
    return [author]


def register(app: App, deps: Deps) -> None:
    @app.shortcut(Shortcut.REWARD_MESSAGE)
    def on_reward_message(ack: Ack, shortcut: dict[str, Any], client: WebClient) -> None:
        ack()
        channel = (shortcut.get("channel") or {}).get("id")
        message_ts = (shortcut.get("message") or {}).get("ts") or shortcut.get("message_ts")
        recipients = recipients_for(shortcut)
        # The status goes where the message is; the link is kept while its author receives.
        meta = RewardModalMeta(channel_id=channel, source_author=next(iter(recipients), None))
        form = RewardForm(recipients=recipients)
        where = where_of(deps)
        opened = open_view(client, shortcut, reward_modal(meta, form, where=where))
        if opened is not None and channel and message_ts:
            link_message(client, opened["view"], meta, form, channel, str(message_ts), where)


def link_message(
    client: WebClient,
    view: dict[str, Any],
    meta: RewardModalMeta,
    form: RewardForm,
    channel: str,
    message_ts: str,
    where: Where | None = None,
) -> None:
    """Put the message's permalink in the open form's note and metadata, unless the person
    changed the form first (their change wins: the request is then made without the link)."""
    try:
        answer = client.chat_getPermalink(channel=channel, message_ts=message_ts)
    except SlackApiError as exc:
        log.info("no permalink for the message rewarded: %s", exc.response.get("error"))
        return
    link = permalinks.checked(answer.get("permalink"))
    if link is None:
        log.warning("chat.getPermalink answered with something that is not a Slack permalink")
        return
    meta = meta.model_copy(update={"source_link": link})
    form = form.model_copy(update={"message": note_for(link)})
    try:
        client.views_update(
            view_id=view["id"], hash=view.get("hash"), view=reward_modal(meta, form, where=where)
        )
    except SlackApiError as exc:
        if exc.response.get("error") not in ("hash_conflict", "not_found"):
            raise
        log.info("the form changed (or closed) before the message's link was added")
