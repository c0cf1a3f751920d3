"""Modules over 500 lines and functions over 80, in the app and both stand-ins (the team's
style: small modules named for what they do). `python -m tools.sizes` prints them; the test
tests/test_sizes.py holds the named exceptions."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("bot", "handlers", "services", "storage", "plumbing", "simulator")
MAX_MODULE_LINES = 500
MAX_FUNCTION_LINES = 80


def modules_over(limit: int = MAX_MODULE_LINES) -> dict[str, int]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            lines = len(path.read_text().splitlines())
            if lines > limit:
                found[str(path.relative_to(ROOT))] = lines
    return found


def functions_over(limit: int = MAX_FUNCTION_LINES) -> dict[str, int]:
    """`path:Class.function` -> lines (decorators and docstring included)."""
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            tree = ast.parse(path.read_text())
            for name, node in _functions(tree):
                start = min([node.lineno, *(d.lineno for d in node.decorator_list)])
                lines = (node.end_lineno or node.lineno) - start + 1
                if lines > limit:
                    found[f"{path.relative_to(ROOT)}:{name}"] = lines
    return found


def _functions(tree: ast.AST, prefix: str = "") -> list[tuple[str, ast.AST]]:
    found: list[tuple[str, ast.AST]] = []
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found.append((prefix + node.name, node))
            found += _functions(node, f"{prefix}{node.name}.")
        elif isinstance(node, ast.ClassDef):
            found += _functions(node, f"{prefix}{node.name}.")
    return found


def main() -> int:
    for what, found in (("module", modules_over()), ("function", functions_over())):
        for name, lines in sorted(found.items(), key=lambda item: -item[1]):
            print(f"{what:8} {lines:5}  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
