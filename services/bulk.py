"""Bulk rewards from a CSV file: every row is checked, and only a clean file is queued.

Columns are named as Xoxoday's placeOrder fields. A bad row is reported by its line number,
and then nothing of the file is recorded: half a payroll of rewards is worse than none.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from decimal import Decimal
from typing import Any

from services.errors import RewardError
from services.intake import Ask, FieldError, Intake, Line, Source
from services.money import AmountError, parse_amount
from services.reward_types import (
    LOYALTY_ID,
    TOPUP_PHONE,
    all_details,
    csv_columns,
    is_kind,
    kind,
)
from services.rewards import Decision, RewardService, RewardSpec
from storage.choices import NOT_CHOSEN

REQUIRED = ("productId", "denomination", "email")


def optional_columns() -> tuple[str, ...]:
    """Each kind's detail brings its own columns (services/reward_types.py); `rewardType`
    names a row's kind (default: its product's)."""
    return ("contact", *csv_columns(), "quantity", "tag", "notifyReceiverEmail", "rewardType")


MAX_ROWS = 5000
# A plain address and nothing else: no display name ("Ana <ana@…>"), quotes, angle brackets,
# spaces, or a local part that opens with a formula character (=cmd|…, +…, -…, @…). Stricter
# than RFC 5322 on purpose: a CSV is read by people and spreadsheets too.
PLAIN_EMAIL = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._%+-]{0,63}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?"
    r"(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,62}[A-Za-z0-9])?)+"
)


@dataclass(frozen=True)
class RowError:
    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


class BulkImportError(Exception):
    def __init__(self, errors: list[RowError]) -> None:
        super().__init__(f"{len(errors)} problem(s) in the file; nothing was queued")
        self.errors = errors


def parse_rows(text: str) -> tuple[list[tuple[int, RewardSpec]], list[RowError]]:
    """(line number, spec) per readable row, and an error per unreadable one.

    A bad header raises BulkImportError at once: no row can be read without it.
    """
    # newline="" lets the csv module see \r\n, \r and quoted line breaks as it expects.
    reader = csv.DictReader(io.StringIO(text, newline=""))
    try:
        numbered = _read(reader)
    except csv.Error as exc:
        raise BulkImportError(
            [RowError(reader.line_num or 1, f"not readable as CSV ({exc})")]
        ) from None
    header = [name.strip() for name in (reader.fieldnames or [])]
    errors: list[RowError] = []
    missing = [name for name in REQUIRED if name not in header]
    unknown = [name for name in header if name and name not in REQUIRED + optional_columns()]
    if missing:
        errors.append(RowError(1, f"missing column(s) {', '.join(missing)}"))
    if unknown:
        errors.append(
            RowError(
                1,
                f"unknown column(s) {', '.join(unknown)} "
                f"(allowed: {', '.join(REQUIRED + optional_columns())})",
            )
        )
    if errors:
        raise BulkImportError(errors)
    specs: list[tuple[int, RewardSpec]] = []
    line = 1
    for line, raw in numbered:
        row = {(k.strip() if isinstance(k, str) else k): v for k, v in raw.items()}
        cells = {k: (v or "").strip() for k, v in row.items() if k is not None}
        if not any(cells.values()):
            continue
        if None in row:
            errors.append(RowError(line, "more cells than columns"))
            continue
        try:
            specs.append((line, _spec(cells)))
        except ValueError as exc:
            errors.append(RowError(line, str(exc)))
        if len(specs) > MAX_ROWS:
            errors.append(RowError(line, f"more than {MAX_ROWS} rows; split the file"))
            break
    if not specs and not errors:
        raise BulkImportError([RowError(max(line, 2), "the file has no rows")])
    return specs, errors


def _read(reader: csv.DictReader[str]) -> list[tuple[int, dict[str | None, Any]]]:
    """Every row with the line it ends on (a quoted cell may span lines)."""
    rows = []
    for row in reader:
        rows.append((reader.line_num, row))
        if len(rows) > MAX_ROWS + 1:
            break
    return rows


def _spec(cells: dict[str, str]) -> RewardSpec:
    reward_type = cells.get("rewardType") or None
    chosen_later = is_kind(reward_type) and bool(kind(reward_type).chooses_from)
    try:
        # A recipient's choice names no product: the intake refuses it for a file (below).
        product_id = NOT_CHOSEN if chosen_later else int(cells["productId"])
    except ValueError:
        raise ValueError(f"productId {cells['productId']!r} is not a number") from None
    try:
        denomination = parse_amount(cells["denomination"])
    except AmountError as exc:
        raise ValueError(
            f"denomination {cells['denomination']!r} is not an amount: {exc.message}"
        ) from None
    quantity_text = cells.get("quantity") or "1"
    if not quantity_text.isdigit() or int(quantity_text) < 1:
        raise ValueError(f"quantity {quantity_text!r} is not a whole number of at least 1")
    details = {d.field: v for d in all_details() if (v := d.read_cells(cells)) is not None}
    notify = cells.get("notifyReceiverEmail", "").lower()
    if notify not in ("", "0", "1", "true", "false", "yes", "no"):
        raise ValueError(f"notifyReceiverEmail {notify!r} should be 0 or 1")
    if not cells["email"]:
        raise ValueError("email is empty")
    if len(cells["email"]) > 254 or not PLAIN_EMAIL.fullmatch(cells["email"]):
        raise ValueError(
            f"email {cells['email']!r} is not a plain address "
            "(write it like ana@example.com: no name, quotes or angle brackets)"
        )
    return RewardSpec(
        product_id=product_id,
        denomination=denomination,
        reward_type=reward_type,
        quantity=int(quantity_text),
        email=cells["email"],
        contact=cells.get("contact") or None,
        details=details,
        tag=cells.get("tag") or None,
        # A file names people by email, and some may not be in Slack to get their code by DM:
        # Xoxoday emails it unless the file says 0.
        notify_receiver_email=notify not in ("0", "false", "no"),
    )


def _key_fields(spec: RewardSpec) -> dict[str, Any]:
    """A row's fields as keys were first made of them, when the two details that existed then
    were fields of their own: a file imported before kinds' details became data is still the
    same import."""
    fields = {name: value for name, value in asdict(spec).items() if name != "details"}
    return {**fields, **dict.fromkeys(FIRST_DETAILS), **spec.details}


# The details rows had as fields of their own when import keys were first made.
FIRST_DETAILS = (LOYALTY_ID.field, TOPUP_PHONE.field)


def import_key(requester: str, specs: list[RewardSpec]) -> str:
    """The idempotency key of an import: the requester and the rows as read, in file order.

    Hashing the parsed rows rather than the bytes makes a file re-saved by a spreadsheet (CRLF
    line endings, a trailing newline or blank line, a BOM, quoted cells, spaces around cells,
    25.00 for 25, columns in another order) the same import, so it is not paid twice.
    """
    rows = [
        {
            name: format(value.normalize(), "f") if isinstance(value, Decimal) else value
            for name, value in _key_fields(spec).items()
        }
        for spec in specs
    ]
    canonical = json.dumps([requester, rows], sort_keys=True, separators=(",", ":"))
    return f"csv:rows:{hashlib.sha256(canonical.encode()).hexdigest()[:32]}"


def line_of(spec: RewardSpec) -> Line:
    """A row as read, in the intake's terms (services/intake.py)."""
    return Line(
        product_id=None if spec.product_id == NOT_CHOSEN else spec.product_id,
        amount=spec.denomination,
        reward_type=spec.reward_type,
        email=spec.email,
        details=spec.details,
        contact=spec.contact,
        quantity=spec.quantity,
        tag=spec.tag,
        notify_receiver_email=spec.notify_receiver_email,
        operator_check=spec.operator_validation,
    )


def import_csv(
    rewards: RewardService,
    text: str,
    requester: str,
    *,
    needs_approval: bool = False,
    again: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> Decision:
    """Check every row against the catalog, then record the file as one request, through the
    one intake every way of asking for a reward uses; its errors are told by line number.

    The same rows for the same requester are imported once (see `import_key`): running the
    command twice by mistake, or on the file re-saved, raises AlreadyImported instead of
    paying everyone again (`again` overrides).
    `progress(checked, rows)` is told as the rows are checked.
    """
    rows, errors = parse_rows(text)
    specs = [spec for _, spec in rows]
    key = None if again else import_key(requester, specs)
    ask = Ask(
        requester_id=requester,
        lines=[line_of(spec) for spec in specs],
        source=Source.CSV,
        idempotency_key=key,
        message=f"bulk import of {len(rows)} row(s)",
        requester_name=requester,
        trusted=not needs_approval,
        may_wait=True,  # an operator at the shell
    )
    intake = Intake(rewards)
    if errors:  # unreadable rows: the readable ones are still checked, to tell all at once
        found = intake.check(ask, progress) if rows else ()
        raise BulkImportError(_by_line(errors, rows, found))
    if key is not None:
        # Before rows were compared, the raw text was: a file imported then is still known.
        legacy = "csv:" + hashlib.sha256(f"{requester}\n{text}".encode()).hexdigest()[:32]
        for known in (key, legacy):
            existing = rewards.recorded(known)
            if existing is not None:
                raise AlreadyImported(existing.request.ref, existing.request.created_at)
    submitted = intake.submit(ask, progress)
    if submitted.decision is None:
        raise BulkImportError(_by_line([], rows, submitted.errors))
    return submitted.decision


def _by_line(
    errors: list[RowError], rows: list[tuple[int, RewardSpec]], found: Sequence[FieldError]
) -> list[RowError]:
    """The intake's errors at the file's line numbers; one about the whole request (the
    wallet, the budget) is raised as it is."""
    whole = [error for error in found if error.line is None]
    if whole:
        raise RewardError(whole[0].message)
    told = errors + [RowError(rows[e.line][0], e.message) for e in found if e.line is not None]
    return sorted(told, key=lambda e: e.line)


class AlreadyImported(Exception):
    def __init__(self, ref: str, when: str) -> None:
        super().__init__(
            f"this file was already imported as {ref} at {when}; nothing queued "
            "(use --again to import it once more)"
        )
        self.ref = ref
