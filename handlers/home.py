"""The App Home tab: published when a person opens it, and again when what it shows changes.

`app_home_opened` (https://docs.slack.dev/reference/events/app_home_opened) records that the
person uses the Home tab and publishes it (views.publish, https://docs.slack.dev/reference/
methods/views.publish). The notifier touches the people an event concerns (`HomeTabs.touch`)
and flushes after each round: each Home is published at most once per interval, and only for
people who have opened it. Approve and Reject on the Home tab are the channel's own buttons,
decided by handlers/approvals.py; Cancel is here, and RewardService.cancel checks that the
signed user asked for the request.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
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
from storage import home_tabs
from storage import requests as request_store
from storage.db import Database

log = logging.getLogger(__name__)


class HomeTabs:
    def __init__(
        self,
        client: WebClient,
        database: Database,
        service: HomeService,
        *,
        refresh_wallet: Callable[[], object] | None = None,
        min_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.client = client
        self.database = database
        self.service = service
        self.refresh_wallet = refresh_wallet
        self.min_interval_s = min_interval_s
        self._clock = clock
        self._lock = threading.Lock()
        self._dirty: set[str] = set()
        self._last: dict[str, float] = {}
        self._publishing: dict[str, threading.Lock] = {}

    def opened(self, user_id: str) -> None:
        """The person opened the Home tab: remember it, and publish it now."""
        home_tabs.opened(self.database, user_id)
        if self.refresh_wallet is not None and self.service.decides(user_id):
            try:  # a recent balance for approvers (cached for the next 30 s)
                self.refresh_wallet()
            except Exception as exc:
                log.info("Home of %s shows the last balance known: %s", user_id, exc)
        self.publish(user_id)

    def publish(self, user_id: str) -> None:
        """Build and publish `user_id`'s Home (one at a time per person, newest state last)."""
        with self._lock:
            lock = self._publishing.setdefault(user_id, threading.Lock())
        with lock:
            view = home_view(self.service.build(user_id))
            self.client.views_publish(user_id=user_id, view=view)
            with self._lock:
                self._last[user_id] = self._clock()
        home_tabs.published(self.database, user_id)

    def touch(self, user_ids: Iterable[str]) -> None:
        """What these people's Home shows has changed; published at the next flush."""
        with self._lock:
            self._dirty.update(u for u in user_ids if u)

    def flush(self, force: bool = False) -> int:
        """Publish the touched Homes of people who use the Home tab (each at most once per
        interval unless `force`); returns how many were published. A failure keeps the person
        touched, for the next flush."""
        now = self._clock()
        with self._lock:
            touched = set(self._dirty)
        if not touched:
            return 0
        users = home_tabs.known(self.database, touched)
        with self._lock:
            self._dirty -= touched - users  # never opened: nothing to refresh
            due = {
                u for u in users if force or now - self._last.get(u, -1e9) >= self.min_interval_s
            }
            self._dirty -= due
        published = 0
        for user_id in sorted(due):
            try:
                self.publish(user_id)
                published += 1
            except Exception as exc:
                log.warning("could not refresh the Home tab of %s (%s); trying later", user_id, exc)
                with self._lock:
                    self._dirty.add(user_id)
        return published


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
        if ref is None or not ref.names(request_store.get(deps.database, ref.request_id)):
            client.chat_postMessage(channel=user, text="This request no longer exists.")
            return
        try:
            decision = deps.rewards.cancel(ref.request_id, user)  # checks who is asking
        except RewardError as exc:
            client.chat_postMessage(channel=user, text=refusal_text(exc))
            return
        log.info("%s cancelled from the Home tab", decision.request.ref)
