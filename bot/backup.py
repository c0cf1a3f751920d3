"""`rewards-bot backup FILE` and `rewards-bot restore FILE`.

A backup is a consistent copy of the live database (storage/snapshots.py: SQLite's online
backup API, one read transaction, while the bot goes on writing), checked with
`PRAGMA integrity_check` and counted, and only then moved to FILE, readable by its owner only:
it holds OAuth tokens.

A restore refuses while a live worker holds the database (services/lease.py): stop the bot
and any `rewards-bot worker` first. It checks the file the same way before touching anything,
keeps the database it replaces beside it (`rewards.db.before-restore-<time>`), and frees the
worker lease recorded in the copy, so the next worker starts at once.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from services.lease import LEASE_KEY, Lease
from storage import snapshots
from storage.db import Database
from storage.snapshots import BackupError, Summary, inspect

__all__ = ["BackupError", "Restored", "Summary", "backup", "inspect", "restore"]


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
        snapshots.copy(source, partial)
        summary = snapshots.inspect(partial)
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
        snapshots.copy(backup_file, partial)
        summary = snapshots.inspect(partial, exact_schema=True, named=backup_file)
        _free_lease(partial)
        aside = _swap(partial, target) if target.exists() else _place(partial, target)
    finally:
        partial.unlink(missing_ok=True)
    summary.path = target
    return Restored(summary, aside)


def _free_lease(path: Path) -> None:
    """The copy may record the worker that held the database when it was taken: free it."""
    snapshots.set_kv(path, LEASE_KEY, json.dumps({"holder": None, "expires_at": 0}))


def _place(partial: Path, target: Path) -> None:
    os.replace(partial, target)
    return None


def _swap(partial: Path, target: Path) -> Path:
    """Replace the database at `target` (keeping it aside) while holding its worker lease."""
    database = Database(target)
    lease = Lease(database, f"restore-{os.getpid()}")
    try:
        # A file without the kv table (empty, never migrated) has no lease to hold.
        if snapshots.has_table(database, "kv") and not lease.try_acquire():
            holder = lease.holder_info() or {}
            raise BackupError(
                f"a worker is running on {target} ({holder.get('holder')} on "
                f"{holder.get('host')}, pid {holder.get('pid')}): stop the bot and any "
                "`rewards-bot worker` first, then restore"
            )
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        aside = target.with_name(f"{target.name}.before-restore-{stamp}")
        snapshots.copy(target, aside)  # the old database, its -wal included, as one file
        snapshots.keep_newer_tokens(aside, partial)
    finally:
        database.close()
    # The old -wal and -shm belong to the old file: a -wal left beside the new one would be
    # replayed into it. No worker runs (we held the lease); nothing else writes.
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            os.unlink(f"{target}{suffix}")
    os.replace(partial, target)
    return aside
