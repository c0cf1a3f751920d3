"""The /_fake/ routes: the fake's Python controls over HTTP, for a bot or demo in another
process (reset, fail_next, trigger, calls, messages, views; with Socket Mode: envelope,
disconnect)."""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any

from bot.wsgi import Request

if TYPE_CHECKING:
    from simulator.slack.fake import FakeSlack


def handle(fake: FakeSlack, req: Request, name: str) -> tuple[int, Any]:
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
