"""One Slack message to one target, as a step: sent once, given up once, or tried again later.

Each post is a step (services.notify.Steps): a send that comes back after a failure repeats
only what did not go through. A person or channel Slack says can never take a message
(handlers/slack_errors.py: GONE) is given up for that request with one log line and one note
to the requester (by DM, or in the request's thread when the requester is the one who cannot be
reached). A message Slack refused (FIX) is logged as the bug it is and not retried. Anything
else fails for now: the send records it in `failed` and the delivery room tries again later.
The pacer's NotYet passes through untouched: the whole send goes back in line.
"""

from __future__ import annotations

import hashlib
import json
import logging
import threading
from collections.abc import Callable
from typing import TypeVar

from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers import messages as msg
from handlers.paced_client import NotYet
from handlers.slack_errors import GONE, ErrorClass, classify
from services.notices import MessageRef, Notices
from services.notify import Steps
from storage.models import RequestRow

log = logging.getLogger(__name__)

T = TypeVar("T")
CONSUMER = "slack"


def is_slack_user(user_id: str | None) -> bool:
    return bool(user_id) and user_id[0] in "UW" and user_id[1:].isalnum()  # type: ignore[index]


def error_of(exc: SlackApiError) -> str:
    return str(exc.response.get("error") or "")


def named(target: str) -> str:
    return f"<@{target}>" if is_slack_user(target) else f"<#{target}>"


def _content(text: str, blocks: msg.Blocks) -> str:
    return hashlib.sha256(json.dumps([text, blocks], sort_keys=True).encode()).hexdigest()


class Pending(Exception):
    """Some messages of a send failed for now; sending it again repeats only them."""


class Targets:
    def __init__(self, client: WebClient, notices: Notices) -> None:
        self.client = client
        self.notices = notices
        self.steps = Steps(notices.database, CONSUMER)
        self._local = threading.local()
        # What each message was last updated to (this process): an update that would change
        # nothing is not made (a burst of marks often ends where the last send left it).
        self._shown: dict[tuple[str, str], str] = {}
        self._shown_lock = threading.Lock()

    # --- one send's failures ----------------------------------------------------------------

    def begin(self) -> None:
        self._local.failed = []

    def fail(self, exc: Exception) -> None:
        self._local.failed.append(exc)

    def end(self, what: str) -> None:
        failed: list[Exception] = getattr(self._local, "failed", [])
        if failed:
            raise Pending(f"{len(failed)} message(s) of {what} failed") from failed[0]

    # --- steps ----------------------------------------------------------------------------------

    def attempt(
        self,
        key: str | None,
        request: RequestRow | None,
        target: str,
        action: Callable[[], T],
        *,
        tell: bool = True,
    ) -> tuple[str, T | None]:
        """Run one message (`action`, to `target`): "ok"; "done" (on an earlier try); "gone"
        (given up for the request, once); "refused" (Slack refused what we built); "later"
        (failed for now: recorded, so the send comes back). A `key` makes it a step."""
        if request is not None and self.given_up(request, target):
            return "gone", None
        if key is not None and self.steps.done(key):
            return "done", None
        try:
            result = action()
        except NotYet:
            raise
        except SlackApiError as exc:
            error = error_of(exc)
            kind = classify(error)
            if kind is ErrorClass.GONE:
                if key is not None:
                    self.steps.settle(key, "gave_up", error)
                if request is not None:
                    self.give_up(request, target, error, tell=tell)
                else:
                    log.warning("cannot send Slack messages to %s: %s", target, error)
                return "gone", None
            if kind is ErrorClass.FIX:
                if key is not None:
                    self.steps.settle(key, "refused", error)
                log.error("Slack refused a message to %s (%s): %s", target, key, error)
                return "refused", None
            self.fail(exc)
            return "later", None
        except Exception as exc:  # Slack unreachable, a timeout: for now
            self.fail(exc)
            return "later", None
        if key is not None:
            self.steps.settle(key, "done")
        return "ok", result

    @staticmethod
    def _unreachable_key(request: RequestRow, target: str) -> str:
        return f"R{request.id}:unreachable:{target}"

    def given_up(self, request: RequestRow, target: str) -> bool:
        return self.steps.done(self._unreachable_key(request, target))

    def give_up(self, request: RequestRow, target: str, error: str, *, tell: bool) -> None:
        """Once per request and target: one log line, and one note to the requester."""
        if not self.steps.settle(self._unreachable_key(request, target), "gave_up", error):
            return
        log.warning(
            "%s: giving up on Slack messages to %s: %s (%s)",
            request.ref,
            target,
            error,
            GONE.get(error, ""),
        )
        if tell:
            self._tell_requester(request, target, error)

    def _tell_requester(self, request: RequestRow, target: str, error: str) -> None:
        why = GONE.get(error, error)
        if target != request.requester_id:
            text = (
                f"⚠️ I cannot message {named(target)} about your reward request {request.ref}: "
                f"{why}. The request itself goes on."
            )
            self.dm(f"R{request.id}:note:{target}", request, request.requester_id, text)
            return
        # The requester is the one who cannot be reached: say so where the request is shown.
        text = (
            f"⚠️ I cannot message {named(target)} about {request.ref}: {why}. "
            "Updates stay in this thread."
        )
        for ref in self.notices.refs(request.id, "status"):
            if ref.addressee == target:
                continue
            self.attempt(
                f"R{request.id}:note:{target}:{ref.channel}",
                request,
                ref.channel,
                lambda ref=ref: self.client.chat_postMessage(
                    channel=ref.channel, thread_ts=ref.ts, text=text
                ),
                tell=False,
            )

    # --- Slack calls ----------------------------------------------------------------------------

    def post(
        self,
        key: str,
        request: RequestRow | None,
        channel: str,
        text: str,
        blocks: msg.Blocks,
        *,
        tell: bool = True,
    ) -> tuple[str, tuple[str, str, str] | None]:
        """One post as a step: its outcome and, when "ok", (channel, ts, target): Slack's
        channel id for it (an opaque D… id for a DM) and what it was addressed to."""

        def send() -> tuple[str, str, str]:
            answer = self.client.chat_postMessage(channel=channel, text=text, blocks=blocks)
            return answer["channel"], answer["ts"], channel

        return self.attempt(f"{key}:{channel}", request, channel, send, tell=tell)

    def update(
        self,
        request: RequestRow,
        ref: MessageRef,
        text: str,
        blocks: msg.Blocks,
        *,
        tell: bool = True,
    ) -> bool:
        """Edit a message in place (the same however often it is made: not a step). False
        when it failed for now."""
        if self.given_up(request, ref.addressee):
            return True
        content = _content(text, blocks)
        with self._shown_lock:
            if self._shown.get((ref.channel, ref.ts)) == content:
                return True
        try:
            self.client.chat_update(channel=ref.channel, ts=ref.ts, text=text, blocks=blocks)
        except NotYet:
            raise
        except SlackApiError as exc:
            error = error_of(exc)
            kind = classify(error)
            if kind is ErrorClass.GONE:
                self.give_up(request, ref.addressee, error, tell=tell)
                return True
            if kind is ErrorClass.FIX:
                log.warning("could not update %s/%s: %s", ref.channel, ref.ts, error)
                return True
            self.fail(exc)
            return False
        except Exception as exc:
            self.fail(exc)
            return False
        with self._shown_lock:
            self._shown[(ref.channel, ref.ts)] = content
        return True

    def shown(self, channel: str, ts: str, text: str, blocks: msg.Blocks) -> None:
        """A message was just posted with this content: an update to the same is not made."""
        with self._shown_lock:
            self._shown[(channel, ts)] = _content(text, blocks)

    def dm(self, key: str, request: RequestRow | None, user_id: str, text: str | None) -> str:
        """A DM, posted to the person's id, which Slack delivers in the app's DM with them
        (docs.slack.dev/reference/methods/chat.postMessage#app_home): one call, no
        conversations.open (Tier 3) before it. Returns the outcome (see attempt)."""
        if not text or not is_slack_user(user_id):
            return "gone"
        return self.attempt(
            key,
            request,
            user_id,
            lambda: self.client.chat_postMessage(channel=user_id, text=msg.fit_text(text)),
        )[0]
