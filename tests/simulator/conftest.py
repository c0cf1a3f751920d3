"""A real simulator over loopback for the whole directory, reset before every test."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from plumbing.httpserver import ServerThread
from plumbing.jsonutil import dumps, loads
from plumbing.wsgi import Request, json_response
from simulator.xoxoday import DEMO_CREDENTIALS, SimConfig, start
from simulator.xoxoday.server import RunningSimulator

API = "/chef/v1/oauth/api"


class Api:
    """A thin test client: raw HTTP so the tests see exactly what Xoxoday's clients would."""

    def __init__(self, sim: RunningSimulator, http: httpx.Client) -> None:
        self.sim = sim
        self.http = http
        self.token = DEMO_CREDENTIALS["access_token"]

    def post(
        self, path: str, body: Any = None, token: str | None = None, **kw: Any
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token or self.token}", **kw.pop("headers", {})}
        if body is not None:
            headers["Content-Type"] = "application/json"
            kw["content"] = dumps(body)
        return self.http.post(path, headers=headers, **kw)

    def call(
        self, op: str, data: Any = None, verb: str = "mutation", path: str = API, **kw: Any
    ) -> httpx.Response:
        body = {"query": f"plumProAPI.{verb}.{op}", "tag": "plumProAPI"}
        body["variables"] = {"data": data if data is not None else {}}
        return self.post(path, body, **kw)

    def ok(self, op: str, data: Any = None, **kw: Any) -> Any:
        """Call and return the operation's `data`, asserting the success envelope."""
        response = self.call(op, data, **kw)
        assert response.status_code == 200, response.text
        body = loads(response.content)
        key = "getPaymentReport" if op == "paymentHistory" else op
        assert body["data"][key]["status"] == 1
        return body["data"][key]["data"]

    def error(self, op: str, data: Any, status: int, error_id: str) -> dict[str, Any]:
        response = self.call(op, data)
        assert response.status_code == status, response.text
        body = loads(response.content)
        assert body["errorId"] == error_id, body
        assert body["code"] == status
        return body

    def sim_get(self, path: str) -> Any:
        response = self.http.get(f"/_sim/{path}")
        assert response.status_code == 200, response.text
        return loads(response.content)

    def sim_post(self, path: str, body: Any = None, expect: int = 200) -> Any:
        response = self.http.post(f"/_sim/{path}", content=dumps(body or {}))
        assert response.status_code == expect, response.text
        return loads(response.content)

    def order(self, **fields: Any) -> Any:
        data = {"productId": 27222, "quantity": 1, "denomination": 10, "poNumber": "PO-1"}
        return self.ok("placeOrder", {**data, **fields})

    def balance(self) -> Any:
        return self.ok("getBalance", {}, verb="query")["value"]


@pytest.fixture(scope="session")
def sim() -> Iterator[RunningSimulator]:
    running = start(SimConfig(delivery_delay_s=-1, webhook_retry_delay_s=0.05, webhook_timeout_s=2))
    yield running
    running.stop()


@pytest.fixture(scope="session")
def http(sim: RunningSimulator) -> Iterator[httpx.Client]:
    # One client for the session: building an httpx.Client costs ~40 ms (its TLS context).
    with httpx.Client(base_url=sim.url, timeout=10) as client:
        yield client


@pytest.fixture
def api(sim: RunningSimulator, http: httpx.Client) -> Api:
    client = Api(sim, http)
    client.sim_post("reset")
    return client


@dataclass
class Receiver:
    """A local webhook endpoint that records what it is sent and answers `status`."""

    status: int = 200
    calls: list[tuple[dict[str, str], Any]] = field(default_factory=list)
    arrived: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request.from_environ(environ)
        self.calls.append((req.headers, loads(req.body)))
        self.arrived.set()
        return json_response(start_response, self.status, {"ok": self.status == 200})


@pytest.fixture(scope="session")
def receiver_server() -> Iterator[tuple[ServerThread, Receiver]]:
    receiver = Receiver()
    server = ServerThread(receiver, port=0, threads=4).start()
    receiver.url = server.url + "/xoxoday/webhook"
    yield server, receiver
    server.stop()


@pytest.fixture
def receiver(receiver_server: tuple[ServerThread, Receiver]) -> Receiver:
    _, rec = receiver_server
    rec.status, rec.calls = 200, []
    rec.arrived.clear()
    return rec
