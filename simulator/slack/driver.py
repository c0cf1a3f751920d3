"""Plays the people in Slack: sends slash commands, button clicks, modal input, options loads,
submissions and events (the Home tab opened) to the bot, shaped exactly as Slack sends them.
SlackDriver signs and posts them to the bot's real HTTP endpoint; SocketDriver delivers the
same payloads as Socket Mode envelopes through the fake (see socket_mode.py) and hands back the
ack as a response.

A command's text is sent as the Slack client sends it (text.py): `&`, `<`, `>` as entities, and
with `should_escape` (the manifest's setting, on by default) `@ben` as `<@UBEN|ben>`.

Trigger ids and response_urls come from the fake, so it can hold the bot to Slack's rules
(a trigger works once, within 3 s; respond() lands where Slack would show it). Form state lives
here, per modal, the way the Slack client keeps it until the user submits. Every answer the
bot gives is handed to the fake, which judges it as Slack does and records when it came
(`fake.acks()`): over HTTP the driver reports it, over Socket Mode the fake sees the ack.
"""

from __future__ import annotations

import copy
import hashlib
import json
import threading
import time
import uuid
from collections.abc import Mapping
from typing import Any, Self
from urllib.parse import urlencode

import httpx
from slack_sdk.signature import SignatureVerifier

from simulator.slack.blocks import find_element, initial_entry, iter_elements, state_entry
from simulator.slack.fake import FakeSlack
from simulator.slack.socket_mode import ACK_TIMEOUT_S, SOCKET_ACK
from simulator.slack.text import command_text
from simulator.slack.users import BOT_USER_ID, TEAM_ID
from simulator.slack.workspace import (
    APP_ID,
    TEAM_DOMAIN,
    SlackError,
    dm_channel,
    public_message,
)

# Slack still sends its deprecated verification token in every payload; Bolt ignores it.
VERIFICATION_TOKEN = "fake-verification-token"  # noqa: S105 - not a credential
DEFAULT_MIN_QUERY_LENGTH = 3  # Slack's default for external selects
REDELIVERIES = 3  # Slack retries an event it did not see acked three times

StateKey = tuple[str, str]  # (block_id, action_id)


def _channel_name(channel: str) -> str:
    return "directmessage" if channel.startswith("D") else channel[1:].lower()


def _action_ts() -> str:
    return f"{time.time():.6f}"


def _is_empty(entry: dict[str, Any]) -> bool:
    return all(v in (None, "", []) for k, v in entry.items() if k != "type")


class BaseDriver:
    """The people and their Slack client: payloads, trigger ids, response_urls and form state.
    Subclasses deliver a slash command's fields (`_send_form`) or an interaction payload
    (`_send_payload`) and return the bot's answer as an httpx.Response."""

    def __init__(
        self, fake: FakeSlack, team_id: str = TEAM_ID, *, should_escape: bool = True
    ) -> None:
        self.fake = fake
        self.team_id = team_id
        self.should_escape = should_escape  # the slash command's setting in the manifest
        self.last_trigger_id: str | None = None  # for tests of trigger reuse
        self._lock = threading.Lock()
        self._state: dict[str, dict[StateKey, dict[str, Any]]] = {}  # view_id -> entries
        self._loaded: dict[tuple[str, str], list[dict[str, Any]]] = {}  # options loads

    def close(self) -> None:
        pass

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send_form(self, fields: Mapping[str, str]) -> httpx.Response:
        raise NotImplementedError

    def _send_payload(self, payload: dict[str, Any]) -> httpx.Response:
        raise NotImplementedError

    def send_event(
        self, body: dict[str, Any], *, retry_num: int | None = None, retry_reason: str = ""
    ) -> httpx.Response:
        """Deliver an Events API body (again, with `retry_num`, as Slack retries an event it
        thinks was not received: https://docs.slack.dev/apis/events-api/#retries)."""
        raise NotImplementedError

    # ---- payload pieces --------------------------------------------------------------------

    def _user_name(self, user_id: str) -> str:
        user = self.fake.users.get(user_id)
        return user["name"] if user else user_id.lower()

    def _trigger(self, user: str) -> str:
        self.last_trigger_id = self.fake.issue_trigger(user)
        return self.last_trigger_id

    def _base(self, kind: str, user: str) -> dict[str, Any]:
        name = self._user_name(user)
        return {
            "type": kind,
            "user": {"id": user, "username": name, "name": name, "team_id": self.team_id},
            "api_app_id": APP_ID,
            "token": VERIFICATION_TOKEN,
            "team": {"id": self.team_id, "domain": TEAM_DOMAIN},
            "enterprise": None,
            "is_enterprise_install": False,
        }

    def _open_view(self, user: str, view: str | dict[str, Any]) -> dict[str, Any]:
        """The modal as the user sees it now; people can only touch their own open modals."""
        view_id = view if isinstance(view, str) else view["id"]
        current = self.fake.view(view_id)
        owner = self.fake.view_owner(view_id)
        if owner != user:
            raise ValueError(f"view {view_id} belongs to {owner}, not {user}")
        if view_id not in [v["id"] for v in self.fake.open_views(user)]:
            raise ValueError(f"view {view_id} is no longer open for {user}")
        return current

    def state(self, view_id: str) -> dict[str, Any]:
        """`view.state` as Slack would send it now: every stateful element, with the user's
        input where the element (same block_id, action_id and type) still exists, else its
        initial value."""
        view = self.fake.view(view_id)
        with self._lock:
            filled = dict(self._state.get(view_id, {}))
        values: dict[str, dict[str, Any]] = {}
        for block, element in iter_elements(view["blocks"]):
            entry = initial_entry(element)
            if entry is None:
                continue
            stored = filled.get((block["block_id"], element["action_id"]))
            if stored is not None and stored["type"] == entry["type"]:
                entry = copy.deepcopy(stored)
            values.setdefault(block["block_id"], {})[element["action_id"]] = entry
        return {"values": values}

    def _with_state(self, view: dict[str, Any]) -> dict[str, Any]:
        return {**view, "state": self.state(view["id"])}

    # ---- interactions ----------------------------------------------------------------------

    def command(
        self,
        user: str,
        text: str = "",
        channel: str = "CREWARDS",
        command: str = "/reward",
        *,
        raw: bool = False,
    ) -> httpx.Response:
        """A slash command with the fields Slack sends (form-encoded over HTTP). `text` is what
        the person typed, sent as the client sends it (see text.py); `raw=True` sends it
        untouched (for tests of text the client would never send)."""
        if not raw:
            text = command_text(
                text, self.fake.users, self.fake.channel_names(), should_escape=self.should_escape
            )
        return self._send_form(
            {
                "token": VERIFICATION_TOKEN,
                "team_id": self.team_id,
                "team_domain": TEAM_DOMAIN,
                "channel_id": channel,
                "channel_name": _channel_name(channel),
                "user_id": user,
                "user_name": self._user_name(user),
                "command": command,
                "text": text,
                "api_app_id": APP_ID,
                "is_enterprise_install": "false",
                "response_url": self.fake.issue_response_url(user, channel, kind="commands"),
                "trigger_id": self._trigger(user),
            }
        )

    def click(
        self,
        user: str,
        action_id: str,
        *,
        message: dict[str, Any] | None = None,
        view: str | dict[str, Any] | None = None,
        value: str | None = None,
        block_id: str | None = None,
    ) -> httpx.Response:
        """Click a button in `message` (a stored message dict from the fake: what the user saw,
        so an old copy replays a stale click) or in the open modal `view` (id or dict)."""
        if (message is None) == (view is None):
            raise ValueError("pass exactly one of message= or view=")
        if message is not None:
            return self._click_message(user, action_id, message, value, block_id)
        current = self._open_view(user, view)  # type: ignore[arg-type]
        block, element = find_element(current["blocks"], action_id, block_id)
        payload = self._base("block_actions", user) | {
            "container": {"type": "view", "view_id": current["id"]},
            "trigger_id": self._trigger(user),
            "view": self._with_state(current),
            "actions": [_button_action(block, element, value)],
        }
        return self._send_payload(payload)

    def _click_message(
        self,
        user: str,
        action_id: str,
        message: dict[str, Any],
        value: str | None,
        block_id: str | None,
    ) -> httpx.Response:
        if "channel" not in message:
            raise ValueError("message must be a stored message from the fake (it has 'channel')")
        block, element = find_element(message.get("blocks") or [], action_id, block_id)
        channel, ts = message["channel"], message["ts"]
        ephemeral = "for_user" in message
        container: dict[str, Any] = {
            "type": "message",
            "message_ts": ts,
            "channel_id": channel,
            "is_ephemeral": ephemeral,
        }
        if message.get("thread_ts"):
            container["thread_ts"] = message["thread_ts"]
        values: dict[str, dict[str, Any]] = {}
        for blk, el in iter_elements(message.get("blocks") or []):
            entry = initial_entry(el)
            if entry is not None:
                values.setdefault(blk["block_id"], {})[el["action_id"]] = entry
        payload = self._base("block_actions", user) | {
            "container": container,
            "trigger_id": self._trigger(user),
            "channel": {"id": channel, "name": _channel_name(channel)},
            "state": {"values": values},
            "response_url": self.fake.issue_response_url(user, channel, ts, kind="actions"),
            "actions": [_button_action(block, element, value)],
        }
        if not ephemeral:  # Slack leaves the message out for ephemeral containers
            payload["message"] = public_message(message)
            payload |= self.fake.click_function_data(message, user)  # a step's message
        return self._send_payload(payload)

    def message_shortcut(
        self, user: str, message: dict[str, Any], callback_id: str
    ) -> httpx.Response:
        """`user` picks the app's message shortcut `callback_id` on `message` (a stored message
        from the fake): a `message_action` payload, as
        https://docs.slack.dev/interactivity/implementing-shortcuts describes it."""
        if "channel" not in message:
            raise ValueError("message must be a stored message from the fake (it has 'channel')")
        channel = message["channel"]
        payload = self._base("message_action", user) | {
            "callback_id": callback_id,
            "trigger_id": self._trigger(user),
            "message_ts": message["ts"],
            # A message shortcut's response_url posts in the channel; it never edits the
            # message the shortcut was used on (someone else's).
            "response_url": self.fake.issue_response_url(user, channel, kind="actions"),
            "message": public_message(message),
            "channel": {"id": channel, "name": _channel_name(channel)},
            "action_ts": _action_ts(),
        }
        return self._send_payload(payload)

    def run_step(
        self,
        callback_id: str,
        inputs: dict[str, Any],
        *,
        runner: str | None = None,
        workflow_execution_id: str | None = None,
    ) -> tuple[httpx.Response, dict[str, Any]]:
        """A workflow reaches the app's custom step: Slack starts an execution and sends
        function_executed. `runner` is the person who ran the workflow: Slack fills every input
        of type slack#/types/user_context with them (Workflow Builder lets no one type one in).
        Returns the app's answer and the event body (to replay it)."""
        filled = dict(inputs)
        if runner is not None:
            for name, param in self.fake.function(callback_id).inputs.items():
                if param.type == "slack#/types/user_context":
                    filled[name] = {"id": runner, "secret": _secret_for(runner)}
        body = self.fake.start_execution(callback_id, filled, workflow_execution_id)
        return self.send_event(body), body

    # ---- the App Home -----------------------------------------------------------------------

    def event(self, event: dict[str, Any]) -> httpx.Response:
        """An Events API event in Slack's event_callback envelope
        (https://docs.slack.dev/apis/events-api/#callback-field)."""
        body = {
            "token": VERIFICATION_TOKEN,
            "team_id": self.team_id,
            "api_app_id": APP_ID,
            "event": {**event, "event_ts": event.get("event_ts") or _action_ts()},
            "type": "event_callback",
            "event_id": f"Ev{uuid.uuid4().hex[:10].upper()}",
            "event_time": int(time.time()),
            "authorizations": [
                {
                    "enterprise_id": None,
                    "team_id": self.team_id,
                    "user_id": BOT_USER_ID,
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
            "is_ext_shared_channel": False,
        }
        return self.send_event(body)

    def open_home(self, user: str, tab: str = "home") -> httpx.Response:
        """The person opens the app's Home (or Messages) tab: `app_home_opened`, with the Home
        tab as last published when there is one (https://docs.slack.dev/reference/events/
        app_home_opened)."""
        event: dict[str, Any] = {
            "type": "app_home_opened",
            "user": user,
            "channel": dm_channel(user),
            "tab": tab,
        }
        home = self.fake.home(user)
        if tab == "home" and home is not None:
            event["view"] = home
        return self.event(event)

    def click_home(
        self,
        user: str,
        action_id: str,
        *,
        block_id: str | None = None,
        value: str | None = None,
        home: dict[str, Any] | None = None,
    ) -> httpx.Response:
        """Click a button on the person's Home tab as published (or on an older copy `home`,
        a stale click): block_actions with `container.type` "view" and `view.type` "home",
        no channel and no response_url (https://docs.slack.dev/surfaces/app-home)."""
        current = home if home is not None else self.fake.home(user)
        if current is None:
            raise ValueError(f"no Home tab was published for {user}")
        block, element = find_element(current["blocks"], action_id, block_id)
        payload = self._base("block_actions", user) | {
            "container": {"type": "view", "view_id": current["id"]},
            "trigger_id": self._trigger(user),
            "view": {**current, "state": {"values": {}}},
            "actions": [_button_action(block, element, value)],
        }
        return self._send_payload(payload)

    def fill(self, view_id: str, block_id: str, action_id: str, value: Any) -> dict[str, Any]:
        """Type into / pick in a modal field without sending anything; returns the entry."""
        view = self.fake.view(view_id)
        _block, element = find_element(view["blocks"], action_id, block_id)
        with self._lock:
            known = self._loaded.get((view_id, action_id))
            entry = state_entry(element, value, known)
            self._state.setdefault(view_id, {})[(block_id, action_id)] = entry
        return copy.deepcopy(entry)

    def select(
        self, user: str, view_id: str, block_id: str, action_id: str, value: Any
    ) -> httpx.Response:
        """Change a field that dispatches (an actions-block element, an accessory, or an input
        block with dispatch_action): the state is updated first, then block_actions is sent."""
        view = self._open_view(user, view_id)
        block, element = find_element(view["blocks"], action_id, block_id)
        if block.get("type") == "input" and not block.get("dispatch_action"):
            raise ValueError(
                f"input block {block_id!r} has no dispatch_action, so Slack sends nothing "
                "when it changes; use fill()"
            )
        entry = self.fill(view_id, block_id, action_id, value)
        action: dict[str, Any] = {"type": element["type"], "block_id": block_id}
        action |= {"action_id": action_id, **{k: v for k, v in entry.items() if k != "type"}}
        if "placeholder" in element:
            action["placeholder"] = copy.deepcopy(element["placeholder"])
        action["action_ts"] = _action_ts()
        payload = self._base("block_actions", user) | {
            "container": {"type": "view", "view_id": view_id},
            "trigger_id": self._trigger(user),
            "view": self._with_state(view),
            "actions": [action],
        }
        return self._send_payload(payload)

    def options(self, user: str, view_id: str, action_id: str, value: str = "") -> httpx.Response:
        """Type `value` into an external select: a block_suggestion (options load). The
        options the bot answers with become pickable through select()/fill()."""
        view = self._open_view(user, view_id)
        block, element = find_element(view["blocks"], action_id)
        min_length = element.get("min_query_length", DEFAULT_MIN_QUERY_LENGTH)
        if len(value) < min_length:
            raise ValueError(
                f"{action_id!r} needs {min_length} typed characters before Slack asks for "
                "options (set min_query_length on the element to change that)"
            )
        payload = self._base("block_suggestion", user) | {
            "container": {"type": "view", "view_id": view_id},
            "action_id": action_id,
            "block_id": block["block_id"],
            "value": value,
            "view": self._with_state(view),
        }
        response = self._send_payload(payload)
        self._remember_options(view_id, action_id, response)
        return response

    def _remember_options(self, view_id: str, action_id: str, response: httpx.Response) -> None:
        if response.status_code != 200 or not response.content.strip():
            return
        try:
            body = response.json()
        except ValueError:
            return
        found = list(body.get("options") or [])
        for group in body.get("option_groups") or []:
            found.extend(group.get("options") or [])
        with self._lock:
            known = {o.get("value"): o for o in self._loaded.get((view_id, action_id), [])}
            known.update({o.get("value"): o for o in found})
            self._loaded[(view_id, action_id)] = list(known.values())

    def submit(self, user: str, view_id: str, *, enforce_required: bool = True) -> httpx.Response:
        """Press the modal's submit button: a view_submission with the current state. Like
        the Slack client, refuses while a required input is empty (enforce_required=False sends
        anyway). Applies the bot's answer to the fake: close, errors, update, push or clear."""
        view = self._with_state(self._open_view(user, view_id))
        if enforce_required:
            missing = [
                block["block_id"]
                for block in view["blocks"]
                if block.get("type") == "input"
                and not block.get("optional")
                and all(
                    _is_empty(e)
                    for e in view["state"]["values"].get(block["block_id"], {}).values()
                )
            ]
            if missing:
                raise ValueError(f"required inputs are empty, Slack would not submit: {missing}")
        payload = self._base("view_submission", user) | {
            "trigger_id": self._trigger(user),
            "view": view,
            "response_urls": [],
        }
        response = self._send_payload(payload)
        if response.status_code == 200:
            try:
                ack = response.json() if response.content.strip() else None
            except ValueError:  # Slack shows an error and leaves the modal as it was
                return response
            try:
                self.fake.apply_submission_ack(view_id, ack)
            except SlackError as exc:
                raise AssertionError(
                    f"the bot answered with an invalid view: {exc.messages}"
                ) from exc
        return response


class SlackDriver(BaseDriver):
    """Over HTTP: signed requests to the bot's /slack/events, as Slack sends them."""

    def __init__(
        self,
        bot_url: str,
        signing_secret: str,
        fake: FakeSlack,
        team_id: str = TEAM_ID,
        *,
        path: str = "/slack/events",
        timeout: float = 10.0,
        should_escape: bool = True,
    ) -> None:
        super().__init__(fake, team_id, should_escape=should_escape)
        self.url = bot_url.rstrip("/") + path
        self._verifier = SignatureVerifier(signing_secret)
        self._http = httpx.Client(timeout=timeout)

    def close(self) -> None:
        self._http.close()

    # ---- transport -------------------------------------------------------------------------

    def signed_headers(
        self,
        body: bytes,
        timestamp: int | None = None,
        content_type: str = "application/x-www-form-urlencoded",
    ) -> dict[str, str]:
        """Slack's signing: v0=HMAC-SHA256(secret, "v0:{timestamp}:{body}")."""
        ts = str(int(time.time()) if timestamp is None else timestamp)
        signature = self._verifier.generate_signature(timestamp=ts, body=body)
        return {
            "Content-Type": content_type,
            "X-Slack-Request-Timestamp": ts,
            "X-Slack-Signature": signature or "",
        }

    def post_raw(self, body: bytes, headers: Mapping[str, str]) -> httpx.Response:
        """Post anything (forged, replayed, malformed): nothing is judged or recorded."""
        return self._http.post(self.url, content=body, headers=dict(headers))

    def _send(
        self, kind: str, payload: dict[str, Any], fields: Mapping[str, str]
    ) -> httpx.Response:
        body = urlencode(fields).encode("utf-8")
        headers = self.signed_headers(body)
        began = time.monotonic()
        response = self.post_raw(body, headers)
        acked_after = time.monotonic() - began
        self.fake.record_ack(kind, payload, response.status_code, _answer(response), acked_after)
        return response

    def _send_form(self, fields: Mapping[str, str]) -> httpx.Response:
        return self._send("slash_commands", dict(fields), fields)

    def send_event(
        self, body: dict[str, Any], *, retry_num: int | None = None, retry_reason: str = ""
    ) -> httpx.Response:
        response, acked_after = self._event_once(body, retry_num, retry_reason)
        if retry_num is not None or not self.fake.rules.on("event_redelivery"):
            return response
        # Not seen taken in time (after 3 s, or an error): Slack delivers the same event again,
        # up to three times, with the same event_id (docs.slack.dev/apis/events-api/#retries).
        for attempt in range(1, REDELIVERIES + 1):
            if response.status_code == 200 and acked_after <= ACK_TIMEOUT_S:
                break
            reason = "http_timeout" if acked_after > ACK_TIMEOUT_S else "http_error"
            response, acked_after = self._event_once(body, attempt, reason)
        return response

    def _event_once(
        self, body: dict[str, Any], retry_num: int | None, retry_reason: str
    ) -> tuple[httpx.Response, float]:
        raw = json.dumps(body).encode("utf-8")
        headers = {**self.signed_headers(raw), "Content-Type": "application/json"}
        if retry_num is not None:
            headers["X-Slack-Retry-Num"] = str(retry_num)
            headers["X-Slack-Retry-Reason"] = retry_reason or "http_timeout"
        began = time.monotonic()
        response = self.post_raw(raw, headers)
        acked_after = time.monotonic() - began
        self.fake.record_ack(
            str(body.get("type")), body, response.status_code, _answer(response), acked_after
        )
        return response, acked_after

    def _send_payload(self, payload: dict[str, Any]) -> httpx.Response:
        return self._send(str(payload.get("type")), payload, {"payload": json.dumps(payload)})


class SocketDriver(BaseDriver):
    """Over Socket Mode: each command or interaction is an envelope on the fake's WebSocket
    ("slash_commands" with the command's fields, "interactive" with the payload), and the
    client's ack comes back as a 200 response whose JSON body is the ack's payload (empty
    when the ack has none), so callers and submit()/options() read it as over HTTP. No ack
    within `timeout` raises AssertionError (Slack would show the user an error)."""

    def __init__(
        self,
        fake: FakeSlack,
        team_id: str = TEAM_ID,
        *,
        timeout: float = 10.0,
        should_escape: bool = True,
    ) -> None:
        super().__init__(fake, team_id, should_escape=should_escape)
        self.timeout = timeout
        self.last_ack: dict[str, Any] | None = None  # the raw ack frame of the last envelope

    def _deliver(self, kind: str, payload: dict[str, Any]) -> httpx.Response:
        ack = self.fake.send_envelope(kind, payload, timeout=self.timeout)
        self.last_ack = ack
        body = ack.get("payload")
        if body is None:
            return httpx.Response(200, content=b"")
        return httpx.Response(200, json=body)

    def _send_form(self, fields: Mapping[str, str]) -> httpx.Response:
        return self._deliver("slash_commands", dict(fields))

    def _send_payload(self, payload: dict[str, Any]) -> httpx.Response:
        return self._deliver("interactive", payload)

    def send_event(
        self, body: dict[str, Any], *, retry_num: int | None = None, retry_reason: str = ""
    ) -> httpx.Response:
        ack = self.fake.send_envelope(
            "events_api",
            body,
            timeout=self.timeout,
            retry_attempt=retry_num,
            retry_reason=(retry_reason or "timeout") if retry_num else None,
        )
        self.last_ack = ack
        return httpx.Response(200, content=b"")

    def acks(self) -> list[dict[str, Any]]:
        """Every ack recorded by the fake since its last reset, oldest first."""
        return [call.params for call in self.fake.calls(SOCKET_ACK)]


def _secret_for(user_id: str) -> str:
    """A user_context's `secret`: opaque to the app, as Slack's is."""
    return hashlib.sha256(f"fake-user-context:{user_id}".encode()).hexdigest()


def _answer(response: httpx.Response) -> Any:
    """The body of the bot's HTTP answer: None when empty, JSON when it parses, else text."""
    if not response.content.strip():
        return None
    try:
        return response.json()
    except ValueError:
        return response.text


def _button_action(
    block: dict[str, Any], element: dict[str, Any], value: str | None
) -> dict[str, Any]:
    if element.get("type") != "button":
        raise ValueError(f"{element.get('action_id')!r} is a {element.get('type')}, not a button")
    action: dict[str, Any] = {
        "action_id": element["action_id"],
        "block_id": block["block_id"],
        "text": copy.deepcopy(element.get("text")),
        "type": "button",
        "action_ts": _action_ts(),
    }
    if value is not None or "value" in element:
        action["value"] = value if value is not None else element["value"]
    if "style" in element:
        action["style"] = element["style"]
    return action
