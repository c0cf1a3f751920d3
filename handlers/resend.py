"""'Email my code again': the recipient's button in their reward DM and on their Home tab.

Acked at once; the service (services/resend.py) decides from the signed user id whether this
person may have this order's code emailed again, and when, and asks Xoxoday after the ack
(it may take seconds). The answer goes back where the button was: an ephemeral message in
the DM, or a DM when pressed on the Home tab (which has no channel).
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from handlers import mrkdwn as md
from handlers.deps import Deps
from handlers.errors import refusal_text
from handlers.ids import Action
from handlers.metadata import OrderRef
from services.errors import RewardError

log = logging.getLogger(__name__)


def tell(client: WebClient, body: dict[str, Any], text: str) -> None:
    """Only the presser sees the answer: ephemeral where the button was, else a DM."""
    channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
        "channel_id"
    )
    user = body["user"]["id"]
    if channel:
        client.chat_postEphemeral(channel=channel, user=user, text=text)
    else:
        client.chat_postMessage(channel=user, text=text)


def register(app: App, deps: Deps) -> None:
    @app.action(Action.RESEND_CODE)
    def on_resend(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        user = body["user"]["id"]
        ref = OrderRef.load(action.get("value"))
        resends = deps.resends
        if ref is None or resends is None:
            tell(client, body, "This reward no longer exists.")
            return

        def resend() -> None:
            try:
                order = resends.resend(ref.order_id, ref.po_number, user)
            except RewardError as exc:
                tell(client, body, refusal_text(exc))
                return
            tell(
                client,
                body,
                f"📧 Xoxoday is emailing your code to {md.escape(order.email or '')} again. "
                "It can take a few minutes; check your spam folder too.",
            )

        deps.background.submit(resend)
