"""One error handler: domain errors as sentences, anything else as a reference to the log.

A person never sees a stack trace: a known refusal is shown as it is, Slack's 429 to a call
the listener made (views.open is never retried after one: handlers/app.py) as "Slack is busy,
try again in N seconds", an unexpected failure as one line with a short reference that is also
in the log, next to the traceback.
"""

from __future__ import annotations

import json
import logging
import secrets
from typing import Any

from slack_bolt import BoltResponse
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError
from slack_sdk.webhook import WebhookClient

from handlers import mrkdwn as md
from services.errors import RequestNotPending, RewardError

log = logging.getLogger("rewards.slack")


def user_message(error: Exception) -> str:
    if isinstance(error, RewardError):
        return error.message[:1].upper() + error.message[1:]
    busy = rate_limited(error)
    if busy is not None:
        log.warning(
            "Slack answered 429 to a listener's call; the person is told to wait %s s", busy
        )
        return busy_text(busy)
    reference = secrets.token_hex(3).upper()
    log.error("unexpected error (reference %s)", reference, exc_info=error)
    return f"Sorry, something went wrong (reference {reference}). The bot's log has the details."


def rate_limited(error: Exception) -> int | None:
    """Retry-After's seconds when `error` is Slack's HTTP 429 (a call made in a listener that
    was not retried: one that spends a trigger_id, handlers/app.py), else None."""
    if not isinstance(error, SlackApiError) or error.response.status_code != 429:
        return None
    headers = {k.lower(): v for k, v in (error.response.headers or {}).items()}
    value = headers.get("retry-after")
    value = value[0] if isinstance(value, list) and value else value
    try:
        return max(1, int(str(value)))
    except ValueError:
        return 1


def busy_text(seconds: int) -> str:
    return f"Slack is busy right now: try again in {seconds} seconds."


def open_view(client: WebClient, body: dict[str, Any], view: dict[str, Any]) -> Any:
    """views.open with the request's trigger_id; None when Slack answered 429, which is never
    retried (the trigger dies first: handlers/app.py) and is told to the person here. Told in
    the listener, not raised: an error raised just after ack() can lose the ack (Bolt's thread
    runner hands the error handler no response then, and stores what it returns, None, as the
    ack's), so Slack would show the person an error as well."""
    try:
        return client.views_open(trigger_id=body["trigger_id"], view=view)
    except SlackApiError as exc:
        seconds = rate_limited(exc)
        if seconds is None:
            raise
        log.warning("Slack answered 429 to views.open; the person is told to wait %s s", seconds)
        tell(client, body, md.escape(busy_text(seconds)))
        return None


def refusal_text(exc: RewardError) -> str:
    """A refusal as an ephemeral message (mrkdwn): the service's sentence, escaped."""
    if isinstance(exc, RequestNotPending) and exc.decided_by and exc.decided_by != "policy":
        return f"{md.escape(exc.message)} by {md.mention(exc.decided_by)}."
    return md.escape(exc.message[:1].upper() + exc.message[1:]) + "."


def _response_url(body: dict[str, Any]) -> str | None:
    """Where Slack takes an answer to this request: a command's or a message button's
    response_url (a modal submission may carry one in response_urls)."""
    url = body.get("response_url")
    if not url:
        urls = body.get("response_urls") or []
        url = urls[0].get("response_url") if urls and isinstance(urls[0], dict) else None
    return str(url) if url else None


def tell(client: WebClient, body: dict[str, Any], text: str) -> None:
    """Tell the person who sent `body` something after the ack, only they see: through the
    request's response_url (it needs no membership of the channel), else by DM. Never
    chat.postEphemeral into the channel, which Slack refuses where the bot is not a member,
    chat:write.public or not (slackapi/node-slack-sdk#977; slack-platform.md §7)."""
    user = body.get("user_id") or (body.get("user") or {}).get("id")
    url = _response_url(body)
    if url:
        try:
            answer = WebhookClient(url, timeout=5).send(
                text=text, response_type="ephemeral", replace_original=False
            )
            if answer.status_code == 200:
                return
            log.warning("the response_url refused an answer (%s); by DM", answer.status_code)
        except Exception as exc:
            log.warning("the response_url did not answer (%s); by DM", exc)
    if user:
        client.chat_postMessage(channel=user, text=text)


def handle_error(
    error: Exception, body: dict[str, Any], client: WebClient, response: BoltResponse | None
) -> BoltResponse | None:
    text = user_message(error)  # plain words: modal errors show them as written
    shown = md.escape(text)  # messages are mrkdwn: what the error echoes stays inert
    unanswered = response is not None and response.status >= 500
    if unanswered and body.get("command"):
        return BoltResponse(
            status=200, body=json.dumps({"response_type": "ephemeral", "text": shown})
        )
    if unanswered and body.get("type") == "view_submission":
        first = next(
            (
                b.get("block_id")
                for b in body.get("view", {}).get("blocks", [])
                if b.get("type") == "input"
            ),
            None,
        )
        if first:
            answer = {"response_action": "errors", "errors": {first: text}}
            return BoltResponse(status=200, body=json.dumps(answer))
    try:
        tell(client, body, shown)
    except Exception:
        log.exception("could not tell the user about an error")
    return BoltResponse(status=200, body="") if unanswered else None
