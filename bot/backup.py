"""`rewards-bot backup FILE` and `rewards-bot restore FILE`.

A backup is taken with SQLite's online backup API (`sqlite3.Connection.backup`, i.e.
sqlite3_backup_step, https://www.sqlite.org/backup.html) in a single step: one read
transaction copies every page, so the copy is the database as it was at one instant, while
the bot goes on writing (in WAL mode a reader never blocks the writer). The copy is switched
to a rollback journal so it is one self-contained file, checked with `PRAGMA integrity_check`
and counted, and only then moved to FILE, readable by its owner only: it holds OAuth tokens.

A restore refuses while a live worker holds the database (services/lease.py): stop the bot
and any `rewards-bot worker` first. It checks the file the same way before touching anything,
keeps the database it replaces beside it (`rewards.db.before-restore-<time>`), and frees the
worker lease recorded in the copy, so the next worker starts at once.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from services.lease import LEASE_KEY, Lease
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


def _copy(source: Path, target: Path) -> None:
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


def _partial(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial-{os.getpid()}")


def backup(source: Path, dest: Path, *, force: bool = False) -> Summary:
    """Copy the live database `source` to `dest`, check it, and say what it holds."""
    if not source.is_file():
        raise BackupError(f"there is no database at {source} (REWARDS_DB)")
    if dest.exists() and dest.resolve() == source.resolve():
        raise BackupError(f"{dest} is the database itself; write the backup elsewhere")
    if dest.exists() and not force:
        raise BackupError(f"{dest} exists; choose another name or pass --force")
    dest.parent.mkdir(parents=True, exist_ok=True)
    partial = _partial(dest)
    partial.unlink(missing_ok=True)
    try:
        _copy(source, partial)
        summary = inspect(partial)
        os.replace(partial, dest)
    finally:
        partial.unlink(missing_ok=True)
    summary.path = dest
    return summary


@dataclass
class Restored:
    summary: Summary
    aside: Path | None  # where the database it replaced was kept


def restore(backup_file: Path, target: Path) -> Restored:
    """Put `backup_file` in place of the database `target`, unless a live worker holds it."""
    if not backup_file.is_file():
        raise BackupError(f"there is no file {backup_file}")
    partial = _partial(target)
    partial.unlink(missing_ok=True)
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        # Checked as a copy: the file itself is never opened for writing (nor its -wal made).
        _copy(backup_file, partial)
        summary = inspect(partial, exact_schema=True, named=backup_file)
        _free_lease(partial)
        aside = _swap(partial, target) if target.exists() else _place(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    summary.path = target
    return Restored(summary, aside)


def _free_lease(path: Path) -> None:
    """The copy may record the worker that held the database when it was taken: free it."""
    conn = _connect(path)
    try:
        conn.execute(
            "UPDATE kv SET value = ? WHERE key = ?",
            [json.dumps({"holder": None, "expires_at": 0}), LEASE_KEY],
        )
    finally:
        conn.close()


def _keep_newer_tokens(current: Path, restored: Path) -> None:
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


def _place(partial: Path, target: Path) -> None:
    os.replace(partial, target)
    return None


def _swap(partial: Path, target: Path) -> Path:
    """Replace the database at `target` (keeping it aside) while holding its worker lease."""
    database = Database(target)
    lease = Lease(database, f"restore-{os.getpid()}")
    try:
        # A file without the kv table (empty, never migrated) has no lease to hold.
        has_kv = database.scalar("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'kv'")
        if has_kv and not lease.try_acquire():
            holder = lease.holder_info() or {}
            raise BackupError(
                f"a worker is running on {target} ({holder.get('holder')} on "
                f"{holder.get('host')}, pid {holder.get('pid')}): stop the bot and any "
                "`rewards-bot worker` first, then restore"
            )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = target.with_name(f"{target.name}.before-restore-{stamp}")
        _copy(target, aside)  # the old database, its -wal included, as one file
        _keep_newer_tokens(aside, partial)
    finally:
        database.close()
    # The old -wal and -shm belong to the old file: a -wal left beside the new one would be
    # replayed into it. No worker runs (we held the lease); nothing else writes.
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{target}{suffix}")
    os.replace(partial, target)
    return aside
