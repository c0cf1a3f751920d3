"""The App Home tab: published when a person opens it, and again when what it shows changes.

`app_home_opened` (https://docs.slack.dev/reference/events/app_home_opened) records that the
person uses the Home tab and publishes it (views.publish, https://docs.slack.dev/reference/
methods/views.publish). The notifier marks the Homes an event changed (of people who opened
theirs) as outbox work, and the delivery room publishes each at most once per few seconds.
Approve and Reject on the Home tab are the channel's own buttons, decided by
handlers/approvals.py; Cancel is here, and RewardService.cancel checks that the signed user
asked for the request.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient

from handlers.deps import Deps
from handlers.errors import refusal_text
from handlers.home_view import home_view
from handlers.ids import Action
from handlers.metadata import RequestRef
from services.errors import RewardError
from services.home import HomeService
from services.notices import Notices
from services.outbox import Outbox

log = logging.getLogger(__name__)


class HomeTabs:
    """Publishes Home tabs (views.publish). The delivery room calls `publish` for the `home:U`
    outbox rows the notifier marks; `opened` marks one for now. Marking coalesces: a person's
    Home goes out at most once per few seconds (services/outbox.py GAPS), with its latest
    content."""

    def __init__(
        self,
        client: WebClient,
        notices: Notices,
        outbox: Outbox,
        service: HomeService,
        *,
        refresh_wallet: Callable[[], object] | None = None,
    ) -> None:
        self.client = client
        self.notices = notices
        self.outbox = outbox
        self.service = service
        self.refresh_wallet = refresh_wallet

    def opened(self, user_id: str) -> None:
        """The person opened the Home tab: remember it, and have it published now."""
        self.notices.home_opened(user_id)
        if self.refresh_wallet is not None and self.service.decides(user_id):
            try:  # a recent balance for approvers (cached for the next 30 s)
                self.refresh_wallet()
            except Exception as exc:
                log.info("Home of %s shows the last balance known: %s", user_id, exc)
        self.outbox.mark(f"home:{user_id}", target=user_id, delay=0.0)

    def publish(self, user_id: str) -> None:
        """Build and publish `user_id`'s Home from the latest state."""
        view = home_view(self.service.build(user_id))
        self.client.views_publish(user_id=user_id, view=view)
        self.notices.home_published(user_id)


def register(app: App, deps: Deps) -> None:
    @app.event("app_home_opened")
    def on_home_opened(event: dict[str, Any]) -> None:
        # The Messages tab opens this event too (tab "messages"): only the Home is ours.
        if event.get("tab") != "home" or deps.home is None:
            return
        user = str(event.get("user") or "")
        if user:
            deps.background.submit(deps.home.opened, user)  # may ask Xoxoday for the balance

    @app.action(Action.CANCEL)
    def on_cancel(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        user = body["user"]["id"]
        ref = RequestRef.load(action.get("value"))
        if ref is None or not ref.names(deps.rewards.request(ref.request_id)):
            client.chat_postMessage(channel=user, text="This request no longer exists.")
            return
        try:
            decision = deps.rewards.cancel(ref.request_id, user)  # checks who is asking
        except RewardError as exc:
            client.chat_postMessage(channel=user, text=refusal_text(exc))
            return
        log.info("%s cancelled from the Home tab", decision.request.ref)
