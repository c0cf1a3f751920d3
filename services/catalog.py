"""The Xoxoday catalog, cached in the database and refreshed as Xoxoday refreshes it.

Xoxoday updates its catalog four times a day and allows 50 getVouchers calls a minute, so
the bot reads products from the cache and refreshes every 6 hours or when asked. Top-up is
two-level: operators, then each operator's plans (the plans are what gets ordered). A product
whose productMeta asks for checkout fields no form collects is left out (it would fail at
placeOrder, after approval), and the reason is logged once per product.

Gift cards are kept by country (issue 18): with REWARDS_COUNTRIES (Xoxoday's country codes,
`usa,india,uk`) each country's catalog is fetched with the `country` filter, and a product is
in every country whose catalog listed it; without it the whole catalog is fetched once and a
product is in the countries its `countries` field names. Each product also stores what its
smallest value costs the wallet, so "gift cards sold in the UK that fit 50 USD" is one query.

A refresh of a real account's catalog (20,000 products: 200 pages) takes minutes at 50
getVouchers a minute (the client's limiter paces it), so nothing that answers Slack or places
orders waits on one: `refresh_in_background` runs it on a thread of its own, one at a time per
database (a lease), and it writes in short transactions (storage/catalog.py). `stop` ends
that thread and waits for it, before the database it writes to is closed (bot/runtime.py).
"""

from __future__ import annotations

import logging
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from decimal import Decimal
from typing import Any

from services import costs
from services.errors import CatalogUnavailable, InvalidReward
from services.lease import Lease
from services.reward_types import RewardKind, catalog_kinds, is_kind, kind
from services.wallet import Wallet
from services.xoxoday import errors as xe
from services.xoxoday.checkout_fields import UnreadableMeta, missing_fields
from services.xoxoday.client import XoxodayClient
from services.xoxoday.inr import implied_inr_rate
from services.xoxoday.models import Product
from storage import catalog as store
from storage import kv
from storage.catalog import CatalogCountry, CatalogRow
from storage.db import Database, utcnow

log = logging.getLogger(__name__)

REFRESH_EVERY_S = 6 * 3600
LEFT_OUT_PREFIX = "catalog.left_out."  # + product id: why it was left out, as last logged
REFRESH_LEASE = "catalog.refresh"
REFRESH_LEASE_S = 600.0  # renewed with every page fetched


def _codes(listed: list[Any], names: dict[str, CatalogCountry]) -> list[str]:
    """A product's `countries` (ISO codes) as Xoxoday's country codes, where getFilters
    names them ("US" -> "usa"); an ISO code it does not name stands for itself, lower-cased."""
    codes: list[str] = []
    for iso in listed:
        text = str(iso).strip().lower()
        code = names[text].code if text in names else text
        if code and code not in codes:
            codes.append(code)
    return codes


def _row(product: Product, currency: str | None, countries: Sequence[str]) -> CatalogRow:
    return CatalogRow(
        product_id=product.product_id,
        name=product.name,
        parent_product_id=product.parent_product_id,
        currency_code=product.currency_code or None,
        min_cost_cents=costs.min_cost_cents(product, currency),
        data=product.model_dump_json(by_alias=True),
        countries=tuple(countries),
    )


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
        countries: Sequence[str] = (),
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.database = database
        self.client = client
        self.wallet = wallet
        self.max_age_s = max_age_s
        # REWARDS_COUNTRIES: Xoxoday country codes whose gift-card catalogs are fetched; ()
        # fetches the whole catalog once.
        self.country_codes = tuple(countries)
        self._clock = clock
        self._lock = threading.Lock()
        self._logged: set[str] = set()  # products whose exclusion this process has seen
        self._logged_lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._thread_lock = threading.Lock()
        self._stopping = threading.Event()  # set by stop(): no refresh starts or goes on
        self._lease = Lease(
            database, f"catalog-{uuid.uuid4().hex[:8]}", ttl_s=REFRESH_LEASE_S, key=REFRESH_LEASE
        )

    # --- refreshing -------------------------------------------------------------------------

    def refresh(self, reward_types: list[str] | None = None) -> dict[str, int]:
        """Fetch the catalog from Xoxoday; returns the product count per reward type.
        CatalogUnavailable when another process is refreshing it right now."""
        if self.client is None:
            raise CatalogUnavailable("the catalog cannot be refreshed: no Xoxoday client")
        counts: dict[str, int] = {}
        fetched: list[Product] = []
        with self._lock:
            if not self._lease.try_acquire():
                raise CatalogUnavailable("another process is refreshing the catalog now")
            try:
                # A product may come without `exchangeRate` (§12 row 1): prices then need the
                # wallet's currency, learned here, where waiting on Xoxoday is fine, never in a
                # Slack request.
                currency = self.wallet.learn_currency() if self.wallet is not None else None
                names = self._countries()
                for reward_type in reward_types or [k.key for k in catalog_kinds()]:
                    products, where = self._fetch(reward_type, names)
                    self._store(reward_type, products, where, currency)
                    counts[reward_type] = len(products)
                    fetched.extend(products)
                kv.put(self.database, "catalog.refreshed_at", str(self._clock()))
            finally:
                self._lease.release()
        if self.wallet is not None:
            # The rupee rate the rates imply, to check the balance by.
            self.wallet.note_inr_rate(implied_inr_rate(fetched))
        log.info("catalog refreshed: %s", counts)
        return counts

    def refresh_in_background(self) -> bool:
        """Refresh on a thread of its own, unless one is running; True when one started."""
        with self._thread_lock:
            if self._stopping.is_set() or (self._thread is not None and self._thread.is_alive()):
                return False
            self._thread = threading.Thread(
                target=self._refresh_logged, name="catalog-refresh", daemon=True
            )
            self._thread.start()
            return True

    def refreshing(self) -> bool:
        with self._thread_lock:
            return self._thread is not None and self._thread.is_alive()

    def wait_refreshed(self, timeout_s: float | None = None) -> bool:
        """Wait for a background refresh to end (tests, the CLI); True when none runs."""
        with self._thread_lock:
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
        return not self.refreshing()

    def stop(self, timeout_s: float = 10.0) -> None:
        """End a background refresh between two pages (what it stored stays, the kind it was
        fetching is not stored) and wait for its thread: the database is closed next, and a
        thread still writing to a closed connection can crash the process. A page already
        asked for is waited for (the client's timeout bounds it), however long that takes."""
        with self._thread_lock:
            self._stopping.set()
            thread = self._thread
        if thread is None:
            return
        thread.join(timeout_s)
        if thread.is_alive():
            log.warning("the catalog refresh is still running after %.0f s", timeout_s)
            thread.join()

    def _refresh_logged(self) -> None:
        try:
            self.refresh()
        except CatalogUnavailable as exc:
            log.info("catalog refresh skipped: %s", exc)
        except xe.XoxodayError as exc:
            log.warning("catalog refresh failed, keeping the cached copy: %s", exc)
        except Exception:
            log.exception("catalog refresh failed, keeping the cached copy")

    def _renew(self) -> None:
        """Before each page: keep the refresh's lease (a long refresh outlives its first TTL),
        and wait for the page's turn under the rate limit (up to a minute) where stop() can
        end the wait; a stopped refresh ends here."""
        assert self.client is not None
        self._lease.try_acquire()
        if not self.client.limiter.wait_free("getVouchers", self._stopping):
            raise CatalogUnavailable("the catalog refresh was stopped")

    def _countries(self) -> dict[str, CatalogCountry]:
        """Xoxoday's countries by code and by ISO code (getFilters), and the ones the catalog
        is kept for stored with their names; a country getFilters does not name keeps its
        code as its name (the fetch then tells whether Xoxoday knows it)."""
        assert self.client is not None
        try:
            groups = self.client.get_filters("country")
        except xe.XoxodayError as exc:
            log.warning("could not read Xoxoday's country names: %s", exc)
            groups = []
        known: dict[str, CatalogCountry] = {}
        for group in groups:
            for item in group.filters:
                code = item.filter_value_code.lower()
                if not code:
                    continue
                country = CatalogCountry(code, item.filter_value or code.upper(), item.iso_code)
                known.setdefault(country.code, country)
                if item.iso_code:
                    known.setdefault(item.iso_code.lower(), country)
        kept = [
            known.get(code) or CatalogCountry(code, code.upper()) for code in self.country_codes
        ]
        if kept:
            # The configured code is the identity ("usa"); the name and ISO code are Xoxoday's.
            store.put_countries(
                self.database, [CatalogCountry(code, c.name, c.iso) for code, c in
                                zip(self.country_codes, kept, strict=True)]
            )  # fmt: skip
        return known

    def _fetch(
        self, reward_type: str, names: dict[str, CatalogCountry]
    ) -> tuple[list[Product], dict[int, list[str]]]:
        """A kind's products, and the countries each is sold in (by code)."""
        reward_kind = kind(reward_type)
        if reward_kind.by_country and self.country_codes:
            return self._fetch_by_country(reward_kind)
        products = self._fetch_all(reward_kind)
        where = {p.product_id: _codes(p.countries, names) for p in products}
        if reward_kind.by_country and not self.country_codes:
            seen = {code for codes in where.values() for code in codes}
            by_code = {c.code: c for c in names.values()}
            store.put_countries(
                self.database,
                sorted(
                    (by_code.get(code) or CatalogCountry(code, code.upper()) for code in seen),
                    key=lambda c: c.name,
                ),
            )
        return products, where

    def _fetch_by_country(
        self, reward_kind: RewardKind
    ) -> tuple[list[Product], dict[int, list[str]]]:
        assert self.client is not None
        products: dict[int, Product] = {}
        where: dict[int, list[str]] = {}
        for code in self.country_codes:
            try:
                found = self._pages(category_type=reward_kind.category_type, filters={
                    "country": code})  # fmt: skip
            except xe.XoxodayError as exc:
                # One country Xoxoday refuses (a code it does not know) must not empty the rest.
                log.error("REWARDS_COUNTRIES: the %s catalog could not be fetched: %s", code, exc)
                continue
            for product in found:
                if not self._orderable(product, reward_kind):
                    continue
                products.setdefault(product.product_id, product)
                where.setdefault(product.product_id, []).append(code)
        return list(products.values()), where

    def _pages(self, **kwargs: Any) -> list[Product]:
        """Every page of a catalog query, renewing the refresh's lease between pages."""
        assert self.client is not None
        return self.client.all_vouchers(on_page=self._renew, **kwargs)

    def _store(
        self,
        reward_type: str,
        products: list[Product],
        where: dict[int, list[str]],
        currency: str | None,
    ) -> None:
        stamp = f"{utcnow()} {uuid.uuid4().hex[:6]}"
        store.upsert(
            self.database,
            reward_type,
            [_row(p, currency, where.get(p.product_id, ())) for p in products],
            stamp,
        )
        store.drop_unseen(self.database, reward_type, stamp)

    def _fetch_all(self, reward_kind: RewardKind) -> list[Product]:
        products = self._pages(category_type=reward_kind.category_type)
        if not reward_kind.operators_and_plans:
            return [p for p in products if self._orderable(p, reward_kind)]
        operators = [p for p in products if p.parent_product_id is None]
        store.replace_type(
            self.database,
            operators_key(reward_kind),
            [p.model_dump(by_alias=True, mode="json") for p in operators],
        )
        plans: list[Product] = []
        for operator in operators:
            for plan in self._pages(
                category_type=reward_kind.category_type, parent_product_id=operator.product_id
            ):
                if not self._orderable(plan, reward_kind):
                    continue
                parent = plan.parent_product_id or operator.product_id
                plans.append(plan.model_copy(update={"parent_product_id": parent}))
        return plans

    def _orderable(self, product: Product, reward_kind: RewardKind) -> bool:
        """False for a product whose productMeta requires checkout fields its kind does not
        collect (the registry says which it does): placeOrder would refuse it after approval
        (§13 row 6). Logged once per product."""
        try:
            missing = missing_fields(product.product_meta, reward_kind.collects)
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
        """Refresh when the cache is older than max_age_s; keep the old copy on failure.
        This waits for the whole refresh (the CLI, a first start with nothing cached)."""
        if not self.is_stale():
            return
        try:
            self.refresh()
        except (xe.XoxodayError, CatalogUnavailable) as exc:
            if self.refreshed_at() is None:
                raise CatalogUnavailable(f"the Xoxoday catalog is unavailable: {exc}") from exc
            log.warning("catalog refresh failed, keeping the cached copy: %s", exc)

    def refresh_if_stale(self) -> bool:
        """Start a background refresh when the cache is older than max_age_s; never waits."""
        return self.is_stale() and self.refresh_in_background()

    # --- reading ----------------------------------------------------------------------------

    def product(self, product_id: int, *, refresh: bool = False) -> tuple[str, Product]:
        """The reward type and product for an id; InvalidReward when it is not in the catalog.

        Only the worker passes `refresh` (when the id is missing from a stale catalog, ask
        Xoxoday for that one product: a call or two, never a whole refresh on a placement
        thread); anything answering Slack must not wait on Xoxoday.
        """
        found = store.get(self.database, product_id)
        if found is None and refresh and self.client is not None and self.is_stale():
            self._fetch_one(product_id)
            found = store.get(self.database, product_id)
        if found is None or not is_kind(found[0]):  # operators are not ordered
            raise InvalidReward(
                f"product {product_id} is not in the Xoxoday catalog", field="product"
            )
        reward_type, data = found
        return reward_type, Product.model_validate(data)

    def _fetch_one(self, product_id: int) -> None:
        """One product, from the first kind's catalog that lists it (includeProducts)."""
        assert self.client is not None
        currency = self.wallet.known_currency() if self.wallet is not None else None
        for reward_kind in catalog_kinds():
            if reward_kind.operators_and_plans:
                continue  # plans are listed under their operator only
            try:
                found = self.client.get_vouchers(
                    category_type=reward_kind.category_type, include_products=[product_id]
                )
            except xe.XoxodayError as exc:
                log.warning("could not fetch product %s: %s", product_id, exc)
                return
            found = [
                p for p in found if p.product_id == product_id and self._orderable(p, reward_kind)
            ]
            if found:
                names = {c.iso.lower(): c for c in self.countries() if c.iso}
                row = _row(found[0], currency, _codes(found[0].countries, names))
                store.upsert(self.database, reward_kind.key, [row], f"{utcnow()} one")
                return

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

    def search(
        self,
        reward_type: str,
        text: str = "",
        limit: int = 100,
        *,
        country: str | None = None,
        within: Decimal | None = None,
    ) -> list[Product]:
        """Products of a type whose name (or operator's name) contains every word of `text`;
        with `country`, sold there; with `within` (an amount of the wallet's currency), only
        those some value of which costs no more. Read from the cache in one query (a real
        catalog holds thousands of gift cards)."""
        words = text.lower().split()
        if self.operators(reward_type):
            return self._search_plans(reward_type, words, limit)
        currency = self.wallet.known_currency() if self.wallet is not None else None
        ceiling = None if within is None else int(within / costs.CENT)
        found: list[Product] = []
        scanned = 0
        while True:
            batch = store.search(
                self.database,
                reward_type,
                words,
                country=country or None,
                max_cost_cents=ceiling,
                limit=limit,
                offset=scanned,
            )
            scanned += len(batch)
            products = [Product.model_validate(data) for data in batch]
            if within is None:
                return products
            # The query narrows by the smallest value's cost; the exact check is in Decimal.
            found += [p for p in products if costs.fits(p, within, currency)]
            if len(batch) < limit or len(found) >= limit:
                return found[:limit]

    def _search_plans(self, reward_type: str, words: list[str], limit: int) -> list[Product]:
        """Top-up plans, found by their name or their operator's."""
        products = self.products(reward_type)
        names = self.operator_names(reward_type)
        haystacks = [f"{names.get(p.parent_product_id or 0, '')} {p.name}" for p in products]
        hits = [
            product
            for product, haystack in zip(products, haystacks, strict=True)
            if all(word in haystack.lower() for word in words)
        ]
        return hits[:limit]

    def countries(self) -> list[CatalogCountry]:
        """The countries gift cards are kept for, in the order people are offered them."""
        return store.countries(self.database)

    def sold_in(self, product_id: int, country: str) -> bool:
        return store.sold_in(self.database, product_id, country)

    def countries_of(self, product_id: int) -> list[str]:
        return store.countries_of(self.database, product_id)
