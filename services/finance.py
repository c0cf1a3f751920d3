"""The finance export of one month: one row per order, and totals finance can book.

An order belongs to the month its request was made (UTC), the month its requester's budget
counts it in (storage/ledger.py), so every order is in exactly one month's export, whatever
became of it: rejected, cancelled and failed orders are listed with nothing charged.

Money per row, all in the wallet's currency except the face value:
- `cost`: the bot's estimate when the request was made;
- `amount_charged` and `discount`: what Xoxoday said it debited and took off (amountCharged,
  orderDiscount), for orders Xoxoday placed;
- `refunded`: what came back (a cancelled order, or the cancelled units of one), as booked
  in the budget ledger;
- `net`: amount_charged − refunded, what the order finally cost;
- `given` and `change`, for a recipient's choice: the amount the requester gave, and what went
  back to their budget when the recipient chose something that cost less (`cost` is then the
  estimate of what they chose, and `amount_charged` what Xoxoday charged for it).
Totals add up `orders`, `amount_charged`, `refunded` and `net` per requester and per reward
type, each per wallet currency.

The approver is who decided, on whose authority: when a delegate decided for an approver
(issue 10's delegation records the approver stood in for, e.g. `decided_for`, on the request
or in its decision event), `approver` is that approver and `delegate` the person who clicked.
Automatic approvals show the approver `policy`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from storage import choices as choice_store
from storage import finance as finance_store
from storage.db import Database
from storage.models import EventKind

MONTH = re.compile(r"(\d{4})-(0[1-9]|1[0-2])")
CHARGED_STATES = frozenset({"placed", "delivered", "canceled"})
DECISION_KINDS = (
    EventKind.REQUEST_APPROVED,
    EventKind.REQUEST_REJECTED,
    EventKind.REQUEST_CANCELLED,
    EventKind.REQUEST_EXPIRED,
)
# Where a decision may name the approver a delegate stood in for (issue 10 chooses one).
DELEGATION_KEYS = ("decided_for", "on_behalf_of", "delegate_for", "approver_for")

COLUMNS = (
    "request",
    "requester",
    "requester_id",
    "decision",
    "approver",
    "delegate",
    "decided_at",
    "recipient",
    "recipient_email",
    "product_id",
    "product",
    "reward_type",
    "denomination",
    "quantity",
    "face_value",
    "face_currency",
    "cost",
    "given",
    "change",
    "amount_charged",
    "discount",
    "refunded",
    "net",
    "wallet_currency",
    "po_number",
    "xoxoday_order_id",
    "state",
    "placed_at",
    "delivered_at",
    "tag",
)
# `key` is what a total is grouped by (a requester's member id: two people may share a name,
# and a name can be changed); `label` is how people read it.
TOTAL_COLUMNS = (
    "by",
    "key",
    "label",
    "wallet_currency",
    "orders",
    "amount_charged",
    "refunded",
    "net",
)
SUMMED = ("amount_charged", "refunded", "net")


class MonthError(ValueError):
    pass


@dataclass
class MonthExport:
    month: str
    rows: list[dict[str, Any]]
    totals: list[dict[str, Any]]  # by requester, by reward type, then all


def parse_month(text: str) -> str:
    if not MONTH.fullmatch(text.strip()):
        raise MonthError(f"{text!r} is not a month; write it YYYY-MM, like 2026-11")
    return text.strip()


def _next_month(month: str) -> str:
    year, number = int(month[:4]), int(month[5:])
    return f"{year + number // 12:04d}-{number % 12 + 1:02d}"


def _money(value: Any) -> Decimal | None:
    return None if value in (None, "") else Decimal(str(value))


def month_export(database: Database, month: str) -> MonthExport:
    """The month's rows and totals in memory (tests, small months); the CLI streams them."""
    totals = Totals()
    rows = [totals.add(row) for row in month_rows(database, month)]
    return MonthExport(parse_month(month), rows, totals.rows())


def month_rows(
    database: Database, month: str, chunk: int = finance_store.CHUNK
) -> Iterator[dict[str, Any]]:
    """The month's rows, by request then order, read `chunk` requests at a time: memory
    stays flat whatever the month's size (add each to a Totals for the totals)."""
    month = parse_month(month)
    for orders in finance_store.month_order_chunks(database, month, _next_month(month), chunk):
        request_ids = sorted({row["request_id"] for row in orders})
        delegations = {rid: _delegation(database, rid) for rid in request_ids}
        ids = [row["id"] for row in orders]
        refunds = finance_store.refunds_by_order(database, ids)
        chosen = choice_store.given_and_change(database, ids)
        for order in orders:
            yield _row(order, delegations[order["request_id"]], refunds, chosen)


def _delegation(database: Database, request_id: int) -> str | None:
    """The approver a delegate stood in for, if the decision records one."""
    request = finance_store.request_columns(database, request_id)
    for key in DELEGATION_KEYS:
        if request.get(key):
            return str(request[key])
    data = finance_store.last_event_data(database, request_id, DECISION_KINDS)
    for key in DELEGATION_KEYS:
        if isinstance(data, dict) and data.get(key):
            return str(data[key])
    return None


def _row(
    order: dict[str, Any],
    decided_for: str | None,
    refunds: dict[int, Decimal],
    chosen: dict[int, tuple[Decimal, Decimal]],
) -> dict:
    denomination = Decimal(str(order["denomination"]))
    quantity = int(order["quantity"] or 1)
    charged = _money(order["amount_charged"]) if order["state"] in CHARGED_STATES else None
    refunded = refunds.get(order["id"], Decimal(0)) if charged is not None else Decimal(0)
    decided_by = order["r_decided_by"]
    decision = order["r_state"] + (" (automatic)" if order["r_auto"] else "")
    details = order["details"]
    recipient = order["recipient_name"] or order["email"] or next(iter(details.values()), None)
    return {
        "request": f"R-{order['request_id']}",
        "requester": order["r_requester_name"] or order["r_requester_id"],
        "requester_id": order["r_requester_id"],
        "decision": decision,
        # A delegate decided for `decided_for`: the approver is the one stood in for.
        "approver": decided_for or decided_by,
        "delegate": decided_by if decided_for else None,
        "decided_at": order["r_decided_at"],
        "recipient": recipient,
        "recipient_email": order["email"],
        "product_id": order["product_id"],
        "product": order["product_name"],
        "reward_type": order["reward_type"],
        "denomination": denomination,
        "quantity": quantity,
        "face_value": denomination * quantity,
        "face_currency": order["product_currency"],
        "cost": _money(order["cost_estimate"]),
        "given": chosen[order["id"]][0] if order["id"] in chosen else None,
        "change": chosen[order["id"]][1] if order["id"] in chosen else None,
        "amount_charged": charged,
        "discount": _money(order["order_discount"]) if charged is not None else None,
        "refunded": refunded,
        "net": (charged - refunded) if charged is not None else Decimal(0),
        "wallet_currency": order["wallet_currency"],
        "po_number": order["po_number"],
        "xoxoday_order_id": order["xoxoday_order_id"],
        "state": order["state"],
        "placed_at": order["placed_at"],
        "delivered_at": order["settled_at"] if order["state"] == "delivered" else None,
        "tag": order["tag"],
    }


class Totals:
    """`orders`, `amount_charged`, `refunded` and `net` added up per requester, per reward
    type and in all, each per wallet currency, as rows go by."""

    def __init__(self) -> None:
        self._groups: dict[tuple[str, str, str], dict[str, Any]] = {}

    def add(self, row: dict[str, Any]) -> dict[str, Any]:
        """Count `row` in; returns it."""
        currency = row["wallet_currency"] or ""
        for by, key, label in (
            ("requester", row["requester_id"], row["requester"]),
            ("reward_type", row["reward_type"], row["reward_type"]),
            ("all", "", ""),
        ):
            total = self._groups.setdefault(
                (by, key, currency),
                {"by": by, "key": key, "label": label, "wallet_currency": currency, "orders": 0}
                | {name: Decimal(0) for name in SUMMED},
            )
            total["orders"] += 1
            for name in SUMMED:
                total[name] += row[name] or Decimal(0)
        return row

    def rows(self) -> list[dict[str, Any]]:
        """By requester, by reward type, then all; each by key and currency."""
        order = {"requester": 0, "reward_type": 1, "all": 2}
        return sorted(
            self._groups.values(), key=lambda t: (order[t["by"]], t["key"], t["wallet_currency"])
        )
