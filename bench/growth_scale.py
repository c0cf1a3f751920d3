"""Years of history from the seed, by SQL: the growth bench's large database.

The seed (bench/growth_seed.py, made by the bot's own code) is copied `copies - 1` times into
a file that starts as the seed itself. Each copy is moved back in time (copy 1 about a month,
the last about 24 months), so the current month holds the seed alone and each past month about
a 24th of the rest. Copy c:
- adds c times the seed's largest id to every id (requests, orders, events, ledger lines) and
  to Xoxoday's order ids, and appends `-c` to poNumbers and `:c` to idempotency keys;
- renames the seed's people into one of GROUPS groups (UREQ001 becomes UREQ001G7, its email
  gets `.g7`): a thousand requesters and several thousand recipients, each with a few years of
  history; copies of group 0 keep the seed's names, so the seed's typical people have as much
  history as anyone else in the large file;
- keeps the heavy requester and recipient and the approvers as themselves: at a million orders
  they carry a hundred times the seed's history.

Only the project's own schema and indexes are used: the file is the seed's (migrated), and rows
go in through the same triggers as the bot's. The requests, orders, events and budget ledger
are copied; the request log (api_calls) is not. This is a bench tool, not the bot: its SQL
lives here rather than in storage/.
"""

from __future__ import annotations

import math
import shutil
import sqlite3
import time
from contextlib import closing
from pathlib import Path

from bench import growth_seed as seed
from storage import events, kv
from storage.db import Database
from storage.migrations import migrate

GROUPS = 25
FIRST_SHIFT_DAYS, LAST_SHIFT_DAYS = 31, 730
COPIED = ("requests", "orders", "events", "budget_ledger")
PEOPLE_PREFIXES = ("UREQ", "URCP")
KEPT_EMAILS = (f"{seed.HEAVY_RECIPIENT.lower()}@example.com",)


def _shifted_text(column: str) -> str:
    return f"strftime('%Y-%m-%dT%H:%M:%f+00:00', s.{column}, '-' || k.d || ' days')"


def _shifted_epoch(column: str) -> str:
    # 0 stands for "at once" (next_attempt_at's default), not a time: it stays 0.
    return f"CASE WHEN s.{column} > 0 THEN s.{column} - k.d * 86400.0 ELSE s.{column} END"


def _person(column: str) -> str:
    match = " OR ".join(f"s.{column} GLOB '{p}*'" for p in PEOPLE_PREFIXES)
    return f"CASE WHEN k.g != 0 AND ({match}) THEN s.{column} || 'G' || k.g ELSE s.{column} END"


def _email(column: str) -> str:
    kept = ", ".join(f"'{e}'" for e in KEPT_EMAILS)
    return (
        f"CASE WHEN k.g = 0 OR s.{column} IS NULL OR lower(s.{column}) IN ({kept}) "
        f"THEN s.{column} ELSE replace(s.{column}, '@', '.g' || k.g || '@') END"
    )


def _offset(column: str, table: str) -> str:
    return f"s.{column} + k.c * (SELECT MAX(id) FROM seed.{table})"


# How each copied column is rewritten; any other column is copied as it is.
REWRITES: dict[str, dict[str, str]] = {
    "requests": {
        "id": _offset("id", "requests"),
        "requester_id": _person("requester_id"),
        "idempotency_key": "s.idempotency_key || ':' || k.c",
        "created_at": _shifted_text("created_at"),
        "updated_at": _shifted_text("updated_at"),
        "decided_at": _shifted_text("decided_at"),
        "waiting_since": _shifted_text("waiting_since"),
        "escalated_at": _shifted_text("escalated_at"),
        "remind_at": _shifted_epoch("remind_at"),
        "escalate_at": _shifted_epoch("escalate_at"),
        "expires_at": _shifted_epoch("expires_at"),
    },
    "orders": {
        "id": _offset("id", "orders"),
        "request_id": _offset("request_id", "requests"),
        "po_number": "s.po_number || '-' || k.c",
        "recipient_id": _person("recipient_id"),
        "email": _email("email"),
        "xoxoday_order_id": "s.xoxoday_order_id + k.c * "
        "(SELECT MAX(xoxoday_order_id) FROM seed.orders)",
        "created_at": _shifted_text("created_at"),
        "updated_at": _shifted_text("updated_at"),
        "placed_at": _shifted_text("placed_at"),
        "settled_at": _shifted_text("settled_at"),
        "next_attempt_at": _shifted_epoch("next_attempt_at"),
        "next_poll_at": _shifted_epoch("next_poll_at"),
        "sent_at": _shifted_epoch("sent_at"),
    },
    "events": {
        "id": _offset("id", "events"),
        "at": _shifted_text("at"),
        "request_id": _offset("request_id", "requests"),
        "order_id": _offset("order_id", "orders"),
        "actor": _person("actor"),
    },
    "budget_ledger": {
        "id": _offset("id", "budget_ledger"),
        "at": _shifted_text("at"),
        "month": f"substr({_shifted_text('at')}, 1, 7)",
        "requester_id": _person("requester_id"),
        "request_id": _offset("request_id", "requests"),
        "order_id": _offset("order_id", "orders"),
    },
}


def copy_statement(conn: sqlite3.Connection, table: str, copies: int) -> str:
    """INSERT … SELECT of copies 1..copies-1 of the seed's `table`, copy by copy in id order
    (CROSS JOIN keeps the copies as the outer loop, so every index is appended to in order)."""
    columns = [row[1] for row in conn.execute(f"PRAGMA seed.table_info({table})")]
    rewrites = REWRITES[table]
    values = ", ".join(rewrites.get(c, f"s.{c}") for c in columns)
    span = max(copies - 2, 1)
    return (
        "WITH RECURSIVE k(c, d, g) AS ("
        f" SELECT 1, {FIRST_SHIFT_DAYS}, 1 % {GROUPS}"
        f" UNION ALL SELECT c + 1,"
        f" {FIRST_SHIFT_DAYS} + (c * {LAST_SHIFT_DAYS - FIRST_SHIFT_DAYS}) / {span},"
        f" (c + 1) % {GROUPS} FROM k WHERE c < {copies - 1})"
        f" INSERT INTO main.{table} ({', '.join(columns)})"
        f" SELECT {values} FROM k CROSS JOIN seed.{table} AS s"
    )


def build_large(seed_path: Path, dest: Path, orders: int, *, quiet: bool = False) -> dict:
    """`dest`: the seed and its copies, about `orders` orders in all. Returns the counts and
    the time each table took."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{dest}{suffix}").unlink(missing_ok=True)
    # A seed cached by an older release gets this release's schema (and whatever its
    # migrations fill in) before it is copied.
    database = Database(seed_path)
    migrate(database)
    database.close()
    shutil.copyfile(seed_path, dest)
    conn = sqlite3.connect(dest, isolation_level=None)
    try:
        seed_orders = int(conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0])
        copies = max(1, math.ceil(orders / seed_orders))
        conn.execute("PRAGMA journal_mode = OFF")
        conn.execute("PRAGMA synchronous = OFF")
        conn.execute("PRAGMA cache_size = -262144")  # 256 MB: the indexes stay in memory
        conn.execute("ATTACH DATABASE ? AS seed", [f"file:{seed_path}?mode=ro"])
        took: dict[str, float] = {}
        conn.execute("BEGIN")
        for table in COPIED:
            began = time.perf_counter()
            conn.execute(copy_statement(conn, table, copies))
            took[table] = time.perf_counter() - began
            if not quiet:
                print(f"  large: {table} copied in {took[table]:.1f} s", flush=True)
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE seed")
        conn.execute("PRAGMA journal_mode = WAL")
    finally:
        conn.close()
    notification_cursors(dest)
    return {"copies": copies, "counts": table_counts(dest), "took": took}


def table_counts(path: Path) -> dict[str, int]:
    """Rows in each copied table."""
    with closing(sqlite3.connect(path)) as conn:
        return {t: int(conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]) for t in COPIED}


def notification_cursors(path: Path) -> None:
    """Slack's notifier has told everyone about every event (its cursor at the last one); the
    log's cursor is at the very beginning (`rewards-bot worker` without Slack ran once, long
    ago), as on a deployment that tried the worker alone first. Both databases get the same."""
    database = Database(path)
    try:
        kv.put(database, "cursor.slack", str(events.last_id(database)))
        kv.put(database, "cursor.log", "0")
    finally:
        database.close()
