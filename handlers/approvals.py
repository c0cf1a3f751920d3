"""Approve and Reject: permission first, in place; the decision itself after the ack.

A click by someone who may not decide gets an ephemeral refusal and changes nothing. The
message is updated from the decision's event (see notifier), so a decision made anywhere
(another approver's DM, the CLI) shows the same way everywhere.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.errors import open_view, refusal_text, tell
from handlers.forms import read_reason
from handlers.ids import Action, Block, Callback
from handlers.metadata import RejectModalMeta, RequestRef
from handlers.views import reject_modal
from services.errors import RewardError

log = logging.getLogger(__name__)


def register(app: App, deps: Deps) -> None:
    def ephemeral(client: WebClient, body: dict[str, Any], text: str) -> None:
        tell(client, body, text)  # the click's response_url, or a DM (Home tab buttons)

    def allowed(body: dict[str, Any], client: WebClient, action: dict[str, Any]) -> int | None:
        """The request id when this user may decide it now; else an ephemeral refusal.

        The service decides, from the user id of the signed payload (never from the button's
        value, which only names the request).
        """
        ref = RequestRef.load(action.get("value"))
        request = deps.rewards.request(ref.request_id) if ref else None
        if ref is None or not ref.names(request):
            ephemeral(client, body, "This request no longer exists.")
            return None
        assert request is not None
        try:
            deps.rewards.check_decider(request.id, body["user"]["id"])
        except RewardError as exc:
            ephemeral(client, body, refusal_text(exc))
            return None
        return request.id

    @app.action(Action.APPROVE)
    def on_approve(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        request_id = allowed(body, client, action)
        if request_id is None:
            return
        user = body["user"]["id"]

        def decide() -> None:
            try:
                deps.rewards.approve(request_id, user)  # checks the wallet: may wait on Xoxoday
            except RewardError as exc:
                ephemeral(client, body, refusal_text(exc))

        deps.background.submit(decide)

    @app.action(Action.REJECT)
    def on_reject(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        request_id = allowed(body, client, action)
        if request_id is None:
            return
        request = deps.rewards.request(request_id)
        assert request is not None
        meta = RejectModalMeta(request_id=request_id, made=request.created_at)
        open_view(client, body, reject_modal(meta, request.ref))

    @app.view(Callback.REJECT)
    def on_reject_reason(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = RejectModalMeta.load(view.get("private_metadata"))
        request = deps.rewards.request(meta.request_id) if meta else None
        if meta is None or request is None or meta.made not in (None, request.created_at):
            ack(
                response_action="errors",
                errors={Block.REASON: "This form is out of date; click Reject again."},
            )
            return
        reason = read_reason(view.get("state"))
        if not reason:
            ack(response_action="errors", errors={Block.REASON: "Say why, so the requester knows."})
            return
        try:
            deps.rewards.reject(meta.request_id, body["user"]["id"], reason)
        except RewardError as exc:
            ack(response_action="errors", errors={Block.REASON: refusal_text(exc)})
            return
        ack()
