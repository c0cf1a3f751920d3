"""Operator CLI: bulk import (all or nothing), the worker alone, list, show, export, reconcile."""

from __future__ import annotations

import csv
import io
import subprocess
import time
from pathlib import Path

import pytest

from bot.runtime import Runtime
from services.bulk import BulkImportError, import_csv
from storage import orders as order_store
from tests.lifecycle.conftest import APPROVER, REQUESTER, gift, sim_po_counts
from tests.support import SimControl, cli_env, rewards_bot

HEADER = "productId,denomination,email,contact,loyaltyMemberId,topupPhoneCode,topupPhoneNumber,quantity,tag,notifyReceiverEmail"


def csv_rows(n: int) -> str:
    """n rows cycling through every reward type and product path."""
    templates = [
        "27222,25,p{i}@example.com,,,,,1,bulk,1",
        "29877,12.50,p{i}@example.com,,,,,,bulk,0",
        "31001,500,p{i}@example.com,,,,,,,",
        "31003,15,p{i}@example.com,+14705000000,,,,,,",
        "15365,50,p{i}@example.com,,EK-{i},,,,,",
        "40001,5,p{i}@example.com,,,,,,,",
        "55133,199,p{i}@example.com,,,+91,9857535678,,,",
        "31002,25,p{i}@example.com,,,,,2,,",
    ]
    lines = [HEADER] + [templates[i % len(templates)].format(i=i) for i in range(n)]
    return "\n".join(lines) + "\n"


def cli(xo: SimControl, db: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return rewards_bot(cli_env(xo.base_url, db), *args)


def test_fifty_rows_imported_and_placed_once_each_with_faults(
    xo: SimControl, tmp_path: Path
) -> None:
    db = tmp_path / "bulk.db"
    path = tmp_path / "rewards.csv"
    path.write_text(csv_rows(50))
    imported = cli(xo, db, "orders", "import", str(path), "--requester", "ops-alice")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("R-1: 50 order(s)")
    assert "approved" in imported.stdout

    for op, kind, times in [
        ("placeOrder", "http_500_after_commit", 3),
        ("placeOrder", "http_500_before_commit", 3),
        ("placeOrder", "malformed_json", 2),
        ("placeOrder", "rate_limit", 1),
        ("placeOrder", "out_of_stock", 2),
        ("placeOrder", "invalid_token", 1),
        ("getOrderDetails", "http_502", 2),
    ]:
        xo.fault(op, kind, times, penalty_seconds=1)
    worker = cli(xo, db, "worker", "--until-idle")
    assert worker.returncode == 0, worker.stderr

    listing = cli(xo, db, "orders", "list", "--limit", "100")
    assert "50 order(s)" in listing.stdout
    exported = cli(xo, db, "orders", "export")
    rows = list(csv.DictReader(io.StringIO(exported.stdout)))
    assert len(rows) == 50
    assert {r["state"] for r in rows} <= {"delivered", "placed"}
    assert sim_po_counts(xo) == {r["po_number"]: 1 for r in rows}  # 50 orders, each placed once


def test_a_bad_row_is_reported_by_line_and_nothing_is_queued(
    xo: SimControl, tmp_path: Path
) -> None:
    db = tmp_path / "bad.db"
    text = csv_rows(6).splitlines()
    text[2] = "27222,30,x@example.com,,,,,,,"  # line 3: not a denomination of the product
    text[5] = "15365,50,y@example.com,,,,,,,"  # line 6: miles without a loyalty member id
    text.append("abc,10,z@example.com,,,,,,,")  # line 8: not a product id
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(text) + "\n")
    result = cli(xo, db, "orders", "import", str(path), "--requester", "ops-alice")
    assert result.returncode == 1
    lines = result.stderr.strip().splitlines()
    progress = [line for line in lines if line.startswith("checking rows: ")]
    assert progress[-1].startswith("checking rows: 100% (6/6)")  # every row was checked
    assert [line for line in lines if not line.startswith("checking rows: ")] == [
        f"{path}: 3 problem(s) in the file; nothing was queued",
        "  line 3: Amazon.com eGift Card comes in 10, 25, 50, 100 USD, not 30",
        "  line 6: enter the recipient's loyalty member ID (letters, digits and dashes)",
        "  line 8: productId 'abc' is not a number",
    ]
    assert cli(xo, db, "orders", "list").stdout.strip().endswith("0 order(s):")
    assert xo.orders() == []


def test_the_same_file_is_imported_once(runtime: Runtime) -> None:
    text = csv_rows(3)
    first = import_csv(runtime.rewards, text, "ops-alice")
    from services.bulk import AlreadyImported

    with pytest.raises(AlreadyImported, match=f"already imported as {first.request.ref}"):
        import_csv(runtime.rewards, text, "ops-alice")
    again = import_csv(runtime.rewards, text, "ops-alice", again=True)
    assert again.request.id != first.request.id


def test_needs_approval_keeps_the_file_waiting(runtime: Runtime) -> None:
    decision = import_csv(runtime.rewards, csv_rows(2), "UREQUESTER", needs_approval=True)
    assert decision.request.state == "pending_approval"
    assert runtime.rewards.approve(decision.request.id, APPROVER).request.state == "approved"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("productId,denomination\n27222,10\n", "line 1: missing column(s) email"),
        (HEADER + ",color\n", "line 1: unknown column(s) color"),
        (HEADER + "\n", "the file has no rows"),
        (
            HEADER + "\n27222,10,a@example.com,,,+91,,,,\n",
            "line 2: topupPhoneCode and topupPhoneNumber go together",
        ),
        (
            HEADER + "\n27222,ten,a@example.com,,,,,,,\n",
            "line 2: denomination 'ten' is not an amount",
        ),
        (
            HEADER + "\n27222,10,a@example.com,,,,,0,,\n",
            "line 2: quantity '0' is not a whole number",
        ),
        (HEADER + "\n27222,10,,,,,,,,\n", "line 2: email is empty"),
        (HEADER + "\n27222,10,a@example.com,,,,,,,,extra\n", "line 2: more cells than columns"),
    ],
)
def test_file_problems_are_named(runtime: Runtime, text: str, message: str) -> None:
    with pytest.raises(BulkImportError) as info:
        import_csv(runtime.rewards, text, "ops-alice")
    assert message in str(info.value.errors[0])
    assert order_store.count_by_state(runtime.database) == {}


def test_show_prints_events_and_redacted_calls(runtime: Runtime, xo: SimControl) -> None:
    decision = runtime.rewards.create(REQUESTER, [gift()])
    runtime.rewards.approve(decision.request.id, APPROVER)
    runtime.worker.run(until_idle=True)
    [order] = order_store.for_request(runtime.database, decision.request.id)
    shown = cli(xo, runtime.settings.rewards_db, "orders", "show", order.po_number, "-v")
    assert shown.returncode == 0, shown.stderr
    assert "order.claimed" in shown.stdout and "order.delivered" in shown.stdout
    assert "placeOrder HTTP 200" in shown.stdout
    assert "[redacted]" in shown.stdout and "DEMO-" not in shown.stdout
    missing = cli(xo, runtime.settings.rewards_db, "orders", "show", "RB-NOPE")
    assert missing.returncode == 1 and "no order with poNumber RB-NOPE" in missing.stderr


def test_reconcile_looks_up_interrupted_orders(runtime: Runtime, xo: SimControl) -> None:
    decision = runtime.rewards.create(REQUESTER, [gift()])
    runtime.rewards.approve(decision.request.id, APPROVER)
    claimed = order_store.claim_next(runtime.database, "a-worker-that-died", time.time())
    assert claimed is not None and claimed.state == "placing"
    result = cli(xo, runtime.settings.rewards_db, "orders", "reconcile")
    assert result.returncode == 0, result.stderr
    assert "recovered 1 interrupted order(s)" in result.stdout
    # Not found, but the attempt may still be in flight (cli_env: a 2 s window): not trusted.
    assert order_store.get(runtime.database, claimed.id).state == "unknown"  # type: ignore[union-attr]
    time.sleep(2.1)
    cli(xo, runtime.settings.rewards_db, "orders", "reconcile")  # first trusted "not found"
    assert order_store.get(runtime.database, claimed.id).state == "unknown"  # type: ignore[union-attr]
    time.sleep(0.6)
    cli(xo, runtime.settings.rewards_db, "orders", "reconcile")  # the second one agrees
    assert order_store.get(runtime.database, claimed.id).state == "queued"  # type: ignore[union-attr]
    assert xo.orders() == []  # not found at Xoxoday: queued again, same poNumber
