"""`rewards-bot`: the bot, its worker, the simulator, the demo and the operator's commands."""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path

from bot.cli_common import counts, settings_of
from bot.cli_orders import add_orders_commands
from bot.config import LOG_LEVELS, ConfigError
from bot.logs import setup_logging
from services.xoxoday.errors import XoxodayError

log = logging.getLogger("rewards-bot")


def _stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, _frame: object) -> None:
        log.info("signal %s: stopping", signum)
        stop.set()

    signal.signal(signal.SIGTERM, handler)
    signal.signal(signal.SIGINT, handler)


# --- commands -----------------------------------------------------------------------------------


def cmd_simulator(args: argparse.Namespace) -> int:
    from simulator.xoxoday import config_from_args, serve

    setup_logging(args.log_level or "INFO")
    serve(args.host, args.port, config_from_args(args))
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from bot.runtime import build_runtime

    settings = settings_of(args)
    runtime = build_runtime(settings)
    if settings.slack_bot_token is not None:
        # The worker alone still tells Slack: it only needs the Web API, not Slack's requests.
        from bot.serve import attach_slack_notifier
        from handlers.app import web_client
        from handlers.users import UserDirectory

        client = web_client(
            settings.slack_bot_token.get_secret_value(),
            settings.slack_api_url,
            on_error=runtime.metrics.slack_error,
        )
        attach_slack_notifier(runtime, UserDirectory(client))
    notifications = runtime.notifications
    if notifications is not None:
        notifications.start()  # its own threads: Slack never stalls the worker's rounds
    stop = threading.Event()
    _stop_on_signals(stop)
    worker = runtime.worker
    threading.Thread(target=lambda: (stop.wait(), worker.stop()), daemon=True).start()
    try:
        if args.until_idle or args.until_settled:
            from bot.progress import Watcher, placement_progress, reporter

            # A bar in a terminal, a line per tenth otherwise (bot/progress.py).
            progress = reporter("placing orders", log_format=settings.log_format)
            with Watcher(placement_progress(runtime.database), progress):
                worker.run(until_idle=args.until_idle, until_settled=args.until_settled)
        else:
            worker.run()
    finally:
        if notifications is not None:
            notifications.run_until_idle(timeout=30)  # tell what this run owes, then stop
            notifications.stop()
        by_state = counts(runtime)
        print(f"worker stopped; orders by state: {by_state}")
        runtime.close()
    return 0


def cmd_backup(args: argparse.Namespace) -> int:
    from bot.backup import BackupError, backup

    settings = settings_of(args)
    try:
        summary = backup(Path(settings.rewards_db), Path(args.file), force=args.force)
    except BackupError as exc:
        print(f"rewards-bot backup: {exc}", file=sys.stderr)
        return 1
    print(f"backed up {settings.rewards_db} to {args.file}")
    for line in summary.lines():
        print(line)
    return 0


def cmd_restore(args: argparse.Namespace) -> int:
    from bot.backup import BackupError, restore

    settings = settings_of(args)
    try:
        restored = restore(Path(args.file), Path(settings.rewards_db))
    except BackupError as exc:
        print(f"rewards-bot restore: {exc}; nothing was changed", file=sys.stderr)
        return 1
    print(f"restored {args.file} to {settings.rewards_db}")
    if restored.aside is not None:
        print(f"the database it replaced is kept as {restored.aside}")
    for line in restored.summary.lines():
        print(line)
    return 0


def cmd_audit(args: argparse.Namespace) -> int:
    """`rewards-bot audit [--day YYYY-MM-DD]`: the day's orders and payments at Xoxoday
    against the record (services/audit.py). Exit 0 when the books match, 1 when they differ,
    2 when the day is malformed or Xoxoday could not be read."""
    from datetime import UTC, date, datetime, timedelta

    from bot.runtime import build_runtime

    if args.day is None:
        day = datetime.now(UTC).date() - timedelta(days=1)
    else:
        try:
            day = date.fromisoformat(args.day)
        except ValueError:
            print(f"rewards-bot audit: --day {args.day!r} is not YYYY-MM-DD", file=sys.stderr)
            return 2
        if day > datetime.now(UTC).date():
            print(f"rewards-bot audit: --day {day} has not happened yet", file=sys.stderr)
            return 2
    runtime = build_runtime(settings_of(args))
    try:
        report = runtime.auditor.run(day, actor="cli")
    except XoxodayError as exc:
        print(f"rewards-bot audit: could not read Xoxoday's books: {exc}", file=sys.stderr)
        return 2
    finally:
        runtime.close()
    for line in report.lines():
        print(line)
    return 0 if report.clean else 1


def cmd_catalog_refresh(args: argparse.Namespace) -> int:
    from bot.runtime import build_runtime

    runtime = build_runtime(settings_of(args))
    try:
        by_kind = runtime.catalog.refresh()
    finally:
        runtime.close()
    print(json.dumps(by_kind))
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    from bot.demo import run_demo

    return run_demo(verbose=args.verbose)


def cmd_run(args: argparse.Namespace) -> int:
    from bot.serve import run_bot

    return run_bot(settings_of(args))


# --- parser ------------------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rewards-bot", description="Send rewards from Slack through Xoxoday's Plum Pro API."
    )
    parser.add_argument("--env-file", default=".env", help="dotenv file to read (default .env)")
    parser.add_argument(
        "--log-level",
        choices=LOG_LEVELS,
        type=str.upper,
        help="TRACE is DEBUG for every library too: unsafe, voucher codes may reach the log",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    def command(
        name: str, func: Callable[[argparse.Namespace], int], help_text: str
    ) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help_text, description=help_text)
        p.set_defaults(func=func)
        return p

    command(
        "run", cmd_run, "run the bot: Socket Mode when SLACK_APP_TOKEN is set, else HTTP on $PORT"
    )

    from simulator.xoxoday import add_arguments

    add_arguments(command("simulator", cmd_simulator, "run the bundled Xoxoday simulator"))

    demo = command("demo", cmd_demo, "the whole flow on embedded defaults, no credentials")
    demo.add_argument("--verbose", action="store_true", help="show the services' log lines")

    worker = command("worker", cmd_worker, "run the placement and tracking worker alone")
    worker.add_argument(
        "--until-idle", action="store_true", help="exit once nothing is queued, placing or unknown"
    )
    worker.add_argument(
        "--until-settled",
        action="store_true",
        help="like --until-idle, and also wait for placed orders to be delivered or cancelled "
        "(polling Xoxoday; delayed products can take days: for scripts and the simulator)",
    )
    worker.add_argument("--db", help="SQLite file (default $REWARDS_DB)")

    add_orders_commands(command)

    backup = command(
        "backup", cmd_backup, "a consistent copy of the database, taken while the bot runs"
    )
    backup.add_argument("file", help="where to write the copy (a new file)")
    backup.add_argument("--force", action="store_true", help="overwrite FILE if it exists")
    backup.add_argument("--db", help="SQLite file (default $REWARDS_DB)")
    restore = command(
        "restore",
        cmd_restore,
        "put a backup in place of the database (refused while a worker runs on it)",
    )
    restore.add_argument("file", help="a file written by `rewards-bot backup`")
    restore.add_argument("--db", help="SQLite file to replace (default $REWARDS_DB)")

    audit = command(
        "audit",
        cmd_audit,
        "match a day's orders and payments at Xoxoday (order history, payment report) against "
        "the record by poNumber; print and alert what differs",
    )
    audit.add_argument("--day", help="YYYY-MM-DD, UTC (default: yesterday)")
    audit.add_argument("--db", help="SQLite file (default $REWARDS_DB)")

    catalog = command("catalog", lambda a: 2, "the cached Xoxoday catalog")
    catalog_sub = catalog.add_subparsers(dest="catalog_command", required=True)
    refresh = catalog_sub.add_parser("refresh", help="fetch the catalog from Xoxoday now")
    refresh.set_defaults(func=cmd_catalog_refresh)
    refresh.add_argument("--db", help="SQLite file (default $REWARDS_DB)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ConfigError as exc:
        print(f"rewards-bot: configuration error: {exc}", file=sys.stderr)
        return 2
    except XoxodayError as exc:
        print(f"rewards-bot: Xoxoday: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:  # a file or folder the operator named: one line, not a traceback
        where = f"{exc.filename}: " if exc.filename else ""
        print(f"rewards-bot: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
