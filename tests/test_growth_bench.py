"""The growth bench's builder at a tiny scale, so it cannot rot between `make bench` runs: a
seed made by the bot's services and worker against the simulator, copied by SQL into a
larger file that has exactly the project's schema, unique columns unique, people multiplied,
the heavy users kept and the copies spread over past months."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from bench.growth import growth_table
from bench.growth_measure import Figure, Measured
from bench.growth_scale import build_large, table_counts
from bench.growth_seed import HEAVY_REQUESTER, build_seed
from storage.schema import differences


def test_the_builder_copies_the_seed_into_months_of_history(tmp_path: Path) -> None:
    seed, large = tmp_path / "seed.db", tmp_path / "large.db"
    build_seed(seed, 60, quiet=True)
    seeded = table_counts(seed)
    assert seeded["orders"] == 60
    assert seeded["events"] > seeded["orders"] and seeded["budget_ledger"] >= 60

    built = build_large(seed, large, 600, quiet=True)

    assert built["copies"] == 10
    assert built["counts"] == {table: n * 10 for table, n in seeded.items()}
    with closing(sqlite3.connect(large)) as conn:
        assert differences(conn) == []  # the project's schema and indexes, nothing more
        one = conn.execute
        assert one("SELECT COUNT(DISTINCT po_number) FROM orders").fetchone()[0] == 600
        assert one("SELECT SUM(n) FROM order_state_counts").fetchone()[0] == 600
        this_month = datetime.now(UTC).strftime("%Y-%m")
        months = {m for (m,) in one("SELECT DISTINCT month FROM budget_ledger")}
        assert this_month in months and len(months) >= 8
        in_this_month = one(
            "SELECT COUNT(*) FROM orders WHERE created_at >= ?", [this_month]
        ).fetchone()[0]
        assert in_this_month == 60  # the seed alone: the copies are in the past
        heavy = one(
            "SELECT COUNT(*) FROM requests WHERE requester_id = ?", [HEAVY_REQUESTER]
        ).fetchone()[0]
        seed_heavy = sqlite3.connect(seed).execute(
            "SELECT COUNT(*) FROM requests WHERE requester_id = ?", [HEAVY_REQUESTER]
        )
        assert heavy == 10 * seed_heavy.fetchone()[0]
        requesters = one("SELECT COUNT(DISTINCT requester_id) FROM requests").fetchone()[0]
        seed_requesters = sqlite3.connect(seed).execute(
            "SELECT COUNT(DISTINCT requester_id) FROM requests"
        )
        assert requesters > seed_requesters.fetchone()[0]
        orphans = one(
            "SELECT COUNT(*) FROM budget_ledger l LEFT JOIN orders o ON o.id = l.order_id "
            "WHERE l.order_id IS NOT NULL AND o.id IS NULL"
        ).fetchone()[0]
        assert orphans == 0


def test_the_table_holds_each_ratio_against_its_goal() -> None:
    small, large = Measured(), Measured()
    small.figures.update(status_ref=Figure(0.001, 5), backup=Figure(0.1, 1))
    large.figures.update(status_ref=Figure(0.0012, 5), backup=Figure(2.0, 1))
    table, met = growth_table(small, large, 8_000, 1_000_000)
    assert met
    assert [row[3:] for row in table.rows] == [
        ["1.20x", "≤ 1.5x", "met"],
        ["20.00x", "grows with what it writes", "-"],
    ]
    large.figures["status_ref"] = Figure(0.002, 5)
    assert growth_table(small, large, 8_000, 1_000_000)[1] is False
