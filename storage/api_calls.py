"""The request log Xoxoday asks for: every placeOrder and getOrderDetails, redacted."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Protocol

from plumbing.jsonutil import dumps
from storage.db import Database

LOGGED_OPS = frozenset({"placeOrder", "getOrderDetails"})


class Exchange(Protocol):
    """What the log keeps of one HTTP round trip (services.xoxoday.client.Exchange has it)."""

    @property
    def op(self) -> str: ...
    @property
    def po_number(self) -> str | None: ...
    @property
    def request(self) -> dict[str, Any]: ...
    @property
    def status(self) -> int | None: ...
    @property
    def response(self) -> Any: ...
    @property
    def error(self) -> str | None: ...
    @property
    def started_at(self) -> float: ...
    @property
    def duration_ms(self) -> int: ...


class ApiCallLog:
    """An exchange hook for XoxodayClient that stores the calls that move money."""

    def __init__(self, database: Database, ops: frozenset[str] = LOGGED_OPS) -> None:
        self.database = database
        self.ops = ops

    def __call__(self, exchange: Exchange) -> None:
        if exchange.op not in self.ops:
            return
        self.database.db.table("api_calls").insert(
            {
                "at": datetime.fromtimestamp(exchange.started_at, UTC).isoformat(
                    timespec="milliseconds"
                ),
                "op": exchange.op,
                "po_number": exchange.po_number,
                "request": dumps(exchange.request),
                "status": exchange.status,
                "response": dumps(exchange.response) if exchange.response is not None else None,
                "error": exchange.error,
                "duration_ms": exchange.duration_ms,
            }
        )


def for_po(database: Database, po_number: str) -> list[dict[str, Any]]:
    return database.query("SELECT * FROM api_calls WHERE po_number = ? ORDER BY id", [po_number])
