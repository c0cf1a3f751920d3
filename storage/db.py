"""The SQLite file: one connection per thread, WAL, a busy timeout, foreign keys, owner-only.

Writes that must happen together go through `Database.tx()`, which opens `BEGIN IMMEDIATE`
so two writers queue on the busy timeout instead of failing half-way through a transaction.
Inside it, sqlite-utils' own writes (`table.insert`, `atomic()`) become savepoints, so a row
and the state change that caused it commit or roll back together.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlite_utils

BUSY_TIMEOUT_MS = 15_000


def utcnow() -> str:
    """Timestamps are stored as ISO-8601 UTC text, which sorts and reads well."""
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class Database:
    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if str(self.path) != ":memory:":
            self._create_private(self.path)
        self._local = threading.local()
        self._all: list[sqlite3.Connection] = []
        self._lock = threading.Lock()

    @staticmethod
    def _create_private(path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Create the file ourselves, readable by its owner only, before SQLite opens it:
        # it holds OAuth tokens and the record of every payment.
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        os.close(fd)
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.chmod(f"{path}{suffix}", 0o600)

    def _connect(self) -> sqlite_utils.Database:
        conn = sqlite3.connect(
            str(self.path),
            timeout=BUSY_TIMEOUT_MS / 1000,
            isolation_level=None,  # autocommit; transactions are explicit
            check_same_thread=False,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys = ON")
        _enable_wal(conn)
        conn.execute("PRAGMA synchronous = NORMAL")  # durable across process crashes in WAL
        with self._lock:
            self._all.append(conn)
        return sqlite_utils.Database(conn, execute_plugins=False)

    @property
    def db(self) -> sqlite_utils.Database:
        """This thread's sqlite-utils Database."""
        db = getattr(self._local, "db", None)
        if db is None:
            db = self._local.db = self._connect()
        return db

    @contextlib.contextmanager
    def tx(self) -> Iterator[sqlite_utils.Database]:
        """A write transaction; nested calls join the outer one."""
        db = self.db
        if db.conn.in_transaction:
            with db.atomic():
                yield db
            return
        db.conn.execute("BEGIN IMMEDIATE")
        try:
            yield db
        except BaseException:
            if db.conn.in_transaction:
                db.conn.execute("ROLLBACK")
            raise
        else:
            db.conn.execute("COMMIT")

    @contextlib.contextmanager
    def snapshot(self) -> Iterator[sqlite_utils.Database]:
        """A read transaction: every read inside sees the database as of its first read (WAL),
        so figures read together agree. Inside another transaction, that one's view."""
        db = self.db
        if db.conn.in_transaction:
            yield db
            return
        db.conn.execute("BEGIN")
        try:
            yield db
        finally:
            if db.conn.in_transaction:
                db.conn.execute("COMMIT")

    def execute(self, sql: str, params: Any = ()) -> sqlite3.Cursor:
        return self.db.execute(sql, params)

    def query(self, sql: str, params: Any = ()) -> list[dict[str, Any]]:
        return list(self.db.query(sql, params))

    def one(self, sql: str, params: Any = ()) -> dict[str, Any] | None:
        rows = self.query(sql, params)
        return rows[0] if rows else None

    def scalar(self, sql: str, params: Any = ()) -> Any:
        row = self.db.execute(sql, params).fetchone()
        return row[0] if row else None

    def close(self) -> None:
        with self._lock:
            for conn in self._all:
                with contextlib.suppress(sqlite3.Error):
                    conn.close()
            self._all.clear()
        self._local = threading.local()


def fetch_one(db: sqlite_utils.Database, sql: str, params: Any = ()) -> dict[str, Any] | None:
    """First row of a statement (also UPDATE … RETURNING) as a dict, inside any transaction."""
    cursor = db.execute(sql, params)
    row = cursor.fetchone()
    if row is None:
        return None
    names = [column[0] for column in cursor.description]
    cursor.close()
    return dict(zip(names, row, strict=True))


def set_state(
    db: sqlite_utils.Database,
    table: str,
    row_id: int,
    from_states: list[str],
    to_state: str,
    fields: dict[str, Any] | None = None,
) -> dict[str, Any] | None:
    """The compare-and-set every transition is: the new row, or None if the state had moved on."""
    changes = {"state": to_state, "updated_at": utcnow(), **(fields or {})}
    assignments = ", ".join(f'"{name}" = ?' for name in changes)
    marks = ", ".join("?" for _ in from_states)
    return fetch_one(
        db,
        f'UPDATE "{table}" SET {assignments} WHERE id = ? AND state IN ({marks}) RETURNING *',
        [*changes.values(), row_id, *from_states],
    )


def _enable_wal(conn: sqlite3.Connection) -> None:
    """Switch a new database file to WAL, waiting out other connections doing the same.

    Changing the journal mode needs an exclusive lock, and SQLite may answer SQLITE_BUSY
    there without calling the busy handler (https://www.sqlite.org/wal.html, "Activating And
    Configuring WAL Mode"), so several processes opening a fresh file at once can see
    "database is locked". WAL is persistent: once any of them has set it, it is a no-op.
    """
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    delay = 0.01
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 0.25)
