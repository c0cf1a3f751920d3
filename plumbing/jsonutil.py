"""JSON that keeps money exact: Decimal out as a plain number, numbers in as Decimal."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any


def dumps(obj: Any) -> str:
    """JSON text with Decimal written as an exact number (json.dumps would go through float)."""
    if isinstance(obj, Decimal):
        if not obj.is_finite():
            raise ValueError(f"cannot encode {obj} as JSON")
        return format(obj, "f")
    if isinstance(obj, dict):
        return "{" + ",".join(f"{json.dumps(str(k))}:{dumps(v)}" for k, v in obj.items()) + "}"
    if isinstance(obj, list | tuple):
        return "[" + ",".join(dumps(v) for v in obj) + "]"
    return json.dumps(obj)


def loads(text: str | bytes) -> Any:
    """Parse JSON with every non-integer number as Decimal."""
    return json.loads(text, parse_float=Decimal)
