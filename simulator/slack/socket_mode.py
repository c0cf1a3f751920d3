"""Socket Mode for the local Slack stand-in: the WebSocket side of Slack's protocol.

apps.connections.open (on the fake's Web API, with the app-level token) hands out a single-use
`ws://127.0.0.1:<port>/link/?ticket=...&app_id=...` URL; slack_sdk's clients connect to it as
they would to `wss://wss-primary.slack.com/link/...`. Following
https://docs.slack.dev/apis/events-api/using-socket-mode:

* on connect the server sends `{"type": "hello", "num_connections", "debug_info",
  "connection_info": {"app_id"}}`;
* requests arrive as envelopes `{"envelope_id", "type": "slash_commands" | "interactive" |
  "events_api", "payload", "accepts_response_payload"}` (events_api ones also carry
  `retry_attempt` and `retry_reason`), sent to the newest open connection;
* the client acks with `{"envelope_id", "payload"?}`; the payload is what an HTTP app would
  have answered with (a command's text, a view_submission's response_action, options);
* `{"type": "disconnect", "reason": "warning" | "refresh_requested" | "link_disabled"}` asks
  the client to reconnect through a fresh apps.connections.open.

Acks are recorded like Web API calls (method SOCKET_ACK). The fake's own choices where Slack's
docs are silent: an unknown, used or malformed ticket is refused at the handshake with HTTP 401,
and an ack for an envelope that was never sent (or twice) is recorded with ok=false.
"""

from __future__ import annotations

import copy
import json
import logging
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

log = logging.getLogger(__name__)

SOCKET_ACK = "socket_mode_ack"  # the method name recorded for the client's acks
ACK_TIMEOUT_S = 3.0  # Slack shows an error (and retries events) when an ack takes longer
ENVELOPE_TYPES = ("slash_commands", "interactive", "events_api")
DISCONNECT_REASONS = ("warning", "refresh_requested", "link_disabled")
CONNECTION_TIME_S = 3600  # hello's approximate_connection_time, as Slack announces it
LINK_PATH = "/link/"
HOST_NAME = "applink-fake-slack"  # debug_info.host
# Interactive payloads whose HTTP answer carries nothing, so their envelopes say so.
_NO_RESPONSE_PAYLOAD = ("shortcut", "message_action")

# (ack frame, outcome, the envelope it answers as sent, None when unknown)
AckRecorder = Callable[[dict[str, Any], dict[str, Any], dict[str, Any] | None], None]


def default_accepts_response_payload(kind: str, payload: dict[str, Any]) -> bool:
    """What Slack sets: commands and interactions (buttons, submissions, options loads) may
    be answered in the ack; events and global/message shortcuts may not."""
    if kind == "slash_commands":
        return True
    if kind == "interactive":
        return payload.get("type") not in _NO_RESPONSE_PAYLOAD
    return False


@dataclass
class Envelope:
    envelope_id: str
    type: str
    message: dict[str, Any]  # the frame as sent
    sent_at: float  # time.monotonic()
    link: int  # which connection carried it
    ack: dict[str, Any] | None = None
    acked_after: float | None = None  # seconds from send to ack
    done: threading.Event = field(default_factory=threading.Event)  # set once recorded


@dataclass
class _Link:
    number: int
    ws: ServerConnection
    opened_at: float
    # Held while hello goes out, so nothing is sent on a connection before its hello.
    sending: threading.Lock = field(default_factory=threading.Lock)


class SocketModeServer:
    """The WebSocket endpoint on its own thread (websockets' threaded server): one handler
    thread per connection, sends from any thread."""

    def __init__(
        self,
        on_ack: AckRecorder,
        app_id: str,
        host: str = "127.0.0.1",
        port: int = 0,
    ) -> None:
        self._on_ack = on_ack
        self.app_id = app_id
        self.host = "127.0.0.1" if host in ("0.0.0.0", "") else host
        self._bind = (host, port)
        self._cond = threading.Condition()
        self._tickets: set[str] = set()
        self._tickets_lock = threading.Lock()  # held alone: the fake's lock may be held around it
        self._links: dict[int, _Link] = {}
        self._envelopes: dict[str, Envelope] = {}
        self._timers: list[threading.Timer] = []
        self.connections_opened = 0
        self._server: Server | None = None
        self._thread: threading.Thread | None = None

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> SocketModeServer:
        self._server = serve(
            self._handle,
            *self._bind,
            process_request=self._check_ticket,
            close_timeout=2,
            logger=log,
        )
        self.port: int = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(
            target=self._server.serve_forever, name=f"socket-mode-{self.port}", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, close every connection (1001 going away) and wait for handlers."""
        with self._cond:
            timers, self._timers = self._timers, []
        for timer in timers:
            timer.cancel()
        if self._server is not None:
            self._server.shutdown()
        if self._thread is not None:
            self._thread.join(timeout=5)

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    # ---- apps.connections.open -------------------------------------------------------------

    def issue_url(self) -> str:
        """A fresh single-use connection URL, as apps.connections.open returns."""
        ticket = str(uuid.uuid4())
        with self._tickets_lock:
            self._tickets.add(ticket)
        return f"{self.url}{LINK_PATH}?ticket={ticket}&app_id={self.app_id}"

    def _check_ticket(self, connection: ServerConnection, request: Request) -> Response | None:
        parts = urlsplit(request.path)
        if parts.path != LINK_PATH:
            return connection.respond(HTTPStatus.NOT_FOUND, "not found\n")
        ticket = parse_qs(parts.query).get("ticket", [""])[-1]
        with self._tickets_lock:
            if ticket not in self._tickets:
                return connection.respond(HTTPStatus.UNAUTHORIZED, "invalid or used ticket\n")
            self._tickets.discard(ticket)  # a URL connects once
        return None

    # ---- connections -----------------------------------------------------------------------

    def _handle(self, ws: ServerConnection) -> None:
        with self._cond:
            self.connections_opened += 1
            number = self.connections_opened
            live = len(self._links) + 1
        hello = {
            "type": "hello",
            "num_connections": live,
            "debug_info": {
                "host": HOST_NAME,
                "build_number": 1,
                "approximate_connection_time": CONNECTION_TIME_S,
            },
            "connection_info": {"app_id": self.app_id},
        }
        link = _Link(number, ws, time.monotonic())
        try:
            with link.sending:
                with self._cond:  # the newest connection from now on
                    self._links[number] = link
                    self._cond.notify_all()
                ws.send(json.dumps(hello))
            for raw in ws:
                self._receive(raw)
        except ConnectionClosed:
            pass
        finally:
            with self._cond:
                self._links.pop(number, None)
                self._cond.notify_all()

    def _receive(self, raw: str | bytes) -> None:
        try:
            frame = json.loads(raw)
        except ValueError:
            log.warning("socket mode: ignoring a frame that is not JSON: %.200r", raw)
            return
        envelope_id = frame.get("envelope_id") if isinstance(frame, dict) else None
        if not isinstance(envelope_id, str):
            log.warning("socket mode: ignoring a frame without envelope_id: %.200r", raw)
            return
        with self._cond:
            envelope = self._envelopes.get(envelope_id)
            if envelope is None:
                outcome: dict[str, Any] = {"ok": False, "error": "unknown_envelope_id"}
            elif envelope.ack is not None:
                outcome = {"ok": False, "error": "already_acknowledged", "type": envelope.type}
            else:
                envelope.ack = frame
                envelope.acked_after = time.monotonic() - envelope.sent_at
                outcome = {
                    "ok": True,
                    "type": envelope.type,
                    "acked_after": round(envelope.acked_after, 3),
                }
        sent = envelope.message if envelope is not None else None
        self._on_ack(frame, outcome, sent)  # recorded before anyone waiting on the ack wakes
        if outcome["ok"] and envelope is not None:
            envelope.done.set()

    def connected(self, timeout: float = 5.0) -> bool:
        """True once a client holds an open connection (anything sent on it follows hello)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._links:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._cond.wait(remaining)
            return True

    @property
    def open_connections(self) -> int:
        with self._cond:
            return len(self._links)

    # ---- envelopes -------------------------------------------------------------------------

    def post(
        self,
        kind: str,
        payload: dict[str, Any],
        *,
        accepts_response_payload: bool | None = None,
        retry_attempt: int | None = None,
        retry_reason: str | None = None,
        timeout: float = ACK_TIMEOUT_S,
    ) -> str:
        """Send an envelope on the newest connection (waiting up to `timeout` for one) and
        return its envelope_id without waiting for the ack."""
        if kind not in ENVELOPE_TYPES:
            raise ValueError(f"envelope type {kind!r} is not one of {ENVELOPE_TYPES}")
        accepts = (
            default_accepts_response_payload(kind, payload)
            if accepts_response_payload is None
            else accepts_response_payload
        )
        envelope_id = str(uuid.uuid4())
        message: dict[str, Any] = {
            "envelope_id": envelope_id,
            "type": kind,
            "payload": copy.deepcopy(payload),
            "accepts_response_payload": accepts,
        }
        if kind == "events_api" or retry_attempt is not None or retry_reason is not None:
            message["retry_attempt"] = retry_attempt or 0
            message["retry_reason"] = retry_reason or ""
        text = json.dumps(message)
        if not self.connected(timeout):
            raise AssertionError(f"no Socket Mode connection within {timeout}s to send {kind}")
        with self._cond:
            links = sorted(self._links.values(), key=lambda link: link.number, reverse=True)
        for link in links:
            envelope = Envelope(envelope_id, kind, message, time.monotonic(), link.number)
            with self._cond:
                self._envelopes[envelope_id] = envelope
            try:
                with link.sending:
                    link.ws.send(text)
            except ConnectionClosed:
                continue  # closing under us; the next newest takes it
            return envelope_id
        raise AssertionError(f"every Socket Mode connection closed while sending {kind}")

    def wait_ack(self, envelope_id: str, timeout: float = ACK_TIMEOUT_S) -> dict[str, Any]:
        """The client's ack frame for `envelope_id`; AssertionError if none within `timeout`."""
        with self._cond:
            envelope = self._envelopes.get(envelope_id)
        if envelope is None:
            raise LookupError(f"no envelope {envelope_id!r} was sent")
        if not envelope.done.wait(timeout):
            raise AssertionError(
                f"the client did not ack {envelope.type} envelope {envelope_id} within {timeout}s"
            )
        return copy.deepcopy(envelope.ack or {})

    def send(self, kind: str, payload: dict[str, Any], **options: Any) -> dict[str, Any]:
        timeout = options.pop("timeout", ACK_TIMEOUT_S)
        return self.wait_ack(self.post(kind, payload, timeout=timeout, **options), timeout)

    def envelopes(self) -> list[Envelope]:
        with self._cond:
            return list(self._envelopes.values())

    def forget(self) -> None:
        """Drop the envelope log (connections and unused tickets stay)."""
        with self._cond:
            self._envelopes.clear()

    # ---- disconnects -----------------------------------------------------------------------

    def disconnect(self, reason: str = "refresh_requested", close_after: float | None = 2.0) -> int:
        """Send Slack's disconnect message on every open connection; close them `close_after`
        seconds later (None leaves that to the client). Returns how many were told."""
        if reason not in DISCONNECT_REASONS:
            raise ValueError(f"reason {reason!r} is not one of {DISCONNECT_REASONS}")
        text = json.dumps(
            {"type": "disconnect", "reason": reason, "debug_info": {"host": HOST_NAME}}
        )
        with self._cond:
            links = list(self._links.values())
        told = []
        for link in links:
            try:
                with link.sending:
                    link.ws.send(text)
                told.append(link)
            except ConnectionClosed:
                continue
        if close_after is not None and told:
            timer = threading.Timer(close_after, self._close_links, args=(told,))
            timer.daemon = True
            with self._cond:
                self._timers.append(timer)
            timer.start()
        return len(told)

    @staticmethod
    def _close_links(links: list[_Link]) -> None:
        for link in links:
            link.ws.close()
