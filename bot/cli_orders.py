"""`rewards-bot orders …`: the operator's view of the order record: import a CSV, list, show,
reconcile, resend, export (and the month's finance export)."""

from __future__ import annotations

import argparse
import csv
import sys
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

from bot.cli_common import counts, settings_of
from bot.files import private_text_file

Command = Callable[[str, Callable[[argparse.Namespace], int], str], argparse.ArgumentParser]


def add_orders_commands(command: Command) -> None:
    """`orders` and its subcommands, on the parser `command` adds commands to."""
    orders = command("orders", lambda a: 2, "the operator's view of the order record")
    orders_sub = orders.add_subparsers(dest="orders_command", required=True)

    def orders_command(
        name: str, func: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        p = orders_sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        p.add_argument("--db", help="SQLite file (default $REWARDS_DB)")
        return p

    imp = orders_command("import", cmd_orders_import, "queue rewards from a CSV file")
    imp.add_argument(
        "file", help="CSV with productId,denomination,email[,contact,loyaltyMemberId,...]"
    )
    imp.add_argument("--requester", required=True, help="who the rewards are recorded for")
    imp.add_argument(
        "--needs-approval", action="store_true", help="wait for an approver instead of queueing"
    )
    imp.add_argument("--again", action="store_true", help="import a file that was imported before")

    lst = orders_command("list", cmd_orders_list, "the most recent orders")
    lst.add_argument("--state", help="only orders in this state")
    lst.add_argument("--limit", type=int, default=50)

    show = orders_command("show", cmd_orders_show, "one order with its events and Xoxoday calls")
    show.add_argument("po", help="the order's poNumber")
    show.add_argument(
        "-v", "--verbose", action="store_true", help="print the stored requests and responses"
    )

    orders_command(
        "reconcile", cmd_orders_reconcile, "look up interrupted orders and pending deliveries now"
    )

    resend = orders_command(
        "resend", cmd_orders_resend, "have Xoxoday email a delivered voucher to its recipient"
    )
    resend.add_argument("po", help="the order's poNumber")

    export = orders_command(
        "export",
        cmd_orders_export,
        "every order as CSV; with --month, the finance export of that month with totals",
    )
    export.add_argument("-o", "--output", help="file to write (default: standard output)")
    export.add_argument(
        "--month",
        help="YYYY-MM: one row per order of the requests made that month (UTC), with "
        "approver, delegate, costs, poNumber, then totals per requester and per type",
    )
    export.add_argument(
        "--format", choices=("csv", "json"), default="csv", help="with --month (default csv)"
    )


def cmd_orders_import(args: argparse.Namespace) -> int:
    from bot.runtime import build_runtime
    from services.bulk import AlreadyImported, BulkImportError, import_csv
    from services.errors import RewardError

    settings = settings_of(args)
    text = _read_text(args.file)
    if text is None:
        return 2
    runtime = build_runtime(settings)
    from bot.progress import reporter

    checking = reporter("checking rows", log_format=settings.log_format)
    try:
        runtime.catalog.ensure_fresh()
        decision = import_csv(
            runtime.rewards,
            text,
            args.requester,
            needs_approval=args.needs_approval,
            again=args.again,
            progress=checking.update,
        )
    except BulkImportError as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        for error in exc.errors:
            print(f"  {error}", file=sys.stderr)
        return 1
    except (AlreadyImported, RewardError) as exc:
        print(f"{args.file}: {exc}", file=sys.stderr)
        return 1
    finally:
        checking.close()
        runtime.close()
    request = decision.request
    print(
        f"{request.ref}: {len(decision.orders)} order(s), total {request.total_cost} "
        f"{request.currency}, {request.state.replace('_', ' ')}"
    )
    return 0


def _read_text(path: str) -> str | None:
    """The file as text, or None after one line saying why not (the operator's mistake is
    worth a sentence, not a traceback)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as exc:
        print(f"cannot read {path}: {exc.strerror or exc}", file=sys.stderr)
        return None
    try:
        return raw.decode("utf-8-sig")  # a spreadsheet's "CSV UTF-8" starts with a BOM
    except UnicodeDecodeError as exc:
        # Excel's plain "CSV" is Windows-1252/Latin-1: guessing it could turn a name or an
        # email into another one, so ask for UTF-8 instead.
        line = raw[: exc.start].count(b"\n") + 1
        print(
            f"cannot read {path}: line {line} is not UTF-8 text; save the file as UTF-8 "
            "(in a spreadsheet: Save As > CSV UTF-8)",
            file=sys.stderr,
        )
        return None


ORDER_COLUMNS = (
    "id",
    "request_id",
    "po_number",
    "state",
    "reward_type",
    "product_id",
    "product_name",
    "denomination",
    "quantity",
    "product_currency",
    "cost_estimate",
    "amount_charged",
    "wallet_currency",
    "recipient_id",
    "email",
    "xoxoday_order_id",
    "delivery_status",
    "attempts",
    "failure_reason",
    "created_at",
    "placed_at",
    "settled_at",
)


def cmd_orders_list(args: argparse.Namespace) -> int:
    from bot.runtime import open_db
    from storage import orders

    database = open_db(settings_of(args))
    rows = orders.recent(database, limit=args.limit, state=args.state)
    print(f"{'PO':<28} {'STATE':<10} {'AMOUNT':>10} {'CUR':<4} {'PRODUCT':<28} RECIPIENT")
    for row in rows:
        print(
            f"{row.po_number:<28} {row.state:<10} {row.denomination:>10} "
            f"{row.product_currency or '':<4} {(row.product_name or '')[:28]:<28} "
            f"{row.recipient_label}"
        )
    by_state = orders.count_by_state(database)
    print(
        f"\n{sum(by_state.values())} order(s): "
        + ", ".join(f"{k} {v}" for k, v in sorted(by_state.items()))
    )
    return 0


def cmd_orders_show(args: argparse.Namespace) -> int:
    from bot.runtime import open_db
    from storage import api_calls, events, orders

    database = open_db(settings_of(args))
    order = orders.by_po(database, args.po)
    if order is None:
        print(f"no order with poNumber {args.po}", file=sys.stderr)
        return 1
    for name in ORDER_COLUMNS:
        value = getattr(order, name)
        if value not in (None, ""):
            print(f"{name:>18}: {value}")
    print("\nevents:")
    for event in events.for_order(database, order.id):
        why = f" ({event.reason})" if event.reason else ""
        move = f"{event.from_state or '':>10} -> {event.to_state or '':<10}"
        print(f"  {event.at} {event.kind:<18} {move} by {event.actor}{why}")
    print("\nXoxoday calls (redacted):")
    for call in api_calls.for_po(database, order.po_number):
        outcome = f"HTTP {call['status']} {call['duration_ms']} ms {call['error'] or ''}"
        print(f"  {call['at']} {call['op']} {outcome}")
        if args.verbose:
            print(f"    request:  {call['request']}")
            print(f"    response: {call['response']}")
    return 0


def cmd_orders_reconcile(args: argparse.Namespace) -> int:
    from bot.runtime import build_runtime
    from storage import orders

    runtime = build_runtime(settings_of(args))
    worker = runtime.worker
    try:
        if not worker.lease.try_acquire():
            holder = worker.lease.holder_info() or {}
            print(
                f"a worker is running ({holder.get('holder')}, pid {holder.get('pid')}); "
                "it reconciles on its own",
                file=sys.stderr,
            )
            return 1
        recovered = worker.recover()
        pending = orders.in_states(runtime.database, ["placed"])
        for order in pending:
            worker._poll(order)
        # Notifications are left to the worker that shows them in Slack.
        print(
            f"recovered {recovered} interrupted order(s), "
            f"checked {len(pending)} pending delivery(ies)"
        )
        print(f"orders by state: {counts(runtime)}")
    finally:
        worker.lease.release()
        runtime.close()
    return 0


def cmd_orders_resend(args: argparse.Namespace) -> int:
    """Have Xoxoday email a delivered order's voucher to its recipient again: for a code the
    bot could not give in Slack (the recipient left, or is not in the workspace). Decided by
    the service (services/resend.py): once an hour per order, as the recipient's button."""
    from bot.runtime import build_client, open_db
    from services.resend import ResendRefused, VoucherResend

    settings = settings_of(args)
    database = open_db(settings)
    client = build_client(settings, database)
    try:
        order = VoucherResend(database, client).resend_for_operator(args.po)
    except ResendRefused as refused:
        print(refused.message, file=sys.stderr)
        return 1
    finally:
        client.close()
    print(f"Xoxoday emails the voucher of {order.po_number} to {order.email} again")
    return 0


def _write_output(path: str | None, write: Callable[[Any], None]) -> bool:
    """`write` to standard output, or to a new private file at `path` (bot/files.py: exports
    hold names, emails and amounts). False, after one line, when the file cannot be written."""
    if not path:
        write(sys.stdout)
        return True
    try:
        with private_text_file(path) as handle:
            write(handle)
    except OSError as exc:
        print(f"cannot write {path}: {exc.strerror or exc}", file=sys.stderr)
        return False
    return True


def cmd_orders_export(args: argparse.Namespace) -> int:
    from bot.runtime import open_db
    from services.csvcells import spreadsheet_safe
    from storage import orders

    if args.month is not None:
        return _finance_export(args)
    if args.format != "csv":
        print("rewards-bot orders export: --format json needs --month", file=sys.stderr)
        return 2
    database = open_db(settings_of(args))
    count = 0

    def write(out: Any) -> None:
        nonlocal count
        writer = csv.writer(out)
        writer.writerow(ORDER_COLUMNS)
        for row in orders.iter_all(database):
            writer.writerow([spreadsheet_safe(getattr(row, name)) for name in ORDER_COLUMNS])
            count += 1

    if not _write_output(args.output, write):
        return 2
    if args.output:
        print(f"wrote {count} order(s) to {args.output}", file=sys.stderr)
    return 0


def _finance_export(args: argparse.Namespace) -> int:
    """`orders export --month YYYY-MM`: services/finance.py's rows and totals, as CSV (every
    cell neutralised for spreadsheets) or JSON (money as exact numbers), written as they are
    read, like the full export: memory stays flat whatever the month's size."""
    from bot.runtime import open_db
    from services.finance import MonthError, Totals, month_rows, parse_month

    try:
        month = parse_month(args.month)
    except MonthError as exc:
        print(f"rewards-bot orders export: --month: {exc}", file=sys.stderr)
        return 2
    database = open_db(settings_of(args))
    totals = Totals()
    rows = (totals.add(row) for row in month_rows(database, month))
    count = 0

    def counted() -> Iterator[dict[str, Any]]:
        nonlocal count
        for row in rows:
            count += 1
            yield row

    def write(out: Any) -> None:
        if args.format == "json":
            write_month_json(out, month, counted(), totals)
        else:
            write_month_csv(out, counted(), totals)

    if not _write_output(args.output, write):
        return 2
    if args.output:
        print(f"wrote {count} order(s) of {month} to {args.output}", file=sys.stderr)
    return 0


def write_month_csv(out: Any, rows: Iterable[dict[str, Any]], totals: Any) -> None:
    """The rows, then a blank line and the totals under their own header; `totals` (a
    services.finance.Totals) is read once every row is written."""
    from services.csvcells import spreadsheet_safe
    from services.finance import COLUMNS, TOTAL_COLUMNS

    writer = csv.writer(out)
    writer.writerow(COLUMNS)
    for row in rows:
        writer.writerow([spreadsheet_safe(row[name]) for name in COLUMNS])
    writer.writerow([])  # the totals follow, under their own header
    writer.writerow(TOTAL_COLUMNS)
    for total in totals.rows():
        writer.writerow([spreadsheet_safe(total[name]) for name in TOTAL_COLUMNS])


def write_month_json(out: Any, month: str, rows: Iterable[dict[str, Any]], totals: Any) -> None:
    """`{"month": …, "orders": [...], "summary": {...}}`, the text plumbing.jsonutil.dumps
    gives the whole object, written an order at a time."""
    from plumbing.jsonutil import dumps

    out.write('{"month":' + dumps(month) + ',"orders":[')
    for n, row in enumerate(rows):
        out.write(("," if n else "") + dumps(row))
    summary = {
        f"by_{by}": [t for t in totals.rows() if t["by"] == by]
        for by in ("requester", "reward_type", "all")
    }
    out.write('],"summary":' + dumps(summary) + "}\n")
