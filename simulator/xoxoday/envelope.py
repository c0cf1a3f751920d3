"""Reading Xoxoday's RPC envelope in every shape the docs show (reference §1.1)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from plumbing.jsonutil import loads
from plumbing.wsgi import Request
from simulator.xoxoday.errors import bad_request

OPS = (
    "getFilters",
    "getVouchers",
    "lookupMobileNumber",
    "getBalance",
    "placeOrder",
    "getOrderDetails",
    "getOrderHistory",
    "paymentHistory",
)
# Xoxoday's MCP server calls paymentHistory by the name its answer is keyed under.
_ALIASES = {"getPaymentReport": "paymentHistory"}
_RESPONSE_KEYS = {"paymentHistory": "getPaymentReport"}


def canonical_op(name: str) -> str | None:
    name = _ALIASES.get(name, name)
    return name if name in OPS else None


def response_key(op: str) -> str:
    return _RESPONSE_KEYS.get(op, op)


@dataclass
class Call:
    op: str  # canonical operation name
    data: dict[str, Any]

    @property
    def key(self) -> str:
        return response_key(self.op)


def _query_string_body(req: Request) -> dict[str, Any]:
    """getBalance as documented for airmiles/top-up: query, tag, variables in the URL."""
    body: dict[str, Any] = {key: values[-1] for key, values in req.query.items()}
    if isinstance(body.get("variables"), str):
        try:
            body["variables"] = loads(body["variables"] or "{}")
        except json.JSONDecodeError as exc:
            raise bad_request("variables in the query string is not JSON") from exc
    return body


def _data(body: dict[str, Any]) -> dict[str, Any]:
    """The operation's arguments: variables.data, flat variables, data.data or data."""
    candidates: list[Any] = []
    variables = body.get("variables")
    if isinstance(variables, dict):
        candidates.append(variables.get("data"))
        candidates.append({k: v for k, v in variables.items() if k != "data"})
    top = body.get("data")
    if isinstance(top, dict):
        candidates.append(top.get("data"))
        candidates.append(top)
    for candidate in candidates:
        if isinstance(candidate, dict) and candidate:
            return candidate
    return {}


def parse_call(req: Request) -> Call:
    body: Any = None
    if req.body.strip():
        try:
            body = loads(req.body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise bad_request("request body is not valid JSON") from exc
    if (body is None or (isinstance(body, dict) and "query" not in body)) and "query" in req.query:
        body = _query_string_body(req)
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        raise bad_request("expected a JSON object with a query")
    parts = body["query"].strip().split(".")
    op = canonical_op(parts[-1]) if len(parts) == 3 else None
    if op is None or parts[0] != "plumProAPI" or parts[1] not in ("mutation", "query"):
        raise bad_request(f"unknown query {body['query']!r}")
    return Call(op, _data(body))
