"""A fake Slack Web API on loopback HTTP: the bot's real WebClient talks to it as to Slack.

    with start_fake_slack() as fake:            # a free port on 127.0.0.1
        WebClient(token="xoxb-demo", base_url=fake.api_url).chat_postMessage(...)
        fake.wait_for("chat.postMessage")       # the bot calls Slack from worker threads

Every call is recorded; state (messages, DMs, ephemerals, modals, channels) answers like
Slack's docs; `fail_next` injects 429s or errors; `/_fake/...` routes steer it from another
process.

As strict as Slack: every payload (messages, views, response_url posts, and the app's answers
to commands, submissions and options loads, over HTTP or Socket Mode) is validated
(validate.py); a refusal answers as Slack does and is recorded as a violation
(`violations()`, `take_violations()`, and the process-wide ledger in violations.py). Per-method
latency and Slack's rate-limit tiers (pace.py), channel membership and scopes (channels.py),
and people who can no longer get a DM (deactivated users, bots) can be switched on.

Workflow Builder custom steps (functions.py): `start_execution` runs one of the steps the app's
manifest declares and gives the function_executed body (the drivers' `run_step` sends it);
the step's `xwfp-` token and functions.completeSuccess / completeError follow Slack's rules.

With an app-level token (`start_fake_slack(app_token="xapp-demo")`) it also speaks Socket Mode:
apps.connections.open hands out ws:// URLs to its WebSocket side (socket_mode.py), and
`send_envelope` plays Slack's side of a command, interaction or event over it.
"""

from __future__ import annotations

import contextlib
import copy
import json
import logging
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from plumbing.httpserver import ServerThread
from plumbing.wsgi import Request, StartResponse, json_response, respond
from simulator.slack import controls, violations
from simulator.slack.blocks import plain_text
from simulator.slack.channels import DEFAULT_CHANNEL_IDS, Channel
from simulator.slack.functions import FunctionDef
from simulator.slack.pace import Pace
from simulator.slack.rules import Rules
from simulator.slack.socket_mode import ACK_TIMEOUT_S, SOCKET_ACK, SocketModeServer
from simulator.slack.users import TEAM_ID, default_users
from simulator.slack.validate import answer_problems
from simulator.slack.violations import Violation
from simulator.slack.workspace import (
    APP_ID,
    TRIGGER_TTL_S,
    PayloadRefused,
    SlackError,
    Workspace,
    dm_channel,
    public_message,
)

log = logging.getLogger(__name__)

# Params Slack accepts as JSON text inside form bodies.
_JSON_PARAMS = ("blocks", "view", "attachments", "metadata", "outputs")
DEMO_BOT_TOKEN = "xoxb-demo"  # noqa: S105 - a fixed local token, never a real credential
# wait_for's guard against a hang: it returns as soon as the call is seen, so the guard is far
# beyond what a machine loaded by others needs (a test waits for what must happen, not a speed).
WAIT_S = 120.0
ANSWER_HELD = "answer:"  # the prefix of a conversation whose answers only are held
RESPONSE_URL = "response_url"  # the method name recorded for posts to /hooks/...
HTTP_ACK = "http_ack"  # the method name recorded for the app's HTTP answers (via the driver)
SERVER_THREADS = 64  # enough for many slow calls at once (set_latency)


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


def _conversation(channel: object) -> str:
    """A DM posted to the user id is their D… conversation: one key for both."""
    name = str(channel or "")
    return dm_channel(name) if name[:1] in ("U", "W") else name


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
        # (method, conversation) -> the error every call answers until healed (fail_conversation)
        self._failing: dict[tuple[str, str], str] = {}
        # conversation (prefixed ANSWER_HELD when only the answer waits) -> (gate, how many
        # calls wait at it): hold_conversation
        self._held: dict[str, tuple[threading.Event, list[int]]] = {}
        self._violations: list[Violation] = []
        self.rules = Rules()
        self.pace = Pace(enabled=lambda: self.rules.on("rate_limits"))
        self.ws = self._new_workspace()

    def _new_workspace(self) -> Workspace:
        users = (
            copy.deepcopy(self._initial_users)
            if self._initial_users is not None
            else default_users()
        )
        return Workspace(
            users=users,
            trigger_ttl=self._trigger_ttl,
            on_violation=self._violate,
            rule=self.rules.on,
        )

    def _violate(self, method: str, error: str, problems: list[str]) -> None:
        found = Violation(method, error, list(problems))
        with self._cond:
            self._violations.append(found)
        violations.record(found)
        log.warning("Slack stand-in: the app broke a rule: %s", found)

    # ---- WSGI ------------------------------------------------------------------------------

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        req = Request.from_environ(environ)
        if req.path.startswith("/api/"):
            status, body, headers = self._api(req, req.path.removeprefix("/api/"))
            return json_response(start_response, status, body, headers)
        if req.path.startswith("/hooks/") and req.method == "POST":
            status, text = self._hook(req)
            return respond(start_response, status, text, "text/plain")
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
            delay = self.pace.latency(method)
            if delay:
                time.sleep(delay)  # outside the lock: slow calls overlap, as on Slack
            self.pace.wait_if_held(method)
            self._wait_if_conversation_held(params)
            with self._cond:
                status, body, headers = self._answer(method, params, token)
            self._wait_if_conversation_held(params, ANSWER_HELD)
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
        execution = None
        if token != self.bot_token:
            # A custom step's bot_access_token (Bolt puts it on the step listener's client)
            # works like the bot token until the step completes or 15 minutes pass.
            execution = self.ws.execution_token(token)
            if execution is None:
                return 200, {"ok": False, "error": "invalid_auth"}, []
            expired = self.ws.token_problem(execution, token)
            if expired:
                return 200, {"ok": False, "error": expired}, []
        failed = self._injected_failure(method) or self._failing_conversation(method, params)
        if failed is not None:
            return failed
        retry_after = self.pace.admit(method, params)
        if retry_after is not None:
            return 429, {"ok": False, "error": "ratelimited"}, [("Retry-After", str(retry_after))]
        try:
            return 200, self.ws.call(method, params, execution), []
        except PayloadRefused as exc:
            self._violate(method, exc.error, exc.messages)
            return 200, exc.body(), []
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

    def _wait_if_conversation_held(self, params: dict[str, Any], stage: str = "") -> None:
        with self._cond:
            held = self._held.get(stage + _conversation(params.get("channel")))
            if held is not None:
                held[1][0] += 1
        if held is not None:
            held[0].wait(60.0)
            with self._cond:
                held[1][0] -= 1

    def _failing_conversation(
        self, method: str, params: dict[str, Any]
    ) -> tuple[int, dict[str, Any], list[tuple[str, str]]] | None:
        error = self._failing.get((method, _conversation(params.get("channel"))))
        return None if error is None else (200, {"ok": False, "error": error}, [])

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

    def _hook(self, req: Request) -> tuple[int, str]:
        """A post to a response_url: "ok", or Slack's refusal as a status and an error code
        in plain text, as Slack answers webhooks."""
        try:
            body = req.json() if req.body else {}
        except (ValueError, UnicodeDecodeError):
            body = req.form()
        body = body if isinstance(body, dict) else {}
        for key in ("blocks", "attachments"):  # form posts carry them as JSON text
            if isinstance(body.get(key), str):
                with contextlib.suppress(ValueError):
                    body[key] = json.loads(body[key])
        delay = self.pace.latency(RESPONSE_URL)
        if delay:
            time.sleep(delay)
        status, answer = 200, {"ok": True}
        with self._cond:
            try:
                self.ws.hook_post(req.path, body)
            except PayloadRefused as exc:
                self._violate(RESPONSE_URL, exc.error, exc.messages)
                status, answer = (404 if exc.error.endswith("_url") else 400), exc.body()
            except SlackError as exc:
                status, answer = 404, exc.body()
        self._record(Call(RESPONSE_URL, {**body, "url": req.path}, time.time(), status, answer))
        return status, "ok" if status == 200 else str(answer["error"])

    def _record_ack(
        self, frame: dict[str, Any], outcome: dict[str, Any], sent: dict[str, Any] | None
    ) -> None:
        """A Socket Mode ack, recorded like a Web API call: params are the frame the client
        sent (envelope_id, payload), the response says what the fake made of it. The ack's
        payload is checked as Slack checks an HTTP answer to the same request."""
        outcome = dict(outcome)
        if outcome.get("ok") and sent is not None:
            payload = sent.get("payload") or {}
            kind = sent["type"] if sent["type"] != "interactive" else str(payload.get("type"))
            problems = answer_problems(kind, frame.get("payload"), payload)
            outcome["late"] = outcome.get("acked_after", 0) > ACK_TIMEOUT_S
            if outcome["late"] and self.rules.on("late_ack"):
                problems.append("[ERROR] acked after 3 s: Slack shows operation_timeout")
            if problems:
                outcome["problems"] = problems
                self._violate(SOCKET_ACK, "invalid_answer", problems)
        self._record(Call(SOCKET_ACK, copy.deepcopy(frame), time.time(), 200, outcome))

    def record_ack(
        self,
        kind: str,
        payload: dict[str, Any],
        status: int,
        answer: Any,
        acked_after: float,
    ) -> Call:
        """The app's HTTP answer to a request the driver sent as Slack (`kind`: a payload
        type, or "slash_commands"), as Slack judges it: an error status is an error shown to
        the person, and the body must be what Slack accepts for that request. An answer after
        Slack's 3 s (`late`) is a failure too: Slack shows operation_timeout (rule late_ack)."""
        problems = answer_problems(kind, answer, payload) if status == 200 else []
        if status != 200:
            problems.append(f"[ERROR] the app answered HTTP {status}: Slack shows an error")
        if acked_after > ACK_TIMEOUT_S and self.rules.on("late_ack"):
            problems.append(
                f"[ERROR] answered after {acked_after:.1f} s: Slack shows operation_timeout"
            )
        response = {
            "ok": not problems,
            "type": kind,
            "status": status,
            "acked_after": round(acked_after, 3),
            "late": acked_after > ACK_TIMEOUT_S,
        }
        if problems:
            response["problems"] = problems
            self._violate(HTTP_ACK, "invalid_answer", problems)
        call = Call(HTTP_ACK, {"type": kind, "answer": answer}, time.time(), 200, response)
        self._record(call)
        return call

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

    def fail_conversation(
        self, channel: str, error: str = "internal_error", method: str = "chat.postMessage"
    ) -> None:
        """Every `method` call to `channel` (a user id means their DM) answers `error` until
        `heal_conversation`: one conversation Slack keeps failing while the rest work."""
        with self._cond:
            self._failing[(method, _conversation(channel))] = error

    def heal_conversation(self, channel: str, method: str = "chat.postMessage") -> None:
        with self._cond:
            self._failing.pop((method, _conversation(channel)), None)

    def hold_conversation(self, channel: str, *, done_first: bool = False) -> None:
        """Calls to `channel` (a user id means their DM) get no answer until
        release_conversation: one send in flight for as long as a test needs, whatever the
        machine's speed, while the rest of Slack answers. `done_first`: each call is carried
        out (the message is there for people to read and click) and only its answer waits,
        as when Slack's answer is slow on the way back."""
        stage = ANSWER_HELD if done_first else ""
        with self._cond:
            self._held.setdefault(stage + _conversation(channel), (threading.Event(), [0]))

    def release_conversation(self, channel: str) -> None:
        with self._cond:
            held = [self._held.pop(s + _conversation(channel), None) for s in ("", ANSWER_HELD)]
        for each in held:
            if each is not None:
                each[0].set()

    def held_calls(self, channel: str, *, done_first: bool = False) -> int:
        """How many calls wait at `channel`'s hold now."""
        stage = ANSWER_HELD if done_first else ""
        with self._cond:
            held = self._held.get(stage + _conversation(channel))
            return held[1][0] if held is not None else 0

    def reset(self) -> None:
        """Forget calls, messages, views, triggers, pending failures, latency, rate limits and
        violations; users, channels and scopes go back to how the fake started."""
        with self._cond:
            self._calls.clear()
            self._failures.clear()
            self._failing.clear()
            held, self._held = list(self._held.values()), {}
        for gate, _waiting in held:
            gate.set()
        with self._cond:
            self._violations.clear()
            self.pace.reset()
            self.rules.reset()
            self.ws = self._new_workspace()
        if self.socket is not None:  # open connections stay, like a bot that stays connected
            self.socket.forget()

    def add_user(self, user: dict[str, Any]) -> None:
        with self._cond:
            self.ws.users[user["id"]] = copy.deepcopy(user)
            if not user.get("is_bot"):  # a new person joins the default channels
                for channel_id in DEFAULT_CHANNEL_IDS:
                    if channel_id in self.ws.channels:
                        self.ws.channels[channel_id].members.add(user["id"])

    def deactivate_user(self, user_id: str) -> None:
        """The person leaves the workspace: `deleted: true`; DMs to them fail (user_disabled)."""
        with self._cond:
            self.ws.users[user_id]["deleted"] = True

    def add_channel(
        self,
        channel_id: str,
        name: str,
        *,
        private: bool = False,
        bot_member: bool = False,
        members: Iterable[str] | None = None,
    ) -> None:
        with self._cond:
            self.ws.channels[channel_id] = Channel(
                channel_id, name, private, False, bot_member, set(members or ())
            )

    def update_channel(
        self,
        channel_id: str,
        *,
        archived: bool | None = None,
        bot_member: bool | None = None,
        private: bool | None = None,
        read_only: bool | None = None,
        thread_only: bool | None = None,
    ) -> None:
        """Archive a channel, take the bot out of it (or put it back), make it an announcement
        channel (read_only) or one that takes replies in threads only."""
        with self._cond:
            channel = self.ws.channels[channel_id]
            for name, value in (
                ("is_archived", archived),
                ("bot_member", bot_member),
                ("is_private", private),
                ("read_only", read_only),
                ("thread_only", thread_only),
            ):
                if value is not None:
                    setattr(channel, name, value)

    def home_tab(self, enabled: bool) -> None:
        """The app's Home tab on or off (off: views.publish answers not_enabled)."""
        with self._cond:
            self.ws.home_tab_enabled = enabled

    def set_scopes(self, scopes: Iterable[str]) -> None:
        """The scopes the app was granted (default: those manifest.yml asks for)."""
        with self._cond:
            self.ws.scopes = set(scopes)

    def set_latency(self, method: str, seconds: float) -> None:
        """Answer `method` ("*": every call, "response_url": posts to response_urls) only
        after `seconds`, as a real Slack does from a server (100-400 ms)."""
        self.pace.set_latency(method, seconds)

    def hold(self, method: str) -> None:
        """Answer no call of `method` until release(method) (see Pace.hold)."""
        self.pace.hold(method)

    def release(self, method: str) -> None:
        self.pace.release(method)

    def waiting(self, method: str) -> int:
        """Calls of a held `method` waiting for release() right now."""
        return self.pace.waiting(method)

    def rate_limits(self, enabled: bool = True, why: str = "") -> None:
        """Slack's per-method rate-limit tiers: over the limit, 429 with Retry-After (on by
        default; off only with a reason, see rules.py)."""
        if enabled:
            self.rules.restore("rate_limits")
        else:
            self.rules.off("rate_limits", why)

    @property
    def hook_ttl(self) -> float:
        return self.ws.hook_ttl

    @hook_ttl.setter
    def hook_ttl(self, seconds: float) -> None:
        with self._cond:
            self.ws.hook_ttl = seconds

    # ---- violations ------------------------------------------------------------------------

    def violations(self) -> list[Violation]:
        """Every rule of Slack's the app broke since the last reset (claimed or not)."""
        with self._cond:
            return list(self._violations)

    def take_violations(self) -> list[Violation]:
        """The violations not yet claimed, now claimed: for tests that break a rule on
        purpose (the strictness check fails any test that leaves one unclaimed)."""
        with self._cond:
            found = [v for v in self._violations if not v.claimed]
        violations.claim(found)
        return found

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

    def hook_user(self, path: str) -> str | None:
        """Whom a response_url answers (its path, as recorded with the post), or None."""
        with self._cond:
            hook = self.ws.hooks.get(path)
            return hook.user if hook is not None else None

    def post_as(self, user: str, channel: str, text: str, thread_ts: str | None = None) -> Any:
        """A message `user` wrote in `channel` (what a message shortcut is used on)."""
        with self._cond:
            return copy.deepcopy(self.ws.post_as(user, channel, text, thread_ts))

    # ---- custom steps ----------------------------------------------------------------------

    def start_execution(
        self, callback_id: str, inputs: dict[str, Any], workflow_execution_id: str | None = None
    ) -> dict[str, Any]:
        """A workflow reaches the app's step `callback_id`: a new execution, and the
        function_executed event body that delivers it (SlackDriver.run_step sends it).
        ValueError when the manifest declares no such step or its inputs could not hold
        these values."""
        with self._cond:
            execution = self.ws.start_execution(callback_id, inputs, workflow_execution_id)
            return execution.event_body(TEAM_ID, APP_ID)

    def click_function_data(self, message: dict[str, Any], user: str) -> dict[str, Any]:
        """What Slack adds to a click on `message` when a step's token posted it (nothing for
        any other message): the step's `function_data`, who clicked (`interactivity`) and a
        fresh `bot_access_token` for the step."""
        with self._cond:
            stored = self.ws.messages.get((message["channel"], message["ts"]))
            execution_id = (stored or {}).get("function_execution_id")
            execution = self.ws.executions.get(execution_id) if execution_id else None
            if execution is None:
                return {}
            return {
                "function_data": execution.click_data(APP_ID),
                "interactivity": {
                    "interactor": {"id": user, "secret": secrets.token_hex(16)},
                    "interactivity_pointer": f"{time.time():.6f}.{secrets.token_hex(4)}",
                },
                "bot_access_token": self.ws.issue_function_token(execution),
            }

    def age_function_tokens(self, execution_id: str, seconds: float) -> None:
        """Every token issued for the execution so far was issued `seconds` earlier (a test
        of the 15-minute life of a step's token, without waiting for it)."""
        with self._cond:
            tokens = self.ws.executions[execution_id].tokens
            for token in tokens:
                tokens[token] -= seconds

    def function(self, callback_id: str) -> FunctionDef:
        """A custom step as the app's manifest declares it."""
        with self._cond:
            found = self.ws.functions.get(callback_id)
        if found is None:
            raise LookupError(f"the app's manifest declares no function {callback_id!r}")
        return found

    def execution(self, execution_id: str) -> dict[str, Any]:
        """An execution as a test reads it: state (running, completed, failed), outputs, error."""
        with self._cond:
            found = self.ws.executions.get(execution_id)
            if found is None:
                raise LookupError(f"no function execution {execution_id!r}")
            return found.public()

    def executions(self) -> list[dict[str, Any]]:
        with self._cond:
            return [e.public() for e in self.ws.executions.values()]

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

    def acks(self) -> list[Call]:
        """The app's answers to what Slack sent it, HTTP or Socket Mode, oldest first; each
        response has `type`, `acked_after` (seconds from the request) and `late`."""
        with self._cond:
            return [c for c in self._calls if c.method in (HTTP_ACK, SOCKET_ACK)]

    def wait_for(
        self,
        method: str,
        predicate: Callable[[Call], bool] | None = None,
        timeout: float = WAIT_S,
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

    def dm_user(self, channel: str) -> str | None:
        """Whose DM with the bot `channel` is (None: not a DM this workspace knows)."""
        with self._cond:
            return self.ws.dm_user(channel)

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

    def channel_names(self) -> dict[str, str]:
        """Channel id -> name, as a member's client resolves `#name`."""
        with self._cond:
            return {cid: channel.name for cid, channel in self.ws.channels.items()}

    def home(self, user_id: str) -> dict[str, Any] | None:
        """The Home tab last published for `user_id`."""
        with self._cond:
            return copy.deepcopy(self.ws.homes.get(user_id))

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
        self.server = ServerThread(self, host, port, SERVER_THREADS).start()
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
