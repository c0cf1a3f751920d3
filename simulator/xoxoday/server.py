"""Running the simulator: on a background thread (tests, demo) or in the foreground (CLI)."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from plumbing.httpserver import ServerThread, serve_forever
from simulator.xoxoday.app import SimulatorApp
from simulator.xoxoday.config import REAL_SHAPES, SimConfig
from simulator.xoxoday.tokens import DEMO_CREDENTIALS

log = logging.getLogger(__name__)


@dataclass
class RunningSimulator:
    app: SimulatorApp
    server: ServerThread

    @property
    def url(self) -> str:
        return self.server.url

    @property
    def base_url(self) -> str:
        """What the API client takes as XOXODAY_BASE_URL."""
        return self.url + "/chef"

    def stop(self) -> None:
        self.app.close()
        self.server.stop()

    def __enter__(self) -> RunningSimulator:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start(
    config: SimConfig | None = None, host: str = "127.0.0.1", port: int = 0
) -> RunningSimulator:
    """Start a simulator on a background thread; port 0 picks a free port."""
    app = SimulatorApp(config)
    server = ServerThread(app, host, port).start()
    return RunningSimulator(app, server)


def serve(host: str, port: int, config: SimConfig | None = None) -> None:
    """Run the simulator in the foreground until interrupted (`rewards-bot simulator`)."""
    app = SimulatorApp(config)
    shown = "127.0.0.1" if host in ("0.0.0.0", "") else host
    log.info(
        "Xoxoday simulator: base URL http://%s:%s/chef, client_id=%s client_secret=%s "
        "access_token=%s refresh_token=%s",
        shown,
        port,
        *DEMO_CREDENTIALS.values(),
    )
    shapes = [k for k, v in REAL_SHAPES.items() if getattr(app.config, k) == v]
    if shapes:
        log.info("answering in the real shapes of xoxoday-api.md §12: %s", ", ".join(shapes))
    try:
        serve_forever(app, host, port)
    finally:
        app.close()
