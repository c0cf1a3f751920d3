"""Serve a WSGI app on waitress, in the foreground or on a background thread.

waitress is a production WSGI server (pure Python, thread pool, no fork), so the bot, the
Xoxoday simulator and the local Slack stand-in all run on the same real HTTP stack.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from waitress import wasyncore
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


class ServerThread:
    """A waitress server on its own thread; port 0 picks a free port."""

    def __init__(
        self, app: WSGIApp, host: str = "127.0.0.1", port: int = 0, threads: int = 16
    ) -> None:
        self._server = create_server(
            app,
            host=host,
            port=port,
            threads=threads,
            max_request_body_size=MAX_BODY,
            max_request_header_size=MAX_HEADERS,
            connection_limit=CONNECTION_LIMIT,
            channel_timeout=IDLE_TIMEOUT_S,
            cleanup_interval=CLEANUP_INTERVAL_S,
            # select() cannot watch descriptors above 1023; poll() has no such ceiling.
            asyncore_use_poll=True,
            ident="rewards-bot",
            expose_tracebacks=False,
        )
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
        """Close the listener and every open connection, then the worker threads.

        Closing only the listener would leave keep-alive connections holding the loop open
        until the client hangs up; close_all runs on the loop's own thread via the trigger.
        """
        server = self._server
        if self._thread.is_alive():
            server.trigger.pull_trigger(lambda: wasyncore.close_all(server._map))
            self._thread.join(timeout=5)
        else:
            wasyncore.close_all(server._map)
        server.task_dispatcher.shutdown(cancel_pending=True, timeout=2)

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
