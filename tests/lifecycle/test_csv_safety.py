"""CSV in and out: an export no spreadsheet runs as formulas, an import of plain addresses."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest

from bot.runtime import Runtime
from services.bulk import BulkImportError, import_csv
from services.csvcells import spreadsheet_safe
from storage import orders as order_store
from tests.lifecycle.conftest import REQUESTER, gift
from tests.support import SimControl, cli_env, rewards_bot

HOSTILE_CELLS = {
    "product_name": "=cmd|' /C calc'!A0",
    "failure_reason": "+SUM(1,2)",
    "email": "@SUM(A1:A9)",
    "recipient_id": "-2+3",
    "po_number": "\t=1+1",
    "product_currency": '\r=HYPERLINK("https://evil.example")',
}


def test_the_export_neutralises_every_formula_cell(
    runtime: Runtime, xo: SimControl, tmp_path: Path
) -> None:
    decision = runtime.rewards.create(REQUESTER, [gift()])
    [order] = decision.orders
    # What Xoxoday or a person wrote ends up in these columns; make each one a formula.
    assignments = ", ".join(f"{column} = ?" for column in HOSTILE_CELLS)
    with runtime.database.tx() as db:
        db.execute(
            f"UPDATE orders SET {assignments} WHERE id = ?", [*HOSTILE_CELLS.values(), order.id]
        )
    out = tmp_path / "orders.csv"
    env = cli_env(xo.base_url, runtime.settings.rewards_db)
    result = rewards_bot(env, "orders", "export", "-o", str(out))
    assert result.returncode == 0, result.stderr
    assert out.stat().st_mode & 0o777 == 0o600  # names, emails and amounts: the owner's only
    [row] = list(csv.DictReader(io.StringIO(out.read_bytes().decode("utf-8"), newline="")))
    for column, value in HOSTILE_CELLS.items():
        assert row[column] == "'" + value, column
    assert row["denomination"] == "25" and row["quantity"] == "1"  # numbers stay numbers
    assert order_store.get(runtime.database, order.id) is not None


@pytest.mark.parametrize(
    ("value", "cell"),
    [
        ("=1+1", "'=1+1"),
        ("+1", "'+1"),
        ("-x", "'-x"),
        ("@x", "'@x"),
        ("\tx", "'\tx"),
        ("\rx", "'\rx"),
        ("-5", "-5"),
        ("-12.50", "-12.50"),
        ("24.50", "24.50"),
        ("a=b", "a=b"),
        (None, ""),
        (7, "7"),
    ],
)
def test_spreadsheet_safe(value: object, cell: str) -> None:
    assert spreadsheet_safe(value) == cell


HEADER = "productId,denomination,email"


@pytest.mark.parametrize(
    "email",
    [
        "=1+1@example.com",
        "-2+3@example.com",
        "+cmd@example.com",
        "=cmd|'/C_calc'!A0@example.com",
        "Ana Silva <ana@example.com>",
        "<ana@example.com>",
        '"ana"@example.com',
        "ana@example.com>",
        "ana@exa mple.com",
        "ana@localhost",
        "ana@@example.com",
    ],
)
def test_the_importer_refuses_anything_but_a_plain_address(runtime: Runtime, email: str) -> None:
    cell = '"' + email.replace('"', '""') + '"'
    text = f"{HEADER}\n27222,10,ana@example.com\n27222,10,{cell}\n"
    with pytest.raises(BulkImportError) as info:
        import_csv(runtime.rewards, text, "ops-alice")
    [error] = info.value.errors
    assert error.line == 3 and "is not a plain address" in error.message
    assert order_store.count_by_state(runtime.database) == {}


def test_plain_addresses_are_imported(runtime: Runtime) -> None:
    emails = ["ana@example.com", "ana.silva+team@mail.example.co.uk", "Dev_99@Example.ORG"]
    text = HEADER + "\n" + "".join(f"27222,10,{e}\n" for e in emails)
    decision = import_csv(runtime.rewards, text, "ops-alice")
    assert [o.email for o in decision.orders] == emails
