"""CSV cells that a spreadsheet opens as data, never as a formula.

Excel, LibreOffice and Google Sheets run a cell that starts with `=`, `+`, `-` or `@` as a
formula (`=cmd|' /C calc'!A0`, `=HYPERLINK(…)`), and a leading tab or carriage return can
hide such a start. A single quote in front makes the cell text; plain numbers (amounts, ids)
are left as numbers. OWASP, "CSV Injection": https://owasp.org/www-community/attacks/CSV_Injection
Every export that writes values people or Xoxoday wrote goes through `spreadsheet_safe`.
"""

from __future__ import annotations

import re

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_PLAIN_NUMBER = re.compile(r"-?[0-9]+(?:\.[0-9]+)?")


def spreadsheet_safe(value: object) -> str:
    """`value` as a CSV cell (None is empty) that no spreadsheet evaluates."""
    text = "" if value is None else str(value)
    if text.startswith(FORMULA_STARTS) and not _PLAIN_NUMBER.fullmatch(text):
        return "'" + text
    return text
