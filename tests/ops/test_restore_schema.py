"""Issue 16, finding 3: `restore` takes only a file whose schema is exactly what its version
creates, and refuses every malformed file in one line.

The attack: a trigger added to a backup re-addressed every later order to another email while
the approver saw the real recipient; a crafted table name ended `restore` in a traceback."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.backup import BackupError, restore
from bot.backup import backup as take_backup
from bot.runtime import Runtime
from storage.db import Database
from storage.migrations import MIGRATIONS, migrate
from tests.lifecycle.conftest import REQUESTER, gift
from tests.support import SimControl, cli_env, rewards_bot

READDRESS = (
    "CREATE TRIGGER readdress AFTER INSERT ON orders BEGIN "
    "UPDATE orders SET email = 'thief@example.com' WHERE id = NEW.id; END"
)


def tampered(source: Path, target: Path, *statements: str) -> Path:
    """A copy of the backup `source` with `statements` run on it."""
    target.write_bytes(source.read_bytes())
    conn = sqlite3.connect(target, isolation_level=None)
    try:
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()
    return target


def request_count(db: Path) -> int:
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        return int(conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0])


@pytest.fixture
def backed_up(make_runtime: Callable[..., Runtime], tmp_path: Path) -> tuple[Path, Path]:
    """A live database with one request, and a sound backup of it (the runtime closed)."""
    runtime = make_runtime()
    runtime.rewards.create(REQUESTER, [gift()], trusted=True)
    db = Path(runtime.database.path)
    take_backup(db, tmp_path / "sound.db")
    runtime.close()
    return db, tmp_path / "sound.db"


def test_a_backup_with_a_trigger_that_readdresses_orders_is_refused(
    backed_up: tuple[Path, Path], tmp_path: Path
) -> None:
    db, sound = backed_up
    evil = tampered(sound, tmp_path / "evil.db", READDRESS)
    with pytest.raises(BackupError) as refused:
        restore(evil, db)
    message = str(refused.value)
    assert "evil.db" in message and "an unexpected trigger 'readdress'" in message
    assert "\n" not in message
    with sqlite3.connect(f"file:{db}?mode=ro", uri=True) as conn:
        triggers = [
            r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='trigger'")
        ]
    assert "readdress" not in triggers
    assert not list(tmp_path.glob("rewards.db.before-restore-*"))  # nothing was swapped


@pytest.mark.parametrize(
    ("statements", "expected"),
    [
        (["CREATE VIEW wallet AS SELECT * FROM orders"], "an unexpected view 'wallet'"),
        (["CREATE INDEX sneaky ON orders (email)"], "an unexpected index 'sneaky'"),
        (["CREATE TABLE extra (a)"], "an unexpected table 'extra'"),
        (["ALTER TABLE orders ADD COLUMN redirect TEXT"], "a changed table 'orders'"),
        (["DROP INDEX idx_orders_po_number"], "no index 'idx_orders_po_number'"),
        (
            [
                "DROP TRIGGER orders_count_insert",
                "CREATE TRIGGER orders_count_insert AFTER INSERT ON orders BEGIN "
                "UPDATE orders SET email = 'thief@example.com' WHERE id = NEW.id; END",
            ],
            "a changed trigger 'orders_count_insert'",
        ),
        (["PRAGMA user_version = 7"], "schema version 7"),
        (["PRAGMA user_version = -1"], "schema version -1"),
    ],
)
def test_every_schema_difference_is_refused(
    backed_up: tuple[Path, Path], tmp_path: Path, statements: list[str], expected: str
) -> None:
    db, sound = backed_up
    evil = tampered(sound, tmp_path / "evil.db", *statements)
    with pytest.raises(BackupError, match=r"evil\.db") as refused:
        restore(evil, db)
    assert expected in str(refused.value) and "\n" not in str(refused.value)
    assert request_count(db) == 1


def test_malformed_files_are_refused_in_one_line_from_the_command_line(
    xo: SimControl, backed_up: tuple[Path, Path], tmp_path: Path
) -> None:
    db, sound = backed_up
    env = cli_env(xo.base_url, db)
    half = tmp_path / "half.db"
    half.write_bytes(sound.read_bytes()[: sound.stat().st_size // 2])
    empty = tmp_path / "empty.db"
    empty.touch()
    junk = tmp_path / "junk.db"
    junk.write_bytes(b"SQLite format 3\x00" + b"\xff" * 4000)
    files = [
        tampered(sound, tmp_path / "quote.db", 'CREATE TABLE "x""; DROP TABLE orders; --" (a)'),
        tampered(sound, tmp_path / "newer.db", f"PRAGMA user_version = {len(MIGRATIONS) + 1}"),
        tampered(sound, tmp_path / "nokv.db", "DROP TABLE kv"),
        half,
        empty,
        junk,
        tmp_path,  # a directory
    ]
    for path in files:
        result = rewards_bot(env, "restore", str(path))
        assert result.returncode == 1, (path, result.stdout)
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("rewards-bot restore: "), result.stderr
        assert "nothing was changed" in lines[0]
    assert request_count(db) == 1


def test_an_older_version_is_compared_with_what_that_version_creates(tmp_path: Path) -> None:
    older = tmp_path / "v8.db"
    database = Database(older)
    migrate(database, 8)
    database.close()
    assert restore(older, tmp_path / "a" / "rewards.db").summary.schema_version == 8

    # the delegations table arrives with version 9: in a version 8 file it was added by hand
    database = Database(tmp_path / "v8-plus.db")
    migrate(database, 8)
    database.execute("CREATE TABLE delegations (approver_id TEXT PRIMARY KEY, delegate_id TEXT)")
    database.close()
    with pytest.raises(BackupError, match="an unexpected table 'delegations'"):
        restore(tmp_path / "v8-plus.db", tmp_path / "b" / "rewards.db")
