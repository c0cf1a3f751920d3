"""A fake Slack Web API on loopback HTTP: the bot's real WebClient talks to it as to Slack.

    with start_fake_slack() as fake:            # a free port on 127.0.0.1
        WebClient(token="xoxb-demo", base_url=fake.api_url).chat_postMessage(...)
        fake.wait_for("chat.postMessage")       # the bot calls Slack from worker threads

Every call is recorded; state (messages, DMs, ephemerals, modals) answers like Slack's docs;
`fail_next` injects 429s or errors; `/_fake/...` routes steer it from another process.

With an app-level token (`start_fake_slack(app_token="xapp-demo")`) it also speaks Socket Mode:
apps.connections.open hands out ws:// URLs to its WebSocket side (socket_mode.py), and
`send_envelope` plays Slack's side of a command, interaction or event over it.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from bot.httpserver import ServerThread
from bot.wsgi import Request, StartResponse, json_response, respond
from simulator.slack import controls
from simulator.slack.blocks import plain_text
from simulator.slack.socket_mode import ACK_TIMEOUT_S, SOCKET_ACK, SocketModeServer
from simulator.slack.users import default_users
from simulator.slack.workspace import (
    APP_ID,
    TRIGGER_TTL_S,
    SlackError,
    Workspace,
    dm_channel,
    public_message,
)

log = logging.getLogger(__name__)

# Params Slack accepts as JSON text inside form bodies.
_JSON_PARAMS = ("blocks", "view", "attachments", "metadata")
DEMO_BOT_TOKEN = "xoxb-demo"  # noqa: S105 - a fixed local token, never a real credential
RESPONSE_URL = "response_url"  # the method name recorded for posts to /hooks/...


@dataclass(frozen=True)
class Call:
    method: str
    params: dict[str, Any]
    at: float  # time.time()
    status: int = 200
    response: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return self.status == 200 and self.response.get("ok") is True


@dataclass(frozen=True)
class _Failure:
    status: int
    error: str
    retry_after: int


class BadRequest(Exception):
    pass


def parse_params(req: Request) -> dict[str, Any]:
    """Query, form and JSON params merged, with JSON-string params decoded."""
    params: dict[str, Any] = {k: v[-1] for k, v in req.query.items()}
    ctype = req.headers.get("content-type", "")
    if req.body and ctype.startswith("application/json"):
        try:
            body = req.json()
        except (ValueError, UnicodeDecodeError):
            raise BadRequest("invalid_json") from None
        if not isinstance(body, dict):
            raise BadRequest("invalid_json")
        params.update(body)
    elif req.body and not ctype.startswith("multipart/"):  # files.* is not faked
        params.update(req.form())
    for key in _JSON_PARAMS:
        value = params.get(key)
        if isinstance(value, str) and value.strip()[:1] in ("[", "{"):
            try:
                params[key] = json.loads(value)
            except ValueError:
                raise BadRequest("invalid_json") from None
    return params


class FakeSlack:
    """The WSGI app. One lock guards the workspace; a condition wakes `wait_for`."""

    def __init__(
        self,
        bot_token: str = DEMO_BOT_TOKEN,
        users: Mapping[str, dict[str, Any]] | None = None,
        trigger_ttl: float = TRIGGER_TTL_S,
        app_token: str | None = None,
    ) -> None:
        self.bot_token = bot_token
        self.app_token = app_token  # xapp-...: only apps.connections.open takes it
        self.socket: SocketModeServer | None = None  # started by serve() with an app token
        self.base_url = ""  # set once served; response_urls point here
        self.on_call: Callable[[Call], None] | None = None
        self._initial_users = copy.deepcopy(dict(users)) if users is not None else None
        self._trigger_ttl = trigger_ttl
        self._cond = threading.Condition(threading.RLock())
        self._calls: list[Call] = []
        self._failures: dict[str, deque[_Failure]] = {}
        self.ws = self._new_workspace()

    def _new_workspace(self) -> Workspace:
        users = (
            copy.deepcopy(self._initial_users)
            if self._initial_users is not None
            else default_users()
        )
        return Workspace(users=users, trigger_ttl=self._trigger_ttl)

    # ---- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        req = Request.from_environ(environ)
        if req.path.startswith("/api/"):
            status, body, headers = self._api(req, req.path.removeprefix("/api/"))
            return json_response(start_response, status, body, headers)
        if req.path.startswith("/hooks/") and req.method == "POST":
            self._hook(req)
            return respond(start_response, 200, "ok", "text/plain")
        if req.path.startswith("/_fake/"):
            status, body = controls.handle(self, req, req.path.removeprefix("/_fake/"))
            return json_response(start_response, status, body)
        return json_response(start_response, 404, {"ok": False, "error": "not_found"})

    def _api(self, req: Request, method: str) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        headers: list[tuple[str, str]] = []
        try:
            params = parse_params(req)
        except BadRequest as exc:
            params, status, body = {}, 200, {"ok": False, "error": str(exc)}
        else:
            auth = req.headers.get("authorization", "")
            token = auth[7:] if auth.startswith("Bearer ") else params.pop("token", None)
            params.pop("token", None)
            with self._cond:
                status, body, headers = self._answer(method, params, token)
        self._record(Call(method, params, time.time(), status, body))
        return status, body, headers

    def _answer(
        self, method: str, params: dict[str, Any], token: str | None
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        if not token:
            return 200, {"ok": False, "error": "not_authed"}, []
        if method == "apps.connections.open":
            return self._connections_open(token)
        if token == self.app_token:  # app-level tokens open connections, nothing else
            return 200, {"ok": False, "error": "not_allowed_token_type"}, []
        if token != self.bot_token:
            return 200, {"ok": False, "error": "invalid_auth"}, []
        failed = self._injected_failure(method)
        if failed is not None:
            return failed
        try:
            return 200, self.ws.call(method, params), []
        except SlackError as exc:
            return 200, exc.body(), []

    def _injected_failure(
        self, method: str
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]] | None:
        queue = self._failures.get(method)
        if not queue:
            return None
        failure = queue.popleft()
        headers = [("Retry-After", str(failure.retry_after))] if failure.status == 429 else []
        return failure.status, {"ok": False, "error": failure.error}, headers

    def _connections_open(self, token: str) -> tuple[int, dict[str, Any], list[tuple[str, str]]]:
        """apps.connections.open: app-level token only (a bot token is the wrong type)."""
        if token == self.bot_token:
            return 200, {"ok": False, "error": "not_allowed_token_type"}, []
        if self.app_token is None or token != self.app_token:
            return 200, {"ok": False, "error": "invalid_auth"}, []
        failed = self._injected_failure("apps.connections.open")
        if failed is not None:
            return failed
        if self.socket is None:  # a FakeSlack that is not served has no WebSocket side
            return 200, {"ok": False, "error": "internal_error"}, []
        return 200, {"ok": True, "url": self.socket.issue_url()}, []

    def _hook(self, req: Request) -> None:
        try:
            body = req.json() if req.body else {}
        except (ValueError, UnicodeDecodeError):
            body = req.form()
        body = body if isinstance(body, dict) else {}
        with self._cond:
            self.ws.hook_post(req.path, body)
        self._record(Call(RESPONSE_URL, {**body, "url": req.path}, time.time(), 200, {"ok": True}))

    def _record_ack(self, frame: dict[str, Any], outcome: dict[str, Any]) -> None:
        """A Socket Mode ack, recorded like a Web API call: params are the frame the client
        sent (envelope_id, payload), the response says what the fake made of it."""
        self._record(Call(SOCKET_ACK, copy.deepcopy(frame), time.time(), 200, outcome))

    def _record(self, call: Call) -> None:
        with self._cond:
            self._calls.append(call)
            self._cond.notify_all()
        hook = self.on_call
        if hook is not None:
            try:
                hook(call)
            except Exception:  # a printing hook must never break the API the bot sees
                log.exception("on_call hook failed for %s", call.method)

    # ---- controls --------------------------------------------------------------------------

    def fail_next(
        self,
        method: str,
        times: int = 1,
        status: int = 429,
        error: str = "ratelimited",
        retry_after: int = 1,
    ) -> None:
        """The next `times` calls to `method` fail: HTTP 429 with Retry-After (what
        RateLimitErrorRetryHandler reacts to), or `{"ok": false, "error": error}` with `status`."""
        with self._cond:
            queue = self._failures.setdefault(method, deque())
            queue.extend(_Failure(status, error, retry_after) for _ in range(times))

    def reset(self) -> None:
        """Forget calls, messages, views, triggers and pending failures; users go back to the
        directory the fake started with."""
        with self._cond:
            self._calls.clear()
            self._failures.clear()
            self.ws = self._new_workspace()
        if self.socket is not None:  # open connections stay, like a bot that stays connected
            self.socket.forget()

    def add_user(self, user: dict[str, Any]) -> None:
        with self._cond:
            self.ws.users[user["id"]] = copy.deepcopy(user)

    @property
    def trigger_ttl(self) -> float:
        return self.ws.trigger_ttl

    @trigger_ttl.setter
    def trigger_ttl(self, seconds: float) -> None:
        with self._cond:
            self._trigger_ttl = self.ws.trigger_ttl = seconds

    def issue_trigger(self, user_id: str) -> str:
        """A trigger_id for an interaction by `user_id`: views.open/push accept it once,
        within trigger_ttl seconds, and open the modal for that user."""
        with self._cond:
            return self.ws.issue_trigger(user_id)

    def issue_response_url(
        self, user_id: str, channel: str, message_ts: str | None = None, kind: str = "commands"
    ) -> str:
        with self._cond:
            return self.base_url + self.ws.issue_hook(kind, user_id, channel, message_ts)

    def apply_submission_ack(self, view_id: str, ack: dict[str, Any] | None) -> None:
        """Used by the driver: how the bot's view_submission answer changes the modal."""
        with self._cond:
            self.ws.apply_submission_ack(view_id, ack)

    # ---- Socket Mode -----------------------------------------------------------------------

    def _socket(self) -> SocketModeServer:
        if self.socket is None:
            raise RuntimeError(
                "this fake Slack does not speak Socket Mode: start it with "
                "start_fake_slack(app_token='xapp-...')"
            )
        return self.socket

    def socket_connected(self, timeout: float = 5.0) -> bool:
        """True once a Socket Mode client holds an open connection (waits up to `timeout`)."""
        return self._socket().connected(timeout)

    def send_envelope(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        timeout: float = ACK_TIMEOUT_S,
        accepts_response_payload: bool | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
    ) -> dict[str, Any]:
        """Deliver `payload` in a `kind` envelope ("slash_commands": the command's form fields
        as a dict; "interactive": the JSON of the HTTP `payload=` field; "events_api": the
        event_callback body) and return the client's ack frame `{"envelope_id", "payload"?}`.
        AssertionError when no client is connected or the ack takes longer than `timeout`
        (Slack's window is 3 s). The ack is also recorded as a SOCKET_ACK call."""
        return self._socket().send(
            kind,
            payload,
            timeout=timeout,
            accepts_response_payload=accepts_response_payload,
            retry_attempt=retry_attempt,
            retry_reason=retry_reason,
        )

    def post_envelope(self, kind: str, payload: dict[str, Any], **options: Any) -> str:
        """Like send_envelope without waiting: returns the envelope_id for wait_ack."""
        return self._socket().post(kind, payload, **options)

    def wait_ack(self, envelope_id: str, timeout: float = ACK_TIMEOUT_S) -> dict[str, Any]:
        return self._socket().wait_ack(envelope_id, timeout)

    def socket_disconnect(
        self, reason: str = "refresh_requested", close_after: float | None = 2.0
    ) -> int:
        """Slack's `disconnect` message on every open connection (the client should reconnect
        through apps.connections.open); the connections close `close_after` s later."""
        return self._socket().disconnect(reason, close_after)

    # ---- introspection ---------------------------------------------------------------------

    def calls(self, method: str | None = None) -> list[Call]:
        with self._cond:
            return [c for c in self._calls if method is None or c.method == method]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = 5.0,
        *,
        since: int = 0,
    ) -> Call:
        """The first recorded call to `method` (from index `since` of calls()) that matches
        `predicate`, waiting up to `timeout` s. A predicate raising KeyError/IndexError/
        TypeError counts as no match, so `lambda c: c.params["channel"] == ...` is safe."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while True:
                for call in self._calls[since:]:
                    if call.method == method and _matches(predicate, call):
                        return call
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                self._cond.wait(remaining)
            seen = [(c.method, c.status, c.response.get("error"), c.params) for c in self._calls]
        raise AssertionError(f"no matching {method} call within {timeout}s; calls seen: {seen}")

    def messages(self, channel: str | None = None) -> list[dict[str, Any]]:
        """Current messages (oldest first) with `channel`, `ts` and `edits` (earlier versions)."""
        with self._cond:
            found = [m for m in self.ws.messages.values() if channel in (None, m["channel"])]
            return copy.deepcopy(found)

    def message(self, channel: str, ts: str) -> dict[str, Any] | None:
        with self._cond:
            return copy.deepcopy(self.ws.messages.get((channel, ts)))

    @staticmethod
    def dm_channel(user_id: str) -> str:
        return dm_channel(user_id)

    def dms(self, user_id: str) -> list[dict[str, Any]]:
        return self.messages(dm_channel(user_id))

    def ephemerals(self, user_id: str) -> list[dict[str, Any]]:
        """Ephemeral messages shown to `user_id` (from chat.postEphemeral or respond()),
        each with `channel`, `for_user` and `source`."""
        with self._cond:
            return copy.deepcopy([e for e in self.ws.ephemerals if e["for_user"] == user_id])

    @property
    def users(self) -> dict[str, dict[str, Any]]:
        with self._cond:
            return copy.deepcopy(self.ws.users)

    @property
    def views(self) -> dict[str, dict[str, Any]]:
        """Every modal ever opened, by id, as currently shown (closed ones included)."""
        with self._cond:
            return {vid: copy.deepcopy(r.view) for vid, r in self.ws.views.items()}

    def view(self, view_id: str) -> dict[str, Any]:
        with self._cond:
            record = self.ws.views.get(view_id)
            if record is None:
                raise LookupError(f"no view {view_id!r}; have {list(self.ws.views)}")
            return copy.deepcopy(record.view)

    def view_owner(self, view_id: str) -> str:
        with self._cond:
            return self.ws.views[view_id].user

    def latest_view(self, user_id: str) -> dict[str, Any] | None:
        """The modal most recently opened or pushed for `user_id`, as it looks now."""
        with self._cond:
            view_id = self.ws.latest.get(user_id)
            return copy.deepcopy(self.ws.views[view_id].view) if view_id else None

    def open_views(self, user_id: str) -> list[dict[str, Any]]:
        """The user's modal stack, bottom first; empty once submitted or cleared."""
        with self._cond:
            stack = self.ws.stacks.get(user_id, [])
            return [copy.deepcopy(self.ws.views[vid].view) for vid in stack]

    @staticmethod
    def public_message(message: dict[str, Any]) -> dict[str, Any]:
        return public_message(message)

    @staticmethod
    def plain_text(message_or_blocks: Any) -> str:
        return plain_text(message_or_blocks)


def _matches(predicate: Callable[[Call], bool] | None, call: Call) -> bool:
    if predicate is None:
        return True
    try:
        return bool(predicate(call))
    except (KeyError, IndexError, TypeError):
        return False


class RunningFakeSlack(FakeSlack):
    """A FakeSlack served on a background thread; the object is its own WSGI app, so every
    control and view above is available directly."""

    server: ServerThread

    def serve(self, host: str = "127.0.0.1", port: int = 0) -> RunningFakeSlack:
        """Serve the Web API on `port`; with an app token, the Socket Mode WebSocket side too
        (on a free port of `host`)."""
        self.server = ServerThread(self, host, port).start()
        self.base_url = self.server.url
        if self.app_token is not None:
            self.socket = SocketModeServer(self._record_ack, APP_ID, host).start()
        return self

    @property
    def app(self) -> FakeSlack:
        return self

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def api_url(self) -> str:
        """What the bot takes as SLACK_API_URL (WebClient base_url)."""
        return self.url + "/api/"

    def stop(self) -> None:
        if self.socket is not None:
            self.socket.stop()
        self.server.stop()

    def __enter__(self) -> RunningFakeSlack:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_fake_slack(
    bot_token: str = DEMO_BOT_TOKEN,
    users: Mapping[str, dict[str, Any]] | None = None,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    trigger_ttl: float = TRIGGER_TTL_S,
    app_token: str | None = None,
) -> RunningFakeSlack:
    """Start a fake Slack on a background thread; port 0 picks a free port. With `app_token`
    (xapp-...) it speaks Socket Mode too."""
    return RunningFakeSlack(bot_token, users, trigger_ttl, app_token).serve(host, port)
