"""Serve a WSGI app on waitress, in the foreground or on a background thread.

waitress is a production WSGI server (pure Python, thread pool, no fork), so the bot, the
Xoxoday simulator and the local Slack stand-in all run on the same real HTTP stack.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from waitress import wasyncore
from waitress.channel import HTTPChannel
from waitress.server import create_server

WSGIApp = Callable[..., Any]

log = logging.getLogger(__name__)

# Limits against stray and hostile clients (waitress "Arguments to waitress.serve",
# https://docs.pylonsproject.org/projects/waitress/en/stable/arguments.html). waitress's
# defaults (100 connections, idle ones kept 120 s) let ~100 idle sockets stop the bot from
# accepting Slack's requests.
CONNECTION_LIMIT = 1024  # open connections before waitress stops accepting
# An idle connection is closed after IDLE_TIMEOUT_S, checked every CLEANUP_INTERVAL_S: at
# most 30 s in all. A request being answered is never cut (waitress only closes idle ones).
IDLE_TIMEOUT_S = 20
CLEANUP_INTERVAL_S = 10
MAX_BODY = 1_048_576  # Slack and Xoxoday never send large bodies
MAX_HEADERS = 65_536
# A request must arrive whole within this many seconds of its first byte. waitress's idle
# timeout counts any byte as activity, so a client trickling one header byte every few
# seconds would hold a connection for ever, and ~1,000 of them keep Slack out ("slowloris").
# Slack and Xoxoday send their small requests at once; Slack itself gives up after 3 s.
REQUEST_DEADLINE_S = 10.0


class DeadlineChannel(HTTPChannel):
    """waitress's channel, closed when a request is still incomplete REQUEST_DEADLINE_S after
    its first byte arrived (checked each time the loop polls, at least once a second)."""

    request_deadline_s = REQUEST_DEADLINE_S
    _began: float | None = None

    def received(self, data: bytes) -> bool:
        if self.request is None and data:
            self._began = time.monotonic()  # the first byte of a new request
        result = super().received(data)
        if self.request is None:  # nothing partial left: every request is whole
            self._began = None
        return result

    def readable(self) -> bool:
        began = self._began
        if began is not None and time.monotonic() - began > self.request_deadline_s:
            log.info("closing a connection whose request did not arrive in time")
            self._began = None
            self.will_close = True  # waitress closes it at the next write check
        return bool(super().readable())


class ServerThread:
    """A waitress server on its own thread; port 0 picks a free port."""

    def __init__(
        self,
        app: WSGIApp,
        host: str = "127.0.0.1",
        port: int = 0,
        threads: int = 16,
        *,
        idle_timeout_s: int = IDLE_TIMEOUT_S,
        cleanup_interval_s: int = CLEANUP_INTERVAL_S,
        request_deadline_s: float = REQUEST_DEADLINE_S,
    ) -> None:
        self._server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            max_request_body_size=MAX_BODY,
            max_request_header_size=MAX_HEADERS,
            connection_limit=CONNECTION_LIMIT,
            channel_timeout=idle_timeout_s,
            cleanup_interval=cleanup_interval_s,
            # select() cannot watch descriptors above 1023; poll() has no such ceiling.
            asyncore_use_poll=True,
            ident="rewards-bot",
            expose_tracebacks=False,
            # waitress 3 deletes Forwarded and X-Forwarded-* from untrusted peers before the
            # app sees them, which made a request relayed by a proxy on this machine look
            # like a direct local one to /metrics (issue 16). No proxy is trusted to rewrite
            # the client's address, and the headers reach the app as sent.
            clear_untrusted_proxy_headers=False,
        )
        # Every accepted connection gets a request deadline (see DeadlineChannel).
        channel = type("Channel", (DeadlineChannel,), {"request_deadline_s": request_deadline_s})
        self._server.channel_class = channel  # type: ignore[union-attr]
        self.host = host
        self.port: int = self._server.effective_port  # type: ignore[union-attr]
        self._thread = threading.Thread(target=self._run, name=f"http-{self.port}", daemon=True)

    @property
    def url(self) -> str:
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{host}:{self.port}"

    def _run(self) -> None:
        try:
            self._server.run()
        except OSError:  # closed under us during shutdown
            log.debug("server on port %s stopped", self.port)

    def start(self) -> ServerThread:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop accepting, let the requests being answered finish, then close every
        connection (keep-alive ones would otherwise hold the loop open).

        The order matters: a worker thread that finishes a response wakes the loop through
        the trigger, so the trigger is closed (by close_all, on the loop's own thread) only
        once the worker threads are done; closing it first made them fail with EBADF.
        """
        server = self._server
        if not self._thread.is_alive():
            server.task_dispatcher.shutdown(cancel_pending=True, timeout=2)
            wasyncore.close_all(server._map)
            return
        # The listening socket only (the server's own close() shuts the trigger too).
        on_loop = self._on_loop(lambda: wasyncore.dispatcher.close(server))
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=2)
        if not (on_loop and self._on_loop(lambda: wasyncore.close_all(server._map))):
            # The trigger is gone (its descriptor was closed under it): close from here;
            # the loop wakes within its 1 s poll timeout and ends with an empty map.
            wasyncore.close_all(server._map)
        self._thread.join(timeout=5)

    def _on_loop(self, thunk: Callable[[], Any]) -> bool:
        """Run `thunk` on the loop's thread; False when the loop can no longer be woken."""
        try:
            self._server.trigger.pull_trigger(thunk)
        except OSError as exc:
            log.warning("server on port %s: cannot wake its loop (%s)", self.port, exc)
            return False
        return True

    def __enter__(self) -> ServerThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_forever(app: WSGIApp, host: str, port: int, threads: int = 16) -> None:
    """Run a server in the foreground until interrupted (Ctrl-C or SIGTERM)."""
    server = ServerThread(app, host, port, threads)
    log.info("listening on %s", server.url)
    try:
        server._run()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
