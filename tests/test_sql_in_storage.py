"""All SQL lives in storage/ (design.md, House rules): a second database should touch storage/
alone. This scans the source of every other package for SQL and for the calls that run it.

ALLOWED is the explicit list of what is still outside: it may only shrink. A file that gets
new SQL fails, and so does an entry that no longer matches what the file holds (remove it).
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "services", "plumbing", "simulator")

# Calls that hand a statement to SQLite (storage.db.Database and sqlite3/sqlite-utils alike),
# and sqlite-utils' table API, which writes SQL for us but names tables all the same.
RUNS_SQL = frozenset({"execute", "executemany", "executescript", "scalar", "query", "one"})
TABLE_API = frozenset({"table"})
SQL_TEXT = re.compile(
    r"\bSELECT\b[\s\S]*\bFROM\b|\bINSERT\s+(OR\s+\w+\s+)?INTO\b|\bUPDATE\s+\S+\s+SET\b"
    r"|\bDELETE\s+FROM\b|\b(CREATE|ALTER|DROP)\s+(TABLE|INDEX|UNIQUE|VIEW|TRIGGER)\b"
    r"|\bPRAGMA\s+\w+|\bBEGIN\s+(IMMEDIATE|EXCLUSIVE|DEFERRED)\b|\bVACUUM\b|\bRETURNING\b"
)

# path -> how many lines of SQL it may still hold. Empty when all SQL is in storage/.
ALLOWED: dict[str, int] = {}


def _docstrings(tree: ast.AST) -> set[int]:
    """The ids of docstring nodes: prose about SQL is not SQL."""
    found: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(
            node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef
        ) and (
            node.body
            and isinstance(node.body[0], ast.Expr)
            and isinstance(node.body[0].value, ast.Constant)
        ):
            found.add(id(node.body[0].value))
    return found


def _text(node: ast.AST) -> str | None:
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.JoinedStr):
        return "".join(
            part.value if isinstance(part, ast.Constant) else "{}" for part in node.values
        )
    return None


def findings(source: str) -> list[str]:
    """The lines of this source that hold SQL or run it, one entry each ('line N: why')."""
    tree = ast.parse(source)
    skip = _docstrings(tree)
    inner = {id(v) for n in ast.walk(tree) if isinstance(n, ast.JoinedStr) for v in n.values}
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute):
            name = node.func.attr
            first = node.args[0] if node.args else None
            if name in RUNS_SQL and first is not None and _text(first) is not None:
                found.append(f"line {node.lineno}: .{name}() of a statement")
            elif name in RUNS_SQL - {"query", "one"}:
                found.append(f"line {node.lineno}: .{name}()")
            elif name in TABLE_API and first is not None and _text(first) is not None:
                found.append(f"line {node.lineno}: .{name}({_text(first)!r})")
        if id(node) in skip or id(node) in inner:
            continue
        text = _text(node)
        if text is not None and SQL_TEXT.search(text):
            found.append(f"line {node.lineno}: SQL text {text.strip()[:40]!r}")
    by_line: dict[int, list[str]] = {}
    for entry in found:
        number, why = entry.split(": ", 1)
        by_line.setdefault(int(number.split()[1]), []).append(why)
    return [f"line {n}: {', '.join(sorted(set(w)))}" for n, w in sorted(by_line.items())]


def _scan() -> dict[str, list[str]]:
    result = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            hits = findings(path.read_text())
            if hits:
                result[str(path.relative_to(ROOT))] = hits
    return result


def test_sql_lives_in_storage_only() -> None:
    found = _scan()
    new = {path: hits for path, hits in found.items() if len(hits) > ALLOWED.get(path, 0)}
    assert new == {}, "SQL outside storage/: put it in storage/ behind a named function"
    stale = {
        path: (allowed, len(found.get(path, [])))
        for path, allowed in ALLOWED.items()
        if len(found.get(path, [])) < allowed
    }
    assert stale == {}, "ALLOWED names more than the file holds: shrink the list"


def test_the_scan_finds_sql_and_its_calls() -> None:
    """The scanner itself: it must see each shape it looks for, and not prose."""
    source = '''
"""Docstring: UPDATE orders SET state WHERE ... is prose."""
def f(database, db, n):
    """SELECT * FROM in a docstring is prose too."""
    database.query("SELECT id FROM orders WHERE state = ?", ["queued"])
    db.execute(f"UPDATE {n} SET state = ? WHERE id = ?", [1, 2])
    db.conn.executescript(script)
    database.scalar(sql)
    db.table("events").insert({})
    text = "INSERT OR IGNORE INTO seen (id) VALUES (?)"
    ok = {"query": 1}.get("query"), req.query, "select a gift card from the list"
'''
    assert findings(source) == [
        "line 5: .query() of a statement, SQL text 'SELECT id FROM orders WHERE state = ?'",
        "line 6: .execute() of a statement, SQL text 'UPDATE {} SET state = ? WHERE id = ?'",
        "line 7: .executescript()",
        "line 8: .scalar()",
        "line 9: .table('events')",
        "line 10: SQL text 'INSERT OR IGNORE INTO seen (id) VALUES ('",
    ]
