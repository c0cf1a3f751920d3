"""The daily audit: our order record against Xoxoday's order history and payment report.

The bot never places a poNumber twice on its own, but only Xoxoday's books show an order it
holds that our record lost (a commit that came after our re-placement, an order placed from a
restored copy of the database, one placed by hand with the same account) or a charge that
differs from what placeOrder answered (reference §13 row 7). For one day (UTC) it reads
getOrderHistory, paged within the client's rate limits, over that day and one either side
(Xoxoday does not say in which time zone it dates orders), and the day's payment report,
and matches them to the record by poNumber:

- orphan: an order of that day at Xoxoday the record does not have placed (no such
  poNumber, a second order under one of ours, or one the record calls failed or withdrawn);
- missing: an order the record says Xoxoday took that day, not in its history;
- charge_mismatch: both have it, and the charge, its currency, or whether the money came
  back (cancelled or refunded at Xoxoday, delivered in the record, or the other way) differ;
- topup, refund, adjustment: money into or out of the wallet that no order explains, seen in
  the payment report ("the wallet was topped up by 5,000 USD"), posted for the approvers.

Each finding is recorded once (storage/audit.py), and a run's new ones are one `system.alert`
to the approvers (a history answered empty would otherwise make one alert per order). Orders
still being placed or looked up are the worker's, not findings; while Xoxoday has orders under
such poNumbers, the day is not done but `waiting`, audited again RECHECK_IN_FLIGHT_S later.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from services.wallet import Wallet
from services.xoxoday.client import XoxodayClient
from services.xoxoday.models import HistoryOrder, PaymentRow
from services.xoxoday.status import outcome
from storage import audit as store
from storage import events
from storage import orders as order_store
from storage.db import Database
from storage.models import EventKind, OrderRow

log = logging.getLogger(__name__)

DIFFERENCES = ("orphan", "missing", "charge_mismatch")
MOVEMENTS = ("topup", "refund", "adjustment")
KINDS = DIFFERENCES + MOVEMENTS
PAGE_SIZE = 100
# A day is complete this long after its end (UTC): Xoxoday's day has ended whatever time zone
# it dates orders in (India is UTC+5:30), and late commits have landed.
RUN_AFTER = timedelta(hours=2)
MAX_PAGES = 1000
# A run's new findings are one alert; it lists this many (the command line lists them all).
ALERT_LINES = 10
# Our orders in these states are still the worker's: placing, or looked up after a lost answer.
IN_FLIGHT = frozenset({"queued", "placing", "unknown"})
# A day with Xoxoday orders under poNumbers still in flight is not done: audited again this
# long after (what the worker does not adopt is an orphan then).
RECHECK_IN_FLIGHT_S = 1800.0
# The record says no order exists (or should): Xoxoday holding one is an orphan.
NOT_PLACED = frozenset({"failed", "withdrawn", "pending_approval"})


@dataclass(frozen=True)
class Finding:
    kind: str
    key: str  # unique across days: a finding is recorded and alerted once
    message: str  # one line, for the command line and the approvers
    po_number: str | None = None
    xoxoday_order_id: int | None = None
    order: OrderRow | None = None  # ours, when there is one


@dataclass
class AuditReport:
    day: date
    findings: list[Finding]
    xoxoday_orders: int  # in Xoxoday's history, dated that day
    our_orders: int  # placed that day in the record
    payment_rows: int
    new: int = 0  # findings recorded (and alerted) for the first time by this run
    in_flight: int = 0  # Xoxoday's orders of the day under poNumbers the worker still has
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def differences(self) -> list[Finding]:
        return [f for f in self.findings if f.kind in DIFFERENCES]

    @property
    def clean(self) -> bool:
        return not self.differences

    def counts(self) -> dict[str, int]:
        return {kind: sum(1 for f in self.findings if f.kind == kind) for kind in KINDS}

    def lines(self) -> list[str]:
        """What the command line prints: a header, one line per finding, a verdict."""
        head = (
            f"Audit of {self.day} (UTC) against Xoxoday: {self.xoxoday_orders} order(s) in its "
            f"history, {self.our_orders} placed in the record, {self.payment_rows} payment "
            "report row(s)"
        )
        body = [f"  {f.kind:<16} {f.message}" for f in self.findings]
        if self.in_flight:
            body.append(f"  {'in flight':<16} {self.waiting_for()}")
        moved = len(self.findings) - len(self.differences)
        if self.clean:
            verdict = "the books match" + (
                f"; {moved} wallet movement(s) posted to the approvers" if moved else ""
            )
        else:
            verdict = (
                f"{len(self.differences)} difference(s)"
                + (f" and {moved} wallet movement(s)" if moved else "")
                + f"; {self._told()}"
            )
        return [head, *body, verdict]

    def waiting_for(self) -> str:
        return (
            f"{self.in_flight} order(s) at Xoxoday under poNumbers still being placed or "
            "looked up: the day is audited again once they settle"
        )

    def _told(self) -> str:
        if self.new == len(self.findings):
            return f"{self.new} new, sent to the approvers"
        if self.new:
            return f"{self.new} new, sent to the approvers (the others were sent before)"
        return "all sent to the approvers before"


class Auditor:
    def __init__(
        self,
        database: Database,
        client: XoxodayClient,
        wallet: Wallet | None = None,
        *,
        page_size: int = PAGE_SIZE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.client = client
        self.wallet = wallet
        self.page_size = page_size
        self._clock = clock

    def run(self, day: date, *, actor: str, complete: bool | None = None) -> AuditReport:
        """Audit `day`: read Xoxoday's books, compare, record (and alert) what is new.
        Raises XoxodayError when Xoxoday cannot be read: nothing is recorded then.

        `complete`: the day is over (RUN_AFTER past its end; by default from the clock), so
        it is recorded as audited; a day audited before then is audited again once it is."""
        history = self._history(day - timedelta(days=1), day + timedelta(days=1))
        payments = self._payments(day)
        placed = order_store.placed_between(
            self.database, day.isoformat(), (day + timedelta(days=1)).isoformat()
        )
        known = order_store.by_po_numbers(self.database, (h.po_number for h in history))
        currency = (self.wallet.known_currency() if self.wallet else None) or ""
        findings = compare(day, history, placed, known) + movements(payments, currency)
        report = AuditReport(
            day,
            findings,
            xoxoday_orders=sum(1 for h in history if order_day(h, day) == day),
            our_orders=len(placed),
            payment_rows=len(payments),
            in_flight=len(unsettled(day, history, known)),
        )
        if complete is None:
            complete = day <= audited_day(self._clock())
        report.new = self._record(report, actor, complete=complete)
        log.info("audit of %s: %s", day, report.lines()[-1])
        return report

    def _history(self, first: date, last: date) -> list[HistoryOrder]:
        return _pages(
            lambda page: self.client.get_order_history(
                first, last, limit=self.page_size, page=page
            ),
            self.page_size,
        )

    def _payments(self, day: date) -> list[PaymentRow]:
        return _pages(
            lambda page: self.client.payment_history(day, day, limit=self.page_size, page=page),
            self.page_size,
        )

    def _record(self, report: AuditReport, actor: str, *, complete: bool) -> int:
        """Each finding once, the new ones in one alert (a day whose history answered empty
        makes every order "missing": one alert, not one per order), and the day done (when
        `complete`: a day audited before it is over is audited again when it is): one
        transaction."""
        day = report.day.isoformat()
        new: list[Finding] = []
        with self.database.tx() as db:
            for finding in report.findings:
                ours = finding.order
                if store.record_finding(
                    db,
                    day=day,
                    kind=finding.kind,
                    key=finding.key,
                    message=finding.message,
                    po_number=finding.po_number,
                    xoxoday_order_id=finding.xoxoday_order_id,
                    order_id=ours.id if ours else None,
                ):
                    new.append(finding)
            if new:
                only = new[0].order if len(new) == 1 else None
                events.append(
                    db,
                    EventKind.SYSTEM_ALERT,
                    request_id=only.request_id if only else None,
                    order_id=only.id if only else None,
                    actor=actor,
                    reason=alert_text(report.day, new),
                    data={
                        "audit": sorted({f.kind for f in new}),
                        "keys": [f.key for f in new[:ALERT_LINES]],
                        "findings": len(new),
                    },
                )
            summary = {
                "findings": report.counts(),
                "xoxoday_orders": report.xoxoday_orders,
                "our_orders": report.our_orders,
                "payment_rows": report.payment_rows,
            }
            if complete and report.in_flight:
                now = self._clock()
                why = report.waiting_for()
                store.wait(db, day, actor, now, why, now + RECHECK_IN_FLIGHT_S, summary)
            elif complete:
                store.finish(db, day, actor, self._clock(), summary)
        return len(new)


def alert_text(day: date, new: list[Finding]) -> str:
    """One alert for a run's new findings: the finding itself when there is one, else how
    many of each kind and the first ALERT_LINES of them (the command line lists them all)."""
    if len(new) == 1:
        return f"audit of {day}: {new[0].message}"
    kinds = ", ".join(
        f"{n} {kind}" for kind in KINDS if (n := sum(1 for f in new if f.kind == kind))
    )
    listed = "".join(f"\n• {f.message}" for f in new[:ALERT_LINES])
    rest = len(new) - ALERT_LINES
    more = f"\nand {rest} more: `rewards-bot audit --day {day}` lists them all" if rest > 0 else ""
    return f"audit of {day}: {len(new)} new findings ({kinds}):{listed}{more}"


def audited_day(now: float, run_after: timedelta = RUN_AFTER) -> date:
    """The latest complete day at `now`: yesterday once `run_after` has passed."""
    moment = datetime.fromtimestamp(now, UTC) - run_after
    return moment.date() - timedelta(days=1)


def _pages(fetch: Callable[[int], list[Any]], size: int) -> list[Any]:
    """Every page of a paged answer (a short page is the last)."""
    items: list[Any] = []
    for page in range(1, MAX_PAGES + 1):
        batch = fetch(page)
        items.extend(batch)
        if len(batch) < size:
            return items
    log.warning("audit: stopped after %d pages of %d", MAX_PAGES, size)
    return items


# --- the comparison, as data ------------------------------------------------------------------


def order_day(order: HistoryOrder, default: date) -> date:
    """The day Xoxoday dates an order ("2024-02-07 12:25:45"); `default` when unreadable."""
    try:
        return date.fromisoformat(order.order_date.strip()[:10])
    except ValueError:
        return default


def compare(
    day: date, history: list[HistoryOrder], placed: list[OrderRow], known: dict[str, OrderRow]
) -> list[Finding]:
    """Orphans, missing orders and charge mismatches of `day` (see the module docstring).

    `history` spans the day and one either side; `placed` is the record's orders placed that
    day; `known` the record's orders by poNumber for every poNumber in `history`.
    """
    findings = [
        found
        for theirs in history
        if order_day(theirs, day) == day
        for found in [_orphan(theirs, known.get(theirs.po_number or ""))]
        if found
    ]
    by_po: dict[str, list[HistoryOrder]] = {}
    for theirs in history:
        by_po.setdefault(theirs.po_number, []).append(theirs)
    for ours in placed:
        candidates = by_po.get(ours.po_number, [])
        match = next((h for h in candidates if h.order_id == ours.xoxoday_order_id), None)
        if match is None:
            findings.append(_missing(ours))
        else:
            findings.extend(_charges(ours, match))
    return findings


def unsettled(
    day: date, history: list[HistoryOrder], known: dict[str, OrderRow]
) -> list[HistoryOrder]:
    """Xoxoday's orders of `day` under a poNumber the worker is still placing or looking up:
    neither found nor cleared until it settles."""
    return [
        theirs
        for theirs in history
        if order_day(theirs, day) == day
        and (ours := known.get(theirs.po_number or "")) is not None
        and ours.state in IN_FLIGHT
    ]


def _orphan(theirs: HistoryOrder, ours: OrderRow | None) -> Finding | None:
    what = _theirs(theirs)
    key = f"orphan:{theirs.order_id}"
    po = theirs.po_number or None
    if ours is None:
        why = "is not in the bot's record" if po else "has no poNumber: not placed by the bot"
        return Finding("orphan", key, f"{what} {why}", po, theirs.order_id)
    if ours.state in IN_FLIGHT:
        return None  # being placed or looked up: the worker will adopt it
    if ours.xoxoday_order_id is not None and ours.xoxoday_order_id != theirs.order_id:
        why = (
            f"is a second order under the bot's poNumber (the record has Xoxoday order "
            f"{ours.xoxoday_order_id}, R-{ours.request_id})"
        )
        return Finding("orphan", key, f"{what} {why}", po, theirs.order_id, ours)
    if ours.state in NOT_PLACED or ours.xoxoday_order_id is None:
        why = f"is {ours.state} in the bot's record (R-{ours.request_id}): Xoxoday has it"
        return Finding("orphan", key, f"{what} {why}", po, theirs.order_id, ours)
    return None


def _missing(ours: OrderRow) -> Finding:
    return Finding(
        "missing",
        f"missing:{ours.po_number}:{ours.xoxoday_order_id}",
        f"{_ours(ours)} is {ours.state} in the bot's record as Xoxoday order "
        f"{ours.xoxoday_order_id}, placed {(ours.placed_at or '')[:19].replace('T', ' ')}, "
        "but Xoxoday's order history does not have it",
        ours.po_number,
        ours.xoxoday_order_id,
        ours,
    )


def _charges(ours: OrderRow, theirs: HistoryOrder) -> list[Finding]:
    """What Xoxoday charged against what the record says, and whether the money came back."""
    found: list[Finding] = []
    charged, recorded = theirs.amount_charged, ours.amount_charged
    currency, ours_currency = theirs.currency_code, ours.wallet_currency or ""
    if charged is not None and (recorded is None or charged != recorded):
        said = f"{_money(recorded)} {ours_currency}" if recorded is not None else "no charge"
        found.append(
            _mismatch(
                ours,
                theirs,
                f"charge:{charged}",
                f"Xoxoday charged {_money(charged)} {currency}, the record says {said}",
            )
        )
    elif currency and ours_currency and currency.upper() != ours_currency.upper():
        found.append(
            _mismatch(
                ours,
                theirs,
                f"currency:{currency}",
                f"Xoxoday charged in {currency}, the record in {ours_currency}",
            )
        )
    state = outcome("", theirs.delivery_status, [p.order_product_status for p in theirs.products])
    if state.final and ours.state in ("delivered", "canceled"):
        back_there, back_here = state.state == "canceled", ours.state == "canceled"
        if back_there and not back_here:
            why = f"Xoxoday gave the money back ({state.reason}), the record says delivered"
            found.append(_mismatch(ours, theirs, "refund:theirs", why))
        elif back_here and not back_there:
            why = "the record gave the money back (cancelled), Xoxoday says delivered"
            found.append(_mismatch(ours, theirs, "refund:ours", why))
    return found


def _mismatch(ours: OrderRow, theirs: HistoryOrder, what: str, why: str) -> Finding:
    return Finding(
        "charge_mismatch",
        f"charge_mismatch:{ours.po_number}:{what}",
        f"{_ours(ours)}, Xoxoday order {theirs.order_id}: {why}",
        ours.po_number,
        theirs.order_id,
        ours,
    )


def movements(rows: Iterable[PaymentRow], currency: str) -> list[Finding]:
    """Money in or out of the wallet that is not an order's charge: top-ups, refunds and
    adjustments, each keyed by its own invoice (a refund alerted once is not alerted again
    when the next one comes the same day)."""
    found: list[Finding] = []
    unit = f" {currency}" if currency else ""
    for row in rows:
        reason = row.reason.lower()
        if "voucher" in reason or row.adjusted_amount is None:
            continue  # an order's charge: the order history is compared instead
        ref = row.invoice_number or row.reference_id or f"{row.date}:{row.adjusted_amount}"
        amount = _money(row.adjusted_amount)
        if "refund" in reason:
            # A cancelled delivery's refund is documented as a "Refunded" row with
            # transaction_status "Cancelled" (xoxoday-api.md §4): the status names the
            # cancellation it pays back, not a refund that did not happen.
            found.append(
                Finding(
                    "refund",
                    f"refund:{ref}",
                    f"Xoxoday refunded {amount}{unit} to the wallet "
                    f"({row.reason}, {row.date}, invoice {ref})",
                )
            )
        elif row.transaction_status == "canceled":
            continue  # a top-up or adjustment that was cancelled moved no money
        elif "fund" in reason and "add" in reason:
            found.append(
                Finding(
                    "topup",
                    f"topup:{ref}",
                    f"the wallet was topped up by {amount}{unit} "
                    f"({row.reason}, {row.date}, invoice {ref})",
                )
            )
        else:
            found.append(
                Finding(
                    "adjustment",
                    f"adjustment:{ref}",
                    f"the payment report shows {amount}{unit}: "
                    f"{row.reason} ({row.date}, invoice {ref}); no order explains it",
                )
            )
    return found


def _theirs(order: HistoryOrder) -> str:
    product = order.products[0] if order.products else None
    item = (
        f"{product.product_name} {_money(product.price)} {product.currency}"
        + (f" ×{product.quantity}" if product.quantity and product.quantity > 1 else "")
        if product and product.price is not None
        else "an order"
    )
    charged = (
        f", charged {_money(order.amount_charged)} {order.currency_code}"
        if order.amount_charged is not None
        else ""
    )
    po = f"poNumber {order.po_number}" if order.po_number else "no poNumber"
    return f"Xoxoday order {order.order_id} ({po}; {item}{charged}, {order.order_date})"


def _ours(order: OrderRow) -> str:
    return (
        f"{order.po_number} (R-{order.request_id}, {order.product_name or order.product_id} "
        f"{_money(order.denomination)} {order.product_currency or ''})".replace(" )", ")")
    )


def _money(amount: Decimal | None) -> str:
    """5,000 or 24.50: whole amounts without cents, others with two."""
    if amount is None:
        return "?"
    if amount == amount.to_integral_value():
        return format(int(amount), ",")
    return format(amount.quantize(Decimal("0.01")), ",f")
