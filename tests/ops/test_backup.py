"""Backups taken while the worker places orders, and restores that refuse a live worker."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.backup import BackupError, inspect, restore
from bot.backup import backup as take_backup
from bot.runtime import Runtime
from storage import orders as order_store
from tests.lifecycle.conftest import REQUESTER, gift, sim_po_counts
from tests.support import SimControl, cli_env, rewards_bot, wait_for

DONE = ("placed", "delivered")


def read_only(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    conn.row_factory = sqlite3.Row
    return conn


def test_a_backup_taken_while_the_worker_places_200_orders(
    xo: SimControl, make_runtime: Callable[..., Runtime], tmp_path: Path
) -> None:
    runtime = make_runtime()
    xo.config(latency_ms=40)  # 200 orders, 4 at a time: a few seconds of placing
    specs = [gift(f"p{i}@example.com") for i in range(200)]
    runtime.rewards.create(REQUESTER, specs, requester_name="ops", source="csv", trusted=True)
    runtime.worker.start()
    database = runtime.database
    wait_for(lambda: sum(order_store.count_by_state(database).get(s, 0) for s in DONE) >= 20)

    # What the database holds as the backup begins (taken on this thread while the worker's
    # threads write through their own connections).
    before = {row["id"]: row for row in database.query("SELECT * FROM orders")}
    copy = tmp_path / "backup.db"
    summary = take_backup(Path(database.path), copy)
    placed_before = [o for o in before.values() if o["state"] in DONE]
    assert 0 < len(placed_before) < 200  # the backup began while the worker was placing

    assert summary.integrity == "ok" and summary.rows["orders"] == 200
    assert inspect(copy).integrity == "ok"  # the file as written, checked again
    with read_only(copy) as conn:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "delete"  # one file
        backed = {row["id"]: row for row in conn.execute("SELECT * FROM orders")}
        # every order recorded before it began, with its poNumber
        assert {i: o["po_number"] for i, o in before.items()} == {
            i: o["po_number"] for i, o in backed.items()
        }
        # what was placed before it began is placed in it, with Xoxoday's order id
        for order in placed_before:
            kept = backed[order["id"]]
            assert kept["state"] in DONE
            assert kept["xoxoday_order_id"] == order["xoxoday_order_id"]
        # one instant: the counts the triggers keep match the rows, and every placed order
        # has its event (a copy torn between two writes would break one or the other)
        counted = dict(conn.execute("SELECT state, n FROM order_state_counts WHERE n > 0"))
        actual = dict(conn.execute("SELECT state, COUNT(*) FROM orders GROUP BY state"))
        assert counted == actual
        placed_ids = {i for i, o in backed.items() if o["xoxoday_order_id"] is not None}
        with_event = {
            row[0]
            for row in conn.execute("SELECT order_id FROM events WHERE kind = 'order.placed'")
        }
        assert placed_ids == with_event
    assert copy.stat().st_mode & 0o077 == 0  # it holds tokens: owner only

    runtime.worker.drain()
    wait_for(lambda: runtime.worker.is_idle())
    assert sorted(sim_po_counts(xo).values()) == [1] * 200  # the backup disturbed nothing


def test_backup_and_restore_from_the_command_line(
    xo: SimControl, make_runtime: Callable[..., Runtime], tmp_path: Path
) -> None:
    runtime = make_runtime()
    db = Path(runtime.database.path)
    env = cli_env(xo.base_url, db)
    runtime.rewards.create(REQUESTER, [gift(), gift("ben@example.com")], trusted=True)
    worker = threading.Thread(target=runtime.worker.run, daemon=True)
    worker.start()
    wait_for(lambda: runtime.worker.lease.holder_info() is not None and runtime.worker.is_idle())

    taken = rewards_bot(env, "backup", str(tmp_path / "nightly.db"))
    assert taken.returncode == 0, taken.stderr
    assert f"backed up {db} to {tmp_path / 'nightly.db'}" in taken.stdout
    assert "integrity_check: ok" in taken.stdout
    assert "orders 2," in taken.stdout and "requests 1," in taken.stdout
    with pytest.raises(BackupError, match="exists; choose another name or pass --force"):
        take_backup(db, tmp_path / "nightly.db")  # never overwritten by surprise

    # a live worker holds the database: no restore
    refused = rewards_bot(env, "restore", str(tmp_path / "nightly.db"))
    assert refused.returncode == 1
    assert "a worker is running" in refused.stderr and "nothing was changed" in refused.stderr
    assert "Traceback" not in refused.stderr

    runtime.worker.stop()
    worker.join(timeout=10)
    runtime.rewards.create(REQUESTER, [gift("cho@example.com")], trusted=True)  # after it
    restored = rewards_bot(env, "restore", str(tmp_path / "nightly.db"))
    assert restored.returncode == 0, restored.stderr
    assert "integrity_check: ok" in restored.stdout
    [aside] = list(tmp_path.glob("rewards.db.before-restore-*"))
    assert f"kept as {aside}" in restored.stdout
    with read_only(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 1
        lease = conn.execute("SELECT value FROM kv WHERE key = 'worker.lease'").fetchone()
        assert '"holder": null' in lease[0]  # the next worker starts at once
    with read_only(aside) as conn:
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 2

    junk = tmp_path / "junk.db"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(BackupError, match=r"junk\.db is not a readable SQLite database"):
        restore(junk, db)
    with read_only(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM requests").fetchone()[0] == 1


def test_restoring_an_older_backup_pays_no_order_twice(
    xo: SimControl, make_runtime: Callable[..., Runtime], tmp_path: Path
) -> None:
    """The README's promise: orders the backup still shows as queued were placed since; the
    worker tries them again with the same poNumber, Xoxoday refuses it as a duplicate, and
    the lookup adopts the order that exists."""
    runtime = make_runtime()
    db = Path(runtime.database.path)
    specs = [gift(f"q{i}@example.com") for i in range(5)]
    runtime.rewards.create(REQUESTER, specs, trusted=True)
    take_backup(db, tmp_path / "queued.db")  # all five still queued in it
    runtime.worker.run(until_idle=True)
    assert sorted(sim_po_counts(xo).values()) == [1] * 5
    runtime.close()

    restore(tmp_path / "queued.db", db)
    again = make_runtime()
    assert order_store.count_by_state(again.database) == {"queued": 5}
    again.worker.run(until_idle=True)
    assert order_store.count_by_state(again.database) == {"delivered": 5}
    assert sorted(sim_po_counts(xo).values()) == [1] * 5  # nothing paid twice
    adopted = again.database.query(
        "SELECT COUNT(*) AS n FROM events WHERE kind = 'order.placed' "
        "AND reason = 'found at Xoxoday by poNumber'"
    )
    assert adopted == [{"n": 5}]


def test_restore_onto_an_empty_file_or_no_file(
    make_runtime: Callable[..., Runtime], tmp_path: Path
) -> None:
    runtime = make_runtime()
    runtime.rewards.create(REQUESTER, [gift()], trusted=True)
    take_backup(Path(runtime.database.path), tmp_path / "one.db")
    empty = tmp_path / "empty" / "rewards.db"
    empty.parent.mkdir()
    empty.touch()
    assert restore(tmp_path / "one.db", empty).aside is not None
    fresh = tmp_path / "fresh" / "rewards.db"
    assert restore(tmp_path / "one.db", fresh).aside is None
    for path in (empty, fresh):
        with read_only(path) as conn:
            assert conn.execute("SELECT COUNT(*) FROM orders").fetchone()[0] == 1
