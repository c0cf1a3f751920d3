"""The /_fake/ routes: the fake's Python controls over HTTP, for a bot or demo in another
process (reset, fail_next, trigger, calls, messages, views, latency, rate_limits, user,
channel, scopes, violations; with Socket Mode: envelope, disconnect).

    POST /_fake/latency      {"method": "users.info" | "*", "seconds": 0.4}
    POST /_fake/rate_limits  {"enabled": false, "why": "..."}
    POST /_fake/rules        {"off": "rate_limits", "why": "..."} | {"on": name}
    POST /_fake/user         {"user": {...users.info shape...}} adds one;
                             {"id": "UANA", "deactivated": true} deactivates one
    POST /_fake/channel      {"id", "name", "private"?, "bot_member"?, "members"?} adds one;
                             {"id", "archived"?, "bot_member"?, "private"?, "read_only"?,
                              "thread_only"?} changes one
    POST /_fake/scopes       {"scopes": [...]}
    GET  /_fake/violations   what the app did that Slack refuses; POST takes (claims) them
    GET  /_fake/executions   the custom steps' executions (state, outputs, error)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from typing import Any, Protocol

from plumbing.wsgi import Request
from simulator.slack.rules import Rules


class Controllable(Protocol):
    """What the routes steer: FakeSlack (named by what it does, so fake.py, which serves these
    routes, and this module import nothing of each other's)."""

    rules: Rules

    def reset(self) -> None: ...
    def fail_next(self, method: str, times: int = ..., status: int = ..., error: str = ...,
                  retry_after: int = ...) -> None: ...  # fmt: skip
    def issue_trigger(self, user_id: str) -> str: ...
    def calls(self, method: str | None = None) -> list[Any]: ...
    def messages(self, channel: str | None = None) -> list[dict[str, Any]]: ...
    @property
    def views(self) -> dict[str, dict[str, Any]]: ...
    def send_envelope(self, kind: str, payload: dict[str, Any], *, timeout: float = ...
                      ) -> dict[str, Any]: ...  # fmt: skip
    def set_latency(self, method: str, seconds: float) -> None: ...
    def rate_limits(self, enabled: bool = True, why: str = "") -> None: ...
    def add_user(self, user: dict[str, Any]) -> None: ...
    def deactivate_user(self, user_id: str) -> None: ...
    def add_channel(self, channel_id: str, name: str, *, private: bool = ...,
                    bot_member: bool = ..., members: Iterable[str] | None = ...
                    ) -> None: ...  # fmt: skip
    def update_channel(self, channel_id: str, *, archived: bool | None = ...,
                       bot_member: bool | None = ..., private: bool | None = ...,
                       read_only: bool | None = ..., thread_only: bool | None = ...
                       ) -> None: ...  # fmt: skip
    def set_scopes(self, scopes: Iterable[str]) -> None: ...
    def executions(self) -> list[dict[str, Any]]: ...
    def violations(self) -> list[Any]: ...
    def take_violations(self) -> list[Any]: ...
    def socket_disconnect(self, reason: str = ..., close_after: float | None = ...) -> int: ...


def handle(fake: Controllable, req: Request, name: str) -> tuple[int, Any]:
    try:
        body = req.json() if req.body else {}
    except (ValueError, UnicodeDecodeError):
        return 400, {"ok": False, "error": "body is not JSON"}
    query = {k: v[-1] for k, v in req.query.items()}
    try:
        if name == "reset":
            fake.reset()
            return 200, {"ok": True}
        if name == "fail_next":
            fake.fail_next(**body)
            return 200, {"ok": True}
        if name == "trigger":
            return 200, {"ok": True, "trigger_id": fake.issue_trigger(body["user"])}
        if name == "calls":
            calls = fake.calls(query.get("method"))
            return 200, {"ok": True, "calls": [dataclasses.asdict(c) for c in calls]}
        if name == "messages":
            return 200, {"ok": True, "messages": fake.messages(query.get("channel"))}
        if name == "views":
            return 200, {"ok": True, "views": fake.views}
        if name == "envelope":  # {"type", "payload", "timeout"?}: waits for the client's ack
            ack = fake.send_envelope(
                body["type"], body["payload"], timeout=float(body.get("timeout", 3.0))
            )
            return 200, {"ok": True, "ack": ack}
        if name == "latency":
            fake.set_latency(str(body["method"]), float(body["seconds"]))
            return 200, {"ok": True}
        if name == "rate_limits":
            fake.rate_limits(bool(body.get("enabled", True)), str(body.get("why") or ""))
            return 200, {"ok": True}
        if name == "rules":  # {"off": name, "why": ...} or {"on": name}; GET: those off
            if "off" in body:
                fake.rules.off(str(body["off"]), str(body.get("why") or ""))
            elif "on" in body:
                fake.rules.restore(str(body["on"]))
            return 200, {"ok": True, "off": fake.rules.switched_off()}
        if name == "user":
            if "user" in body:
                fake.add_user(body["user"])
            elif body.get("deactivated"):
                fake.deactivate_user(str(body["id"]))
            else:
                raise ValueError("give a user to add, or an id with deactivated: true")
            return 200, {"ok": True}
        if name == "channel":
            channel_id = str(body["id"])
            if "name" in body:
                fake.add_channel(
                    channel_id,
                    str(body["name"]),
                    private=bool(body.get("private", False)),
                    bot_member=bool(body.get("bot_member", False)),
                    members=body.get("members") or (),
                )
            else:
                fake.update_channel(
                    channel_id,
                    archived=body.get("archived"),
                    bot_member=body.get("bot_member"),
                    private=body.get("private"),
                    read_only=body.get("read_only"),
                    thread_only=body.get("thread_only"),
                )
            return 200, {"ok": True}
        if name == "scopes":
            fake.set_scopes(body["scopes"])
            return 200, {"ok": True}
        if name == "executions":
            return 200, {"ok": True, "executions": fake.executions()}
        if name == "violations":
            found = fake.take_violations() if req.method == "POST" else fake.violations()
            return 200, {"ok": True, "violations": [dataclasses.asdict(v) for v in found]}
        if name == "disconnect":
            told = fake.socket_disconnect(body.get("reason", "refresh_requested"))
            return 200, {"ok": True, "connections": told}
    except (KeyError, TypeError, ValueError) as exc:
        return 400, {"ok": False, "error": f"bad control request: {exc}"}
    except RuntimeError as exc:  # no Socket Mode on this fake
        return 409, {"ok": False, "error": str(exc)}
    except AssertionError as exc:  # no connection, or no ack in time
        return 504, {"ok": False, "error": str(exc)}
    return 404, {"ok": False, "error": f"no control {name!r}"}
