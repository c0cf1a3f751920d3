"""`rewards-bot orders export --month`: a month with approvals, a delegate's approval, a
rejection, a cancellation and an order Xoxoday cancelled; rows and totals checked against
what the simulator charged."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest

from bot.cli import main
from bot.cli_orders import write_month_csv, write_month_json
from bot.runtime import Runtime
from plumbing.jsonutil import dumps
from services.finance import Totals, month_export, month_rows
from services.rewards import RewardSpec
from storage import orders as order_store
from storage.db import Database
from tests.lifecycle.conftest import APPROVER, charity, gift
from tests.support import SimControl, cli_env, rewards_bot

DELEGATE = "UAPPROVER2"
ANA, BEN = "UANA", "UBEN"


def zalando(email: str) -> RewardSpec:  # EUR, delayed: Xoxoday may still cancel it
    return RewardSpec(product_id=31002, denomination=Decimal(25), email=email)


def test_finance_export_of_a_month(
    xo: SimControl, make_runtime: Callable[..., Runtime], tmp_path: Path
) -> None:
    runtime = make_runtime()
    rewards, database = runtime.rewards, runtime.database
    r1 = rewards.create(
        ANA, [gift("a1@example.com", tag="@SUM(A1)"), gift("a2@example.com")], requester_name="Ana"
    )
    r2 = rewards.create(
        BEN,
        [gift("b1@example.com", "40", product=29877), charity("b2@example.com")],
        requester_name="=Ben",
    )
    r3 = rewards.create(ANA, [gift("a3@example.com")], requester_name="Ana")
    r4 = rewards.create(BEN, [gift("b3@example.com")], requester_name="=Ben")
    r5 = rewards.create(ANA, [zalando("a4@example.com")], requester_name="Ana")
    old = rewards.create(ANA, [gift("old@example.com")], requester_name="Ana")
    rewards.approve(r1.request.id, APPROVER)
    rewards.approve(r2.request.id, DELEGATE)
    # Issue 10 records the approver a delegate stood in for on the decision; until it lands
    # here, the decision event is given that record as it will be.
    database.execute(
        "UPDATE events SET data = json_set(data, '$.decided_for', ?) "
        "WHERE request_id = ? AND kind = 'request.approved'",
        [APPROVER, r2.request.id],
    )
    rewards.reject(r3.request.id, APPROVER, "not this time")
    rewards.cancel(r4.request.id, BEN)
    rewards.approve(r5.request.id, APPROVER)
    rewards.approve(old.request.id, APPROVER)
    # a request made last month belongs to last month's export
    database.execute(
        "UPDATE requests SET created_at = '2020-01-31T23:59:59.000+00:00' WHERE id = ?",
        [old.request.id],
    )
    runtime.worker.run(until_idle=True)
    [delayed] = order_store.for_request(database, r5.request.id)
    xo.deliver(delayed.po_number, "canceled")  # Xoxoday cancels it: the money comes back
    runtime.worker.run(until_settled=True)

    charged = {o["poNumber"]: Decimal(str(o["amountCharged"])) for o in xo.orders()}
    month = datetime.now(UTC).strftime("%Y-%m")
    env = cli_env(xo.base_url, Path(database.path))
    result = rewards_bot(env, "orders", "export", "--month", month)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    blank = lines.index("")
    rows = list(csv.DictReader(io.StringIO("\n".join(lines[:blank]))))
    totals = list(csv.DictReader(io.StringIO("\n".join(lines[blank + 1 :]))))

    by_po = {row["po_number"]: row for row in rows}
    ours = {o.po_number: o for o in order_store.iter_all(database)}
    expected_pos = {o.po_number for o in ours.values() if o.request_id != old.request.id}
    assert set(by_po) == expected_pos and len(rows) == 7  # not last month's
    for po, row in by_po.items():
        order = ours[po]
        assert row["request"] == f"R-{order.request_id}"
        assert row["xoxoday_order_id"] == str(order.xoxoday_order_id or "")
        assert row["state"] == order.state

    def rows_of(decision: object) -> list[dict[str, str]]:
        return [r for r in rows if r["request"] == decision.request.ref]  # type: ignore[attr-defined]

    for row in rows_of(r1):  # approved by the approver
        assert (row["requester"], row["requester_id"]) == ("Ana", ANA)
        assert (row["decision"], row["approver"], row["delegate"]) == ("approved", APPROVER, "")
        assert row["decided_at"].startswith(month)
        assert row["state"] == "delivered" and row["delivered_at"].startswith(month)
        assert Decimal(row["amount_charged"]) == charged[row["po_number"]]
        assert Decimal(row["discount"]) == Decimal("0.50")  # 2% of 25 (the product's)
        assert Decimal(row["net"]) == charged[row["po_number"]]
        assert row["face_value"] == "25" and row["face_currency"] == "USD"
        assert row["wallet_currency"] == "USD" and row["reward_type"] == "gift_card"
    assert sorted(r["tag"] for r in rows_of(r1)) == ["", "'@SUM(A1)"]  # no formula
    for row in rows_of(r2):  # a delegate approved in the approver's place
        assert row["requester"] == "'=Ben"
        assert (row["approver"], row["delegate"]) == (APPROVER, DELEGATE)
        assert Decimal(row["amount_charged"]) == charged[row["po_number"]]
    assert {r["reward_type"] for r in rows_of(r2)} == {"gift_card", "charity"}
    [rejected] = rows_of(r3)
    assert (rejected["decision"], rejected["approver"], rejected["state"]) == (
        "rejected",
        APPROVER,
        "withdrawn",
    )
    assert (rejected["amount_charged"], rejected["net"]) == ("", "0")
    [cancelled] = rows_of(r4)
    assert (cancelled["decision"], cancelled["approver"]) == ("cancelled", BEN)
    assert (cancelled["state"], cancelled["net"]) == ("withdrawn", "0")
    [refunded] = rows_of(r5)
    assert refunded["state"] == "canceled" and refunded["face_currency"] == "EUR"
    assert Decimal(refunded["amount_charged"]) == charged[delayed.po_number] > 0
    assert Decimal(refunded["refunded"]) == charged[delayed.po_number]
    assert Decimal(refunded["net"]) == 0

    # totals: per requester, per reward type, and all, from what the simulator charged
    def total(by: str, label: str) -> dict[str, str]:
        [found] = [t for t in totals if (t["by"], t["label"]) == (by, label)]
        return found

    spent_ana = sum(charged[r["po_number"]] for r in rows_of(r1))
    spent_ben = sum(charged[r["po_number"]] for r in rows_of(r2))
    ana, ben = total("requester", "Ana"), total("requester", "'=Ben")
    assert (ana["orders"], Decimal(ana["net"])) == ("4", spent_ana)
    assert Decimal(ana["amount_charged"]) == spent_ana + charged[delayed.po_number]
    assert Decimal(ana["refunded"]) == charged[delayed.po_number]
    assert (ben["orders"], Decimal(ben["net"]), Decimal(ben["refunded"])) == ("3", spent_ben, 0)
    charity_po = next(r["po_number"] for r in rows_of(r2) if r["reward_type"] == "charity")
    assert Decimal(total("reward_type", "charity")["net"]) == charged[charity_po]
    assert total("reward_type", "gift_card")["orders"] == "6"
    everything = total("all", "")
    assert everything["orders"] == "7" and everything["wallet_currency"] == "USD"
    assert Decimal(everything["net"]) == spent_ana + spent_ben

    # the same as JSON, money as exact numbers, totals in a summary object
    as_json = rewards_bot(env, "orders", "export", "--month", month, "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    document = json.loads(as_json.stdout, parse_float=Decimal)
    assert document["month"] == month and len(document["orders"]) == 7
    [all_json] = document["summary"]["by_all"]
    assert (all_json["orders"], all_json["net"]) == (7, spent_ana + spent_ben)
    assert {t["label"] for t in document["summary"]["by_requester"]} == {"Ana", "=Ben"}
    assert {t["key"] for t in document["summary"]["by_requester"]} == {ANA, BEN}

    # Streamed two requests at a time, the export is the text the whole month in memory
    # gives (issue 20: the month's export streams like the full one).
    whole = month_export(database, month)
    assert (result.stdout, as_json.stdout) == streamed(database, month, chunk=2)
    assert (
        as_json.stdout
        == dumps(
            {
                "month": month,
                "orders": whole.rows,
                "summary": {
                    f"by_{by}": [t for t in whole.totals if t["by"] == by]
                    for by in ("requester", "reward_type", "all")
                },
            }
        )
        + "\n"
    )

    # the month before holds only the request moved there
    earlier = month_export(database, "2020-01")
    assert [row["request"] for row in earlier.rows] == [old.request.ref]


def streamed(database: Database, month: str, chunk: int) -> tuple[str, str]:
    """The CSV and JSON exports as the CLI writes them, read `chunk` requests at a time."""
    texts = []
    for write in (write_month_csv, write_month_json):
        out, totals = io.StringIO(newline=None), Totals()
        rows = (totals.add(row) for row in month_rows(database, month, chunk=chunk))
        if write is write_month_json:
            write_month_json(out, month, rows, totals)
        else:
            write_month_csv(out, rows, totals)
        texts.append(out.getvalue().replace("\r\n", "\n"))
    return texts[0], texts[1]


def test_a_bad_month_is_one_clear_line(capsys: pytest.CaptureFixture[str]) -> None:
    # The month is read before anything else (no database, no settings needed).
    assert main(["--env-file", "/dev/null", "orders", "export", "--month", "11/2026"]) == 2
    assert capsys.readouterr().err.strip() == (
        "rewards-bot orders export: --month: '11/2026' is not a month; write it YYYY-MM, "
        "like 2026-11"
    )


def test_orders_placed_before_the_discount_column_get_it_from_the_stored_answers(
    tmp_path: Path,
) -> None:
    from storage.db import Database
    from storage.migrations import MIGRATIONS, migrate

    database = Database(tmp_path / "old.db")
    # the database as it was just before the discount column came
    before = next(i for i, m in enumerate(MIGRATIONS) if m.__name__.endswith("order_discount"))
    migrate(database, target=before)
    database.execute(
        "INSERT INTO requests (requester_id, source, state, total_cost, created_at, updated_at) "
        "VALUES ('U1', 'slack', 'approved', '49', '2026-01-01', '2026-01-01')"
    )
    for po, xo_id in (("RB-1", 11), ("RB-2", 12), ("RB-3", None)):
        database.execute(
            "INSERT INTO orders (request_id, po_number, state, reward_type, product_id, "
            "denomination, quantity, xoxoday_order_id, created_at, updated_at) "
            "VALUES (1, ?, 'placed', 'gift_card', 27222, '25', 1, ?, 'x', 'x')",
            [po, xo_id],
        )
    answers = [
        ("RB-1", "placeOrder", 500, '{"error": "boom"}'),
        (
            "RB-1",
            "getOrderDetails",
            200,
            '{"data": {"getOrderDetails": {"status": 1, '
            '"data": {"orderId": 11, "orderDiscount": "0.50"}}}}',
        ),
        (
            "RB-2",
            "placeOrder",
            200,
            '{"data": {"placeOrder": {"status": 1, "data": {"orderId": 12, "orderDiscount": ""}}}}',
        ),
    ]
    for po, op, status, body in answers:
        database.execute(
            "INSERT INTO api_calls (at, op, po_number, status, response) VALUES ('x', ?, ?, ?, ?)",
            [op, po, status, body],
        )
    migrate(database)
    found = dict(database.db.execute("SELECT po_number, order_discount FROM orders").fetchall())
    assert found == {"RB-1": "0.50", "RB-2": None, "RB-3": None}  # "" means none given
