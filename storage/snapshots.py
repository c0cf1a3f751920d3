"""Database files as whole files: a consistent copy while the bot writes, and what a copy
holds (integrity, schema, rows). bot/backup.py builds `rewards-bot backup` and `restore` on it.

A copy is taken with SQLite's online backup API (`sqlite3.Connection.backup`, i.e.
sqlite3_backup_step, https://www.sqlite.org/backup.html) in a single step: one read
transaction copies every page, so the copy is the database as it was at one instant, while
the bot goes on writing (in WAL mode a reader never blocks the writer). The copy is switched
to a rollback journal so it is one self-contained file, readable by its owner only: it holds
OAuth tokens.
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

from storage import schema
from storage.db import BUSY_TIMEOUT_MS, Database
from storage.migrations import MIGRATIONS

# Tables a rewards database has from its first version on: a file without them is not one.
REQUIRED_TABLES = ("requests", "orders", "events", "kv")


class BackupError(Exception):
    """One line for the operator: why the backup or restore did not happen."""


@dataclass
class Summary:
    """What a database file holds."""

    path: Path
    size: int
    schema_version: int
    integrity: str
    rows: dict[str, int] = field(default_factory=dict)
    orders_by_state: dict[str, int] = field(default_factory=dict)

    def lines(self) -> list[str]:
        rows = ", ".join(f"{name} {count}" for name, count in sorted(self.rows.items()))
        states = ", ".join(f"{k} {v}" for k, v in sorted(self.orders_by_state.items()))
        return [
            f"{self.path}: {self.size} bytes, schema version {self.schema_version}",
            f"integrity_check: {self.integrity}",
            f"rows: {rows}",
            f"orders by state: {states or 'none'}",
        ]


def _connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None)
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    return conn


def inspect(path: Path, *, exact_schema: bool = False, named: Path | None = None) -> Summary:
    """integrity_check and row counts of a database file (BackupError when it is not a
    sound rewards database; with `exact_schema`, also when its schema is not exactly the one
    its version has, storage/schema.py). Messages call the file `named` (the operator's file
    rather than the private copy being checked)."""
    shown = named or path
    try:
        conn = _connect(path)
        try:
            summary = _summarise(conn, shown, exact_schema)
        finally:
            conn.close()
    except sqlite3.Error as exc:  # every malformed file is one line, never a traceback
        raise BackupError(f"{shown} is not a readable SQLite database ({exc})") from None
    summary.size = path.stat().st_size
    return summary


def _summarise(conn: sqlite3.Connection, path: Path, exact_schema: bool) -> Summary:
    problems = [row[0] for row in conn.execute("PRAGMA integrity_check")]
    integrity = "ok" if problems == ["ok"] else "; ".join(str(p) for p in problems[:5])
    if integrity != "ok":
        raise BackupError(f"{path} fails integrity_check: {integrity}")
    tables = [
        str(row[0])
        for row in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' "
            "AND name NOT LIKE 'sqlite_%' ORDER BY name"
        )
    ]
    missing = [name for name in REQUIRED_TABLES if name not in tables]
    if missing:
        raise BackupError(f"{path} is not a rewards database (no {', '.join(missing)} table)")
    version = schema.schema_version(conn)
    if version > len(MIGRATIONS):
        raise BackupError(
            f"{path} is at schema version {version}, newer than this release "
            f"({len(MIGRATIONS)}); restore it with a newer rewards-bot"
        )
    if exact_schema:
        found = schema.differences(conn)
        if found:
            shown = ", ".join(found[:3]) + (f" and {len(found) - 3} more" if len(found) > 3 else "")
            raise BackupError(
                f"{path} is not a database this release writes at schema version {version}: {shown}"
            )
    rows = {
        name: int(conn.execute(f"SELECT COUNT(*) FROM {_quoted(name)}").fetchone()[0])
        for name in tables
    }
    states = dict(conn.execute("SELECT state, COUNT(*) FROM orders GROUP BY state").fetchall())
    return Summary(path, 0, version, integrity, rows, states)


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _private_file(path: Path) -> None:
    """Create `path` empty, readable and writable by its owner only (it will hold tokens): a
    new file, never an existing one or a link (it is renamed over the target once checked)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        raise BackupError(f"cannot create {path} ({exc.strerror or exc})") from None
    os.close(fd)


def copy(source: Path, target: Path) -> None:
    """A consistent copy of `source` into the new file `target`, as a single file."""
    _private_file(target)
    src = _connect(source)
    dst = _connect(target)
    try:
        # pages=-1: every page in one step, inside one read transaction: a snapshot. In
        # steps, a write by another connection between two steps restarts the copy, which
        # under a busy worker could go on for ever.
        src.backup(dst, pages=-1)
        dst.execute("PRAGMA journal_mode = DELETE")  # one file, no -wal beside it
    except sqlite3.OperationalError as exc:  # locked past the busy timeout, disk full…
        raise BackupError(f"could not copy {source} ({exc})") from None
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source} is not a readable SQLite database ({exc})") from None
    finally:
        dst.close()
        src.close()
    with open(target, "rb") as handle:
        os.fsync(handle.fileno())


def set_kv(path: Path, key: str, value: str) -> None:
    """Write one kv entry of the database file `path` (a copy not yet in place)."""
    conn = _connect(path)
    try:
        conn.execute("UPDATE kv SET value = ? WHERE key = ?", [value, key])
    finally:
        conn.close()


def keep_newer_tokens(current: Path, restored: Path) -> None:
    """The Xoxoday token pair is not history to roll back: every refresh rotates the refresh
    token and Xoxoday honours the old one for 6 hours at most (xoxoday-api.md §2.5, §12 row
    10), so the backup's pair may be dead. Where the database being replaced holds a newer
    pair (by when it was obtained), the restored one gets it."""
    has_tokens = "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'tokens'"
    old, new = _connect(current), _connect(restored)
    try:
        if not (old.execute(has_tokens).fetchone() and new.execute(has_tokens).fetchone()):
            return
        old.row_factory = sqlite3.Row
        for row in old.execute("SELECT * FROM tokens").fetchall():
            mine = new.execute(
                "SELECT obtained_at FROM tokens WHERE name = ?", [row["name"]]
            ).fetchone()
            if mine is not None and (mine[0] or 0) >= (row["obtained_at"] or 0):
                continue
            columns = list(row.keys())
            marks = ", ".join("?" for _ in columns)
            new.execute(
                f"INSERT OR REPLACE INTO tokens ({', '.join(columns)}) VALUES ({marks})",
                [row[c] for c in columns],
            )
        new.commit()
    finally:
        old.close()
        new.close()


def has_table(database: Database, name: str) -> bool:
    """Whether the open database has table `name` (a file never migrated has none)."""
    return bool(
        database.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", [name])
    )
