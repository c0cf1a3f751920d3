"""The SQLite file itself: private, WAL, foreign keys, busy timeout, migrations that keep rows."""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
import threading
from pathlib import Path

import pytest

from services.notify import LoggingNotifier, NotificationDispatcher
from services.xoxoday.tokens import TokenSet
from storage import events, kv
from storage.db import Database
from storage.migrations import MIGRATIONS, current_version, migrate
from storage.models import EventRow
from storage.tokens import SqliteTokenStore


def test_file_is_private_wal_with_foreign_keys_and_a_busy_timeout(tmp_path: Path) -> None:
    database = Database(tmp_path / "sub" / "r.db")
    migrate(database)
    assert stat.S_IMODE(os.stat(database.path).st_mode) == 0o600
    assert database.scalar("PRAGMA journal_mode") == "wal"
    assert database.scalar("PRAGMA foreign_keys") == 1
    assert database.scalar("PRAGMA busy_timeout") >= 10_000
    with pytest.raises(sqlite3.IntegrityError):
        database.execute(
            "INSERT INTO orders (request_id, po_number, state, reward_type, product_id, denomination, "
            "quantity, created_at, updated_at) VALUES (999, 'PO', 'queued', 'gift_card', 1, '1', 1, 'x', 'x')"
        )
    database.close()


def test_po_number_is_unique(tmp_path: Path) -> None:
    database = Database(tmp_path / "r.db")
    migrate(database)
    database.execute(
        "INSERT INTO requests (id, requester_id, source, state, total_cost, created_at, updated_at) "
        "VALUES (1, 'U1', 'slack', 'approved', '1', 'x', 'x')"
    )
    row = "INSERT INTO orders (request_id, po_number, state, reward_type, product_id, denomination, quantity, created_at, updated_at) VALUES (1, 'PO-1', 'queued', 'gift_card', 1, '1', 1, 'x', 'x')"
    database.execute(row)
    with pytest.raises(sqlite3.IntegrityError):
        database.execute(row)


def test_a_database_from_the_first_migration_upgrades_in_place_keeping_rows(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    old = Database(path)
    assert migrate(old, target=1) == 1
    old.execute(
        "INSERT INTO requests (requester_id, source, state, total_cost, created_at, updated_at) "
        "VALUES ('U1', 'slack', 'approved', '24.50', '2026-01-01', '2026-01-01')"
    )
    old.execute(
        "INSERT INTO orders (request_id, po_number, state, reward_type, product_id, denomination, quantity, created_at, updated_at) "
        "VALUES (1, 'RB-OLD-1', 'delivered', 'gift_card', 27222, '25', 1, '2026-01-01', '2026-01-01')"
    )
    with old.tx() as db:
        events.append(db, "request.created", request_id=1, actor="U1")
    SqliteTokenStore(old).save(TokenSet("access-old", "refresh-old", obtained_at=1.0))
    before = {
        t: old.scalar(f"SELECT COUNT(*) FROM {t}")
        for t in ("requests", "orders", "events", "tokens")
    }
    old.close()

    upgraded = Database(path)
    assert migrate(upgraded) == len(MIGRATIONS)
    assert current_version(upgraded) == len(MIGRATIONS)
    after = {t: upgraded.scalar(f"SELECT COUNT(*) FROM {t}") for t in before}
    assert after == before
    assert upgraded.scalar("SELECT po_number FROM orders") == "RB-OLD-1"
    assert upgraded.db["chat_messages"].exists()  # added by a later migration
    assert upgraded.query("SELECT state, n FROM order_state_counts") == [
        {"state": "delivered", "n": 1}
    ]
    assert SqliteTokenStore(upgraded).load().refresh_token == "refresh-old"  # type: ignore[union-attr]
    assert migrate(upgraded) == len(MIGRATIONS)  # idempotent


def test_the_kinds_details_move_into_one_json_column(tmp_path: Path) -> None:
    """Migration 14: loyalty_member_id and phone had columns; they become orders.details."""
    database = Database(tmp_path / "details.db")
    assert migrate(database, target=13) == 13
    database.execute(
        "INSERT INTO requests (requester_id, source, state, total_cost, created_at, updated_at) "
        "VALUES ('U1', 'slack', 'approved', '99', 'x', 'x')"
    )
    columns = "request_id, po_number, state, reward_type, product_id, denomination, created_at, updated_at"
    for po, kind, extra, value in [
        ("RB-1", "airmiles", "loyalty_member_id", "EK-1"),
        ("RB-2", "topup", "phone", "+919857535678"),
        ("RB-3", "gift_card", "email", "ana@example.com"),
    ]:
        database.execute(
            f"INSERT INTO orders ({columns}, {extra}) VALUES (1, ?, 'placed', ?, 1, '1', 'x', 'x', ?)",
            [po, kind, value],
        )
    assert migrate(database) == len(MIGRATIONS)
    rows = {r["po_number"]: r for r in database.query("SELECT * FROM orders")}
    assert [rows[po]["details"] for po in ("RB-1", "RB-2", "RB-3")] == [
        '{"loyalty_member_id":"EK-1"}',
        '{"phone":"+919857535678"}',
        None,
    ]
    assert "phone" not in rows["RB-1"] and "loyalty_member_id" not in rows["RB-1"]


def test_a_newer_database_is_refused(tmp_path: Path) -> None:
    database = Database(tmp_path / "new.db")
    database.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer than this release"):
        migrate(database)


def test_concurrent_migrations_apply_once(tmp_path: Path) -> None:
    path = tmp_path / "race.db"
    results: list[int] = []

    def open_and_migrate() -> None:
        results.append(migrate(Database(path)))

    threads = [threading.Thread(target=open_and_migrate) for _ in range(5)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == [len(MIGRATIONS)] * 5


def test_order_state_counts_follow_every_change(tmp_path: Path) -> None:
    from storage.orders import count_by_state

    database = Database(tmp_path / "counts.db")
    migrate(database)
    database.execute(
        "INSERT INTO requests (id, requester_id, source, state, total_cost, created_at, updated_at) "
        "VALUES (1, 'U1', 'slack', 'approved', '1', 'x', 'x')"
    )
    for n in range(4):
        database.execute(
            "INSERT INTO orders (request_id, po_number, state, reward_type, product_id, denomination, quantity, created_at, updated_at) "
            f"VALUES (1, 'PO-{n}', 'queued', 'gift_card', 1, '1', 1, 'x', 'x')"
        )
    database.execute("UPDATE orders SET state = 'placed' WHERE po_number IN ('PO-0', 'PO-1')")
    database.execute("UPDATE orders SET updated_at = 'y'")  # not a state change
    database.execute("DELETE FROM orders WHERE po_number = 'PO-3'")
    counted = {
        r["state"]: r["n"]
        for r in database.query("SELECT state, COUNT(*) AS n FROM orders GROUP BY state")
    }
    assert count_by_state(database) == counted == {"placed": 2, "queued": 1}


def test_compare_and_set(tmp_path: Path) -> None:
    database = Database(tmp_path / "kv.db")
    migrate(database)
    assert kv.compare_and_set(database, "k", None, "1")
    assert not kv.compare_and_set(database, "k", None, "2")
    assert kv.compare_and_set(database, "k", "1", "2")
    assert kv.get(database, "k") == "2"


class Recorder:
    def __init__(self, fail_times: int = 0) -> None:
        self.seen: list[EventRow] = []
        self.fail_times = fail_times

    def notify(self, event: EventRow) -> None:
        if self.fail_times:
            self.fail_times -= 1
            raise ConnectionError("Slack is down")
        self.seen.append(event)


def test_notifications_are_delivered_in_order_once_and_survive_a_restart(tmp_path: Path) -> None:
    database = Database(tmp_path / "n.db")
    migrate(database)
    first = Recorder()
    dispatcher = NotificationDispatcher(database, first, "slack")
    dispatcher.cursor()  # starts at the current end of the log
    with database.tx() as db:
        events.append(db, "request.created", request_id=1)
        events.append(db, "order.claimed", order_id=1)  # bookkeeping: not notified
        events.append(db, "order.placed", order_id=1)
    assert dispatcher.dispatch() == 3
    assert [e.kind for e in first.seen] == ["request.created", "order.placed"]
    assert dispatcher.dispatch() == 0

    # Slack fails once: the event waits for another try, later events go on meanwhile.
    flaky = Recorder(fail_times=1)
    again = NotificationDispatcher(database, flaky, "slack", retry_first_s=0)
    with database.tx() as db:
        events.append(db, "order.delivered", order_id=1)
        events.append(db, "order.delivered", order_id=2)
    assert again.dispatch() == 2
    assert [e.order_id for e in flaky.seen] == [2]
    # A restart in between: the try that is owed is in the database, not in memory.
    restarted = NotificationDispatcher(database, flaky, "slack", retry_first_s=0)
    assert restarted.dispatch() == 1
    assert [e.order_id for e in flaky.seen] == [2, 1]
    assert restarted.dispatch() == 0


def test_each_consumer_has_its_own_cursor(tmp_path: Path) -> None:
    database = Database(tmp_path / "c.db")
    migrate(database)
    slack, log_only = Recorder(), Recorder()
    slack_dispatcher = NotificationDispatcher(database, slack, "slack")
    log_dispatcher = NotificationDispatcher(database, log_only, "log")
    slack_dispatcher.cursor()
    log_dispatcher.cursor()
    with database.tx() as db:
        events.append(db, "order.delivered", order_id=1)
    assert log_dispatcher.dispatch() == 1  # `rewards-bot worker` without Slack…
    assert slack_dispatcher.dispatch() == 1  # …does not use up what Slack has to show
    assert [e.kind for e in slack.seen] == [e.kind for e in log_only.seen] == ["order.delivered"]


def test_logging_notifier_writes_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="rewards.events")
    LoggingNotifier().notify(
        EventRow(
            id=1,
            at="t",
            kind="order.failed",
            request_id=3,
            order_id=7,
            actor="w",
            reason="out of stock",
        )
    )
    assert caplog.messages == ["order.failed R-3 order 7 by w: out of stock"]
