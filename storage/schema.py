"""The schema a database file should have, compared with the one it has.

A file handed to `rewards-bot restore` is code as much as data: a trigger in it runs inside
every later write (one added to a backup re-addressed every later order to another email
while the approver saw the real recipient), a view or an extra index can shadow what the bot
reads. So a file is accepted only when its schema (tables, columns, indexes, triggers,
views) is exactly what this release's migrations create at that file's version, built afresh
in an in-memory database and compared entry by entry in `sqlite_master`.

SQL text is compared with identifier quoting and spacing ignored (`"id" INTEGER` and
`[id] INTEGER` are the same column), nothing else: a changed default, collation, constraint or
trigger body is a difference. `sqlite_stat1`/`sqlite_stat4` (written by `ANALYZE`, holding
statistics only) are tolerated in the exact form SQLite creates them.
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass
from functools import cache

from storage.db import Database
from storage.migrations import MIGRATIONS, migrate

# Tables SQLite itself creates, with the only SQL it gives them (https://www.sqlite.org/fileformat2.html).
_STATISTICS = {
    "sqlite_stat1": "CREATE TABLE sqlite_stat1(tbl,idx,stat)",
    "sqlite_stat4": "CREATE TABLE sqlite_stat4(tbl,idx,neq,nlt,ndlt,sample)",
}


@dataclass(frozen=True)
class Entry:
    """One row of `sqlite_master`, its SQL normalised."""

    type: str
    name: str
    table: str
    sql: str | None

    def describe(self) -> str:
        return f"{self.type} {self.name!r}"


def normalise(sql: str | None) -> str | None:
    """SQL text with identifier quotes and insignificant spaces taken out."""
    if sql is None:
        return None
    text = re.sub(r'["`\[\]]', "", sql)
    text = re.sub(r"\s+", " ", text).strip()
    return re.sub(r"\s*([(),])\s*", r"\1", text)


def entries_of(conn: sqlite3.Connection) -> dict[str, Entry]:
    """Every schema object of an open connection, by name."""
    rows = conn.execute("SELECT type, name, tbl_name, sql FROM sqlite_master").fetchall()
    return {
        str(name): Entry(str(kind), str(name), str(table), normalise(sql))
        for kind, name, table, sql in rows
    }


@cache
def expected_entries(version: int) -> dict[str, Entry]:
    """What the migrations create up to `version`, in a fresh in-memory database."""
    database = Database(":memory:")
    try:
        migrate(database, version)
        return entries_of(database.db.conn)
    finally:
        database.close()


def schema_version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def differences(conn: sqlite3.Connection) -> list[str]:
    """How the schema of `conn` differs from what its version should have (empty: none).

    A version this release does not know (newer, or negative) is itself the one difference."""
    version = schema_version(conn)
    if not 0 <= version <= len(MIGRATIONS):
        return [f"schema version {version}, which this release ({len(MIGRATIONS)}) never wrote"]
    expected = expected_entries(version)
    found = entries_of(conn)
    problems: list[str] = []
    for name, entry in sorted(found.items()):
        want = expected.get(name)
        if want is None:
            if entry.type == "table" and _STATISTICS.get(name) == entry.sql:
                continue
            problems.append(f"an unexpected {entry.describe()}")
        elif want != entry:
            problems.append(f"a changed {entry.describe()}")
    problems.extend(
        f"no {want.describe()}" for name, want in sorted(expected.items()) if name not in found
    )
    return problems
