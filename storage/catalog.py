"""The cached Xoxoday catalog, shared by every process that opens the database."""

from __future__ import annotations

from typing import Any

from plumbing.jsonutil import dumps, loads
from storage.db import Database, utcnow


def replace_type(database: Database, reward_type: str, products: list[dict[str, Any]]) -> None:
    """Swap in a fresh list of one reward type's products, atomically."""
    now = utcnow()
    with database.tx() as db:
        db.execute("DELETE FROM catalog WHERE reward_type = ?", [reward_type])
        if products:
            db.table("catalog").insert_all(
                (
                    {
                        "product_id": product["productId"],
                        "reward_type": reward_type,
                        "name": product.get("name") or "",
                        "parent_product_id": product.get("parentProductId"),
                        "data": dumps(product),
                        "fetched_at": now,
                    }
                    for product in products
                ),
                pk="product_id",
                replace=True,
            )


def get(database: Database, product_id: int) -> tuple[str, dict[str, Any]] | None:
    row = database.one("SELECT reward_type, data FROM catalog WHERE product_id = ?", [product_id])
    return (row["reward_type"], loads(row["data"])) if row else None


def of_type(database: Database, reward_type: str) -> list[tuple[str, dict[str, Any]]]:
    rows = database.query(
        "SELECT reward_type, data FROM catalog WHERE reward_type = ? ORDER BY name",
        [reward_type],
    )
    return [(row["reward_type"], loads(row["data"])) for row in rows]
