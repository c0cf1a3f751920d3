"""The few WSGI helpers our HTTP endpoints share: a parsed request and a JSON response.

Small on purpose. Every HTTP surface is already a table: the bot's four routes, the Xoxoday
simulator's /_sim/ routes and its one RPC endpoint (the operation is in the body), the Slack
fake's /api/<method> table. A routing library (werkzeug's Map and Request) would replace a few
dictionary lookups and bring a second request type with its own body limits and header
handling, which the stand-ins' strictness tests rely on. Plumbing: the bot and both stand-ins
use it, so it imports nothing of theirs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

from plumbing.jsonutil import dumps

StartResponse = Callable[..., Any]

_REASONS = {
    200: "OK",
    201: "Created",
    204: "No Content",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    409: "Conflict",
    413: "Payload Too Large",
    422: "Unprocessable Entity",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}

MAX_BODY = 1_048_576


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes
    remote_addr: str = ""
    environ: dict[str, Any] = field(default_factory=dict, repr=False)

    @classmethod
    def from_environ(cls, environ: dict[str, Any]) -> Request:
        try:
            length = int(environ.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        body = environ["wsgi.input"].read(min(length, MAX_BODY)) if length > 0 else b""
        headers = {
            key[5:].replace("_", "-").lower(): value
            for key, value in environ.items()
            if key.startswith("HTTP_")
        }
        if environ.get("CONTENT_TYPE"):
            headers["content-type"] = environ["CONTENT_TYPE"]
        return cls(
            method=environ.get("REQUEST_METHOD", "GET").upper(),
            path=environ.get("PATH_INFO", "/") or "/",
            query=parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True),
            headers=headers,
            body=body,
            remote_addr=environ.get("REMOTE_ADDR", ""),
            environ=environ,
        )

    def json(self, **kwargs: Any) -> Any:
        """The body as JSON; raises ValueError when it is not JSON."""
        return json.loads(self.body.decode("utf-8") or "null", **kwargs)

    def form(self) -> dict[str, str]:
        parsed = parse_qs(self.body.decode("utf-8"), keep_blank_values=True)
        return {key: values[-1] for key, values in parsed.items()}


def respond(
    start_response: StartResponse,
    status: int,
    body: bytes | str = b"",
    content_type: str = "application/json",
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    data = body.encode("utf-8") if isinstance(body, str) else body
    start_response(
        f"{status} {_REASONS.get(status, 'Status')}",
        [("Content-Type", content_type), ("Content-Length", str(len(data))), *headers],
    )
    return [data]


def json_response(
    start_response: StartResponse,
    status: int,
    obj: Any,
    headers: Iterable[tuple[str, str]] = (),
) -> list[bytes]:
    return respond(start_response, status, dumps(obj), "application/json", headers)
