"""The cached Xoxoday catalog, shared by every process that opens the database.

A refresh writes in short transactions (CHUNK products each) and then drops what it did not
see: a catalog of 20,000 products never holds the write lock long enough to keep a Slack
handler from recording a request, and readers (WAL) always find a whole product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from plumbing.jsonutil import dumps, loads
from storage.db import Database, utcnow

CHUNK = 500  # products per write transaction during a refresh


@dataclass(frozen=True)
class CatalogCountry:
    """A country the catalog is kept for: Xoxoday's code (getFilters' filterValueCode, the
    country filter's value), its name and ISO code as getFilters answers them."""

    code: str
    name: str
    iso: str = ""


@dataclass(frozen=True)
class CatalogRow:
    """One product as a refresh stores it: `data` is its JSON; `min_cost_cents` what its
    smallest value costs the wallet, in cents rounded up (None: no rate known); `countries`
    the codes of where it is sold."""

    product_id: int
    name: str
    parent_product_id: int | None
    currency_code: str | None
    min_cost_cents: int | None
    data: str
    countries: tuple[str, ...] = ()


def replace_type(database: Database, reward_type: str, products: list[dict[str, Any]]) -> None:
    """Swap in a fresh list of one reward type's products, atomically (small catalogs)."""
    now = utcnow()
    with database.tx() as db:
        db.execute(
            "DELETE FROM catalog_countries WHERE product_id IN "
            "(SELECT product_id FROM catalog WHERE reward_type = ?)",
            [reward_type],
        )
        db.execute("DELETE FROM catalog WHERE reward_type = ?", [reward_type])
        if products:
            db.table("catalog").insert_all(
                (
                    {
                        "product_id": product["productId"],
                        "reward_type": reward_type,
                        "name": product.get("name") or "",
                        "parent_product_id": product.get("parentProductId"),
                        "currency_code": product.get("currencyCode") or None,
                        "data": dumps(product),
                        "fetched_at": now,
                    }
                    for product in products
                ),
                pk="product_id",
                replace=True,
            )


def upsert(database: Database, reward_type: str, rows: Sequence[CatalogRow], stamp: str) -> None:
    """Write a refresh's products, CHUNK per transaction, marked `stamp`."""
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        with database.tx() as db:
            db.table("catalog").insert_all(
                (
                    {
                        "product_id": row.product_id,
                        "reward_type": reward_type,
                        "name": row.name,
                        "parent_product_id": row.parent_product_id,
                        "currency_code": row.currency_code,
                        "min_cost_cents": row.min_cost_cents,
                        "data": row.data,
                        "fetched_at": stamp,
                    }
                    for row in chunk
                ),
                pk="product_id",
                replace=True,
            )
            db.table("catalog_countries").insert_all(
                (
                    {"product_id": row.product_id, "country": code, "fetched_at": stamp}
                    for row in chunk
                    for code in row.countries
                ),
                pk=("product_id", "country"),
                replace=True,
            )


def drop_unseen(database: Database, reward_type: str, stamp: str) -> int:
    """After a refresh: remove the type's products (and countries) it did not see."""
    with database.tx() as db:
        db.execute(
            "DELETE FROM catalog_countries WHERE fetched_at != ? AND product_id IN "
            "(SELECT product_id FROM catalog WHERE reward_type = ?)",
            [stamp, reward_type],
        )
        cursor = db.execute(
            "DELETE FROM catalog WHERE reward_type = ? AND fetched_at != ?", [reward_type, stamp]
        )
        return cursor.rowcount


def get(database: Database, product_id: int) -> tuple[str, dict[str, Any]] | None:
    row = database.one("SELECT reward_type, data FROM catalog WHERE product_id = ?", [product_id])
    return (row["reward_type"], loads(row["data"])) if row else None


def of_type(database: Database, reward_type: str) -> list[tuple[str, dict[str, Any]]]:
    rows = database.query(
        "SELECT reward_type, data FROM catalog WHERE reward_type = ? ORDER BY name",
        [reward_type],
    )
    return [(row["reward_type"], loads(row["data"])) for row in rows]


def search(
    database: Database,
    reward_type: str,
    words: Sequence[str],
    *,
    country: str | None = None,
    max_cost_cents: int | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[dict[str, Any]]:
    """A type's products whose name holds every word (any case), sold in `country`, whose
    smallest value costs at most `max_cost_cents` of the wallet's currency; by name."""
    clauses, params = ["reward_type = ?"], [reward_type]
    for word in words:
        clauses.append("name LIKE ? ESCAPE '\\'")
        params.append(f"%{_escape_like(word)}%")
    if country:
        clauses.append("product_id IN (SELECT product_id FROM catalog_countries WHERE country = ?)")
        params.append(country)
    if max_cost_cents is not None:
        clauses.append("min_cost_cents IS NOT NULL AND min_cost_cents <= ?")
        params.append(max_cost_cents)
    rows = database.query(
        f"SELECT data FROM catalog WHERE {' AND '.join(clauses)} "
        "ORDER BY name, product_id LIMIT ? OFFSET ?",
        [*params, limit, offset],
    )
    return [loads(row["data"]) for row in rows]


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def countries_of(database: Database, product_id: int) -> list[str]:
    rows = database.query(
        "SELECT country FROM catalog_countries WHERE product_id = ? ORDER BY country",
        [product_id],
    )
    return [row["country"] for row in rows]


def sold_in(database: Database, product_id: int, country: str) -> bool:
    return (
        database.one(
            "SELECT 1 FROM catalog_countries WHERE product_id = ? AND country = ?",
            [product_id, country],
        )
        is not None
    )


def put_countries(database: Database, countries: Sequence[CatalogCountry]) -> None:
    """The countries the catalog is kept for, in the order people are offered them."""
    with database.tx() as db:
        db.execute("DELETE FROM countries")
        db.table("countries").insert_all(
            (
                {"code": c.code, "name": c.name, "iso": c.iso, "position": n}
                for n, c in enumerate(countries)
            ),
            pk="code",
        )


def countries(database: Database) -> list[CatalogCountry]:
    rows = database.query("SELECT code, name, iso FROM countries ORDER BY position, code")
    return [CatalogCountry(row["code"], row["name"], row["iso"] or "") for row in rows]
