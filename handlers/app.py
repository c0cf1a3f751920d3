"""The Bolt app: one client for the Slack Web API, every listener registered from here."""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urlsplit

from slack_bolt import App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.http_retry.builtin_handlers import (
    ConnectionErrorRetryHandler,
    RateLimitErrorRetryHandler,
    ServerErrorRetryHandler,
)
from slack_sdk.http_retry.request import HttpRequest
from slack_sdk.http_retry.response import HttpResponse
from slack_sdk.http_retry.state import RetryState

from handlers import (
    approvals,
    choice_form,
    commands,
    home,
    resend,
    reward_form,
    shortcuts,
    workflow_consent,
    workflow_steps,
)
from handlers.deps import Deps
from handlers.errors import handle_error
from handlers.paced_client import paced
from services.pacing import Pacer

log = logging.getLogger(__name__)

# Acks never wait for a free thread: listeners only read SQLite and call Slack, and anything
# that may wait on Xoxoday goes to Deps.background.
LISTENER_THREADS = 32
BACKGROUND_THREADS = 16


class LoggedExecutor(ThreadPoolExecutor):
    """A thread pool whose tasks' exceptions land in the log instead of vanishing."""

    def submit(self, fn: Callable[..., Any], /, *args: Any, **kwargs: Any) -> Future[Any]:
        def run() -> Any:
            try:
                return fn(*args, **kwargs)
            except Exception:
                log.exception("background task %s failed", getattr(fn, "__name__", fn))
                raise

        return super().submit(run)


# The calls that spend a trigger_id, which lives 3 s and works once (api.slack.com/docs/triggers;
# slack-platform.md): after a 429 its Retry-After outlives the trigger, so waiting it out could
# only end in expired_trigger_id.
TRIGGER_METHODS = frozenset({"views.open", "views.push", "dialog.open"})


class RateLimitRetry(RateLimitErrorRetryHandler):
    """slack_sdk's 429 retry (sleep Retry-After, call again), except for a call that spends a
    trigger_id: that fails at once, and the listener's error handler tells the person Slack is
    busy (handlers/errors.py). Bolt copies the app client's retry handlers into the client of
    each request, so every listener's views.open is covered."""

    def _can_retry(
        self,
        *,
        state: RetryState,
        request: HttpRequest,
        response: HttpResponse | None = None,
        error: Exception | None = None,
    ) -> bool:
        method = urlsplit(request.url).path.rsplit("/", 1)[-1]
        return method not in TRIGGER_METHODS and super()._can_retry(
            state=state, request=request, response=response, error=error
        )


# Told about each Slack Web API call that failed: (method, Slack's error or "connection").
SlackErrorHook = Callable[[str, str], None]


def count_errors(client: WebClient, on_error: SlackErrorHook | None) -> WebClient:
    """Report every failed call of `client` to `on_error` (for /metrics), then raise as before.

    Every WebClient method goes through `api_call`, so wrapping it on the instance sees them
    all, after slack_sdk's retry handlers have had their turn (a 429 retried into a success
    is not an error). Bolt builds a plain WebClient per request, so `build_app` wraps those
    too, in a middleware.
    """
    if on_error is None or getattr(client, "_counts_errors", False):
        return client
    call = client.api_call

    def api_call(api_method: str, **kwargs: Any) -> Any:
        try:
            return call(api_method, **kwargs)
        except SlackApiError as exc:
            on_error(api_method, str(exc.response.get("error") or "unknown"))
            raise
        except (SlackClientError, OSError):
            on_error(api_method, "connection")
            raise

    client.api_call = api_call  # type: ignore[method-assign]
    client._counts_errors = True  # type: ignore[attr-defined]
    return client


def web_client(
    token: str, base_url: str, *, quick: bool = False, on_error: SlackErrorHook | None = None
) -> WebClient:
    """slack_sdk retries only connection errors by default; 429s and 5xx are retried too
    (a 429 not for a call that spends a trigger_id: RateLimitRetry).

    A `quick` client serves calls made before an ack: it never sleeps on Retry-After and
    gives up after 2 s, so Slack's 3-second window holds.
    """
    if quick:
        return count_errors(
            WebClient(
                token=token,
                base_url=base_url,
                timeout=2,
                retry_handlers=[ConnectionErrorRetryHandler(max_retry_count=1)],
            ),
            on_error,
        )
    return count_errors(
        WebClient(
            token=token,
            base_url=base_url,
            timeout=15,
            retry_handlers=[
                ConnectionErrorRetryHandler(max_retry_count=2),
                RateLimitRetry(max_retry_count=3),
                ServerErrorRetryHandler(max_retry_count=2),
            ],
        ),
        on_error,
    )


def delivery_client(
    token: str, base_url: str, pacer: Pacer, *, on_error: SlackErrorHook | None = None
) -> WebClient:
    """The delivery room's client: every call paced (handlers/paced_client.py), and a 429 is
    never slept on in a thread (no RateLimitErrorRetryHandler): it holds that lane instead."""
    client = WebClient(
        token=token,
        base_url=base_url,
        timeout=15,
        retry_handlers=[
            ConnectionErrorRetryHandler(max_retry_count=2),
            ServerErrorRetryHandler(max_retry_count=2),
        ],
    )
    return paced(count_errors(client, on_error), pacer)


def build_app(
    client: WebClient,
    signing_secret: str,
    deps: Deps,
    *,
    on_slack_error: SlackErrorHook | None = None,
) -> App:
    app = App(
        client=client,
        signing_secret=signing_secret,
        token_verification_enabled=False,  # run_bot checks the token once, with a clear message
        listener_executor=ThreadPoolExecutor(LISTENER_THREADS, thread_name_prefix="slack"),
        raise_error_for_unhandled_request=False,
    )
    if on_slack_error is not None:

        @app.middleware
        def count_slack_errors(context: Any, next: Callable[[], Any]) -> Any:
            # The listener's own client (Bolt makes one per request) reports its errors too.
            if context.client is not None:
                count_errors(context.client, on_slack_error)
            return next()

    commands.register(app, deps)
    reward_form.register(app, deps)
    approvals.register(app, deps)
    shortcuts.register(app, deps)
    workflow_steps.register(app, deps)
    workflow_consent.register(app, deps)
    home.register(app, deps)
    choice_form.register(app, deps)
    resend.register(app, deps)
    app.error(handle_error)
    return app
