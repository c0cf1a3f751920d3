"""The Xoxoday catalog, cached in the database and refreshed as Xoxoday refreshes it.

Xoxoday updates its catalog four times a day and allows 50 getVouchers calls a minute, so
the bot reads products from the cache and refreshes every 6 hours or when asked. Top-up is
two-level: operators, then each operator's plans (the plans are what gets ordered). A product
whose productMeta asks for checkout fields no form collects is left out (it would fail at
placeOrder, after approval), and the reason is logged once per product.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from services.errors import CatalogUnavailable, InvalidReward
from services.reward_types import RewardKind, all_kinds, is_kind, kind
from services.wallet import Wallet
from services.xoxoday import errors as xe
from services.xoxoday.checkout_fields import UnreadableMeta, missing_fields
from services.xoxoday.client import XoxodayClient
from services.xoxoday.inr import implied_inr_rate
from services.xoxoday.models import Product
from storage import catalog as store
from storage import kv
from storage.db import Database

log = logging.getLogger(__name__)

REFRESH_EVERY_S = 6 * 3600
LEFT_OUT_PREFIX = "catalog.left_out."  # + product id: why it was left out, as last logged


def operators_key(reward_kind: RewardKind) -> str:
    """Where a kind's operators are stored, beside its plans; never ordered directly."""
    return f"{reward_kind.key}_operator"


class Catalog:
    def __init__(
        self,
        database: Database,
        client: XoxodayClient | None,
        *,
        wallet: Wallet | None = None,
        max_age_s: float = REFRESH_EVERY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.client = client
        self.wallet = wallet
        self.max_age_s = max_age_s
        self._clock = clock
        self._lock = threading.Lock()
        self._logged: set[str] = set()  # products whose exclusion this process has seen
        self._logged_lock = threading.Lock()

    # --- refreshing -------------------------------------------------------------------------

    def refresh(self, reward_types: list[str] | None = None) -> dict[str, int]:
        """Fetch the catalog from Xoxoday; returns the product count per reward type."""
        if self.client is None:
            raise CatalogUnavailable("the catalog cannot be refreshed: no Xoxoday client")
        counts: dict[str, int] = {}
        fetched: list[dict] = []
        with self._lock:
            for reward_type in reward_types or [k.key for k in all_kinds()]:
                products = self._fetch(reward_type)
                store.replace_type(self.database, reward_type, products)
                counts[reward_type] = len(products)
                fetched.extend(products)
            kv.put(self.database, "catalog.refreshed_at", str(self._clock()))
        if self.wallet is not None:
            # A product may come without `exchangeRate` (§12 row 1): prices then need the
            # wallet's currency, learned here, where waiting on Xoxoday is fine, never in a
            # Slack request; and the rupee rate the rates imply, to check the balance by.
            self.wallet.learn_currency()
            self.wallet.note_inr_rate(
                implied_inr_rate(Product.model_validate(data) for data in fetched)
            )
        log.info("catalog refreshed: %s", counts)
        return counts

    def _fetch(self, reward_type: str) -> list[dict]:
        assert self.client is not None
        reward_kind = kind(reward_type)
        products = self.client.all_vouchers(category_type=reward_kind.category_type)
        if not reward_kind.operators_and_plans:
            return [
                p.model_dump(by_alias=True, mode="json") for p in products if self._orderable(p)
            ]
        operators = [p for p in products if p.parent_product_id is None]
        store.replace_type(
            self.database,
            operators_key(reward_kind),
            [p.model_dump(by_alias=True, mode="json") for p in operators],
        )
        plans: list[dict] = []
        for operator in operators:
            for plan in self.client.all_vouchers(
                category_type=reward_kind.category_type, parent_product_id=operator.product_id
            ):
                if not self._orderable(plan):
                    continue
                data = plan.model_dump(by_alias=True, mode="json")
                data["parentProductId"] = data.get("parentProductId") or operator.product_id
                plans.append(data)
        return plans

    def _orderable(self, product: Product) -> bool:
        """False for a product whose productMeta requires checkout fields no form collects:
        placeOrder would refuse it after approval (§13 row 6). Logged once per product."""
        try:
            missing = missing_fields(product.product_meta)
        except UnreadableMeta:
            self._log_once(product, "its productMeta is not JSON; offered as it is")
            return True
        if missing:
            self._log_once(
                product,
                f"left out of the catalog: its productMeta requires {', '.join(missing)}, "
                "which the bot does not collect",
            )
        return not missing

    def _log_once(self, product: Product, why: str) -> None:
        """Once per product and reason for the database, across processes and restarts (the
        operator's commands refresh the catalog too). INFO: nothing is wrong, a product is
        simply not offered."""
        key = f"{LEFT_OUT_PREFIX}{product.product_id}"
        with self._logged_lock:
            if key in self._logged:
                return
            self._logged.add(key)
        if kv.get(self.database, key) == why or not kv.compare_and_set(
            self.database, key, kv.get(self.database, key), why
        ):
            return
        log.info("product %s (%s): %s", product.product_id, product.name, why)

    def refreshed_at(self) -> float | None:
        value = kv.get(self.database, "catalog.refreshed_at")
        return float(value) if value else None

    def is_stale(self) -> bool:
        refreshed = self.refreshed_at()
        return refreshed is None or self._clock() - refreshed > self.max_age_s

    def ensure_fresh(self) -> None:
        """Refresh when the cache is older than max_age_s; keep the old copy on failure."""
        if not self.is_stale():
            return
        try:
            self.refresh()
        except xe.XoxodayError as exc:
            if self.refreshed_at() is None:
                raise CatalogUnavailable(f"the Xoxoday catalog is unavailable: {exc}") from exc
            log.warning("catalog refresh failed, keeping the cached copy: %s", exc)

    # --- reading ----------------------------------------------------------------------------

    def product(self, product_id: int, *, refresh: bool = False) -> tuple[str, Product]:
        """The reward type and product for an id; InvalidReward when it is not in the catalog.

        Only the worker passes `refresh` (fetch a stale catalog when the id is missing):
        anything answering Slack must not wait on Xoxoday.
        """
        found = store.get(self.database, product_id)
        if found is None and refresh and self.client is not None and self.is_stale():
            self.ensure_fresh()
            found = store.get(self.database, product_id)
        if found is None or not is_kind(found[0]):  # operators are not ordered
            raise InvalidReward(
                f"product {product_id} is not in the Xoxoday catalog", field="product"
            )
        reward_type, data = found
        return reward_type, Product.model_validate(data)

    def products(self, reward_type: str) -> list[Product]:
        return [
            Product.model_validate(data) for _, data in store.of_type(self.database, reward_type)
        ]

    def operators(self, reward_type: str) -> list[Product]:
        """The operators of a kind whose products are operators' plans (top-up); else []."""
        reward_kind = kind(reward_type)
        if not reward_kind.operators_and_plans:
            return []
        return self.products(operators_key(reward_kind))

    def operator_names(self, reward_type: str) -> dict[int, str]:
        """Operator product id -> name, for labelling plans."""
        return {op.product_id: op.name for op in self.operators(reward_type)}

    def search(self, reward_type: str, text: str = "", limit: int = 100) -> list[Product]:
        """Products of a type whose name (or operator's name) contains every word of `text`."""
        words = text.lower().split()
        products = self.products(reward_type)
        names = self.operator_names(reward_type)
        if names:
            haystacks = [f"{names.get(p.parent_product_id or 0, '')} {p.name}" for p in products]
        else:
            haystacks = [p.name for p in products]
        hits = [
            product
            for product, haystack in zip(products, haystacks, strict=True)
            if all(word in haystack.lower() for word in words)
        ]
        return hits[:limit]
