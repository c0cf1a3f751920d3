"""The query plans of the SQL the storage functions really issue, on a real SQLite file.

`issued(database)` records every statement the thread's connection runs (SQLite's trace
callback hands them over with their bound values written in); `scans(database, sql)` asks
SQLite how it would run one (EXPLAIN QUERY PLAN) and returns the steps that read a table
that grows with history from end to end, or sort rows they read: what would make the call
slower as the years go by.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator

from storage.db import Database

# Tables that grow with every request, order or event: a full scan of one is O(history).
GROWING = (
    "orders",
    "requests",
    "events",
    "budget_ledger",
    "api_calls",
    "webhooks",
    "chat_messages",
    "notification_steps",
    "audit_findings",
    "slack_digests",
    "slack_digest_requests",
    "choices",
)
_READS = re.compile(
    r"^\s*(SELECT|UPDATE|DELETE|WITH|INSERT\s+INTO\s+\S+\s*(\([^)]*\))?\s*SELECT)", re.I
)


@contextlib.contextmanager
def issued(database: Database) -> Iterator[list[str]]:
    """The statements this thread's connection runs meanwhile, bound values written in."""
    conn = database.db.conn
    seen: list[str] = []
    conn.set_trace_callback(seen.append)
    try:
        yield seen
    finally:
        conn.set_trace_callback(None)


def reads(statements: list[str]) -> list[str]:
    """The statements that read rows (not BEGIN, PRAGMA, plain INSERTs or schema look-ups)."""
    return [
        sql
        for sql in statements
        if _READS.match(sql) and "sqlite_master" not in sql and "pragma_" not in sql.lower()
    ]


def plan(database: Database, sql: str) -> list[str]:
    return [row[3] for row in database.db.conn.execute(f"EXPLAIN QUERY PLAN {sql}").fetchall()]


def scans(database: Database, sql: str) -> list[str]:
    """The steps of `sql`'s plan that grow with history: a SCAN of a growing table (also
    along an index: it still reads every entry) or a temporary B-tree to sort rows."""
    aliases = _aliases(sql)
    bad = []
    for step in plan(database, sql):
        match = re.match(r"SCAN (\w+)", step)
        scanned = match is not None and aliases.get(match.group(1), match.group(1)) in GROWING
        if scanned or step.startswith("USE TEMP B-TREE"):
            bad.append(step)
    return bad


def _aliases(sql: str) -> dict[str, str]:
    """`FROM orders o JOIN requests r` -> {"o": "orders", "r": "requests"}."""
    found = re.findall(r"(?:FROM|JOIN)\s+(\w+)(?:\s+(?:AS\s+)?(\w+))?", sql, re.I)
    return {alias: table for table, alias in found if alias and alias.upper() not in _WORDS}


_WORDS = {"WHERE", "JOIN", "ON", "LEFT", "INNER", "ORDER", "GROUP", "LIMIT", "USING", "SET"}


def unbounded(database: Database, statements: list[str]) -> dict[str, list[str]]:
    """Of `statements`, those whose plan grows with history, with the offending steps."""
    found = {}
    for sql in reads(statements):
        bad = scans(database, sql)
        if bad:
            found[sql] = bad
    return found
