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
        "  line 6: Enter the recipient's loyalty member ID.",
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


def test_the_same_rows_saved_again_by_a_spreadsheet_are_imported_once(runtime: Runtime) -> None:
    from services.bulk import AlreadyImported

    rows = ["productId,denomination,email", "27222,25,ana@example.com", "29877,10,ben@example.com"]
    first = import_csv(runtime.rewards, "\n".join(rows), "ops-alice")
    resaved = {
        "CRLF and a trailing newline": "\r\n".join(rows) + "\r\n",
        "a trailing blank line": "\n".join(rows) + "\n\n",
        "quoted cells, spaces, 25.00": (
            'productId, denomination ,email\n"27222",25.00, ana@example.com\n29877,10.0,ben@example.com'
        ),
        "columns in another order": (
            "email,productId,denomination\nana@example.com,27222,25\nben@example.com,29877,10\n"
        ),
    }
    for why, text in resaved.items():
        with pytest.raises(AlreadyImported, match=first.request.ref):
            import_csv(runtime.rewards, text, "ops-alice")
        assert len(runtime.database.query("SELECT id FROM requests")) == 1, why
    # Other rows, the same rows in another order, or another requester: a new import.
    swapped = "\n".join([rows[0], rows[2], rows[1]])
    for text, requester in (("\n".join(rows[:2]), "ops-alice"), (swapped, "ops-alice")):
        assert import_csv(runtime.rewards, text, requester).request.id != first.request.id
    assert import_csv(runtime.rewards, "\n".join(rows), "ops-bob").request.id != first.request.id


def test_a_file_imported_before_rows_were_compared_is_still_known(runtime: Runtime) -> None:
    """Requests recorded by the raw-text key of the previous release still stop a repeat."""
    import hashlib

    from services.bulk import AlreadyImported

    text = csv_rows(2)
    legacy = "csv:" + hashlib.sha256(("ops-alice\n" + text).encode()).hexdigest()[:32]
    old = runtime.rewards.create(
        "ops-alice",
        [gift(), gift("ben@example.com")],
        source="csv",
        idempotency_key=legacy,
        trusted=True,
    )
    with pytest.raises(AlreadyImported, match=old.request.ref):
        import_csv(runtime.rewards, text, "ops-alice")


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
    db = runtime.settings.rewards_db
    # An hour's in-flight window, and time moved by rewriting when things were heard, so the
    # steps do not depend on how fast the machine starts a process (over 30 s at load 28).
    env = cli_env(xo.base_url, db, XOXODAY_PLACE_ORDER_TIMEOUT_S="3600")

    def reconcile() -> str:
        result = rewards_bot(env, "orders", "reconcile")
        assert result.returncode == 0, result.stderr
        return result.stdout

    def state() -> str:
        return order_store.get(runtime.database, claimed.id).state  # type: ignore[union-attr]

    def earlier(column: str, seconds: float) -> None:
        runtime.database.execute(
            f"UPDATE orders SET {column} = {column} - ? WHERE id = ?", [seconds, claimed.id]
        )

    assert "recovered 1 interrupted order(s)" in reconcile()
    assert state() == "unknown"  # not found, but the attempt may still be in flight
    earlier("sent_at", 3601)
    reconcile()  # the first trusted "not found"
    assert state() == "unknown"
    # Asked again at once: too soon to confirm. "At once" is the first "not found" moved an
    # hour ahead, so a process that starts slowly on a loaded machine is still too soon.
    earlier("not_found_at", -3600)
    reconcile()
    assert state() == "unknown"
    earlier("not_found_at", 3610)
    earlier("sent_at", 10)
    reconcile()  # the second one, a few seconds later, agrees
    assert state() == "queued"
    assert xo.orders() == []  # not found at Xoxoday: queued again, same poNumber


def one_line(result: subprocess.CompletedProcess[str]) -> str:
    """The single line an operator's mistake is worth, with a failing exit code."""
    assert result.returncode != 0, result.stdout
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in result.stderr, result.stderr[-600:]
    return lines[0]


def test_a_csv_saved_as_latin1_is_one_line_asking_for_utf8(xo: SimControl, tmp_path: Path) -> None:
    csv_file = tmp_path / "payroll.csv"  # Excel's plain "CSV": Windows-1252
    csv_file.write_bytes(b"productId,denomination,email\n27222,25,jos\xe9@example.com\n")
    db = tmp_path / "r.db"
    line = one_line(cli(xo, db, "orders", "import", str(csv_file), "--requester", "ops"))
    assert line == (
        f"cannot read {csv_file}: line 2 is not UTF-8 text; save the file as UTF-8 "
        "(in a spreadsheet: Save As > CSV UTF-8)"
    )
    folder = one_line(cli(xo, db, "orders", "import", str(tmp_path), "--requester", "ops"))
    assert folder == f"cannot read {tmp_path}: Is a directory"
    assert xo.orders() == []


def test_an_export_to_a_missing_folder_is_one_line(xo: SimControl, tmp_path: Path) -> None:
    target = tmp_path / "missing" / "out.csv"
    line = one_line(cli(xo, tmp_path / "r.db", "orders", "export", "-o", str(target)))
    assert line == f"cannot write {target}: No such file or directory"


def test_a_row_of_kind_choice_is_refused_with_a_sentence(xo: SimControl, tmp_path: Path) -> None:
    """A recipient's choice is made in Slack; a file names people by email, who would never
    see the offer: the row is refused by its line, and nothing of the file is queued."""
    db = tmp_path / "choice.db"
    path = tmp_path / "choice.csv"
    path.write_text(
        "productId,denomination,email,rewardType\n"
        "27222,25,ana@example.com,\n"
        ",50,ben@example.com,choice\n"
        "27222,25,cho@example.com,raffle\n"
    )
    result = cli(xo, db, "orders", "import", str(path), "--requester", "ops-alice")
    assert result.returncode == 1
    told = [line for line in result.stderr.splitlines() if not line.startswith("checking")]
    assert told == [
        f"{path}: 2 problem(s) in the file; nothing was queued",
        "  line 3: Their choice goes to people in Slack, who choose in Slack; a recipient "
        "known only by email cannot be given one: send them a gift card instead.",
        "  line 4: unknown reward type 'raffle' (use gift_card, airmiles, charity, topup, choice)",
    ]
    assert cli(xo, db, "orders", "list").stdout.strip().endswith("0 order(s):")
