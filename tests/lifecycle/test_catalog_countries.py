"""The gift-card catalog by country (issue 18): fetched per REWARDS_COUNTRIES code with the
day's rates, searched by country and by what fits an amount of the wallet's currency, and a
real account's size refreshed within Xoxoday's 50 getVouchers a minute without holding up
the bot."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from bot.runtime import Runtime
from services.catalog import Catalog
from services.xoxoday.ratelimit import RateLimiter
from simulator.xoxoday import catalog as sim
from storage.catalog import CatalogCountry
from tests.lifecycle.conftest import gift, states
from tests.support import HANG_S, SimControl, make_client, wait_for


def names(products: list) -> list[str]:
    return [p.name for p in products]


def test_each_countrys_catalog_is_fetched_and_searched_by_country(
    make_runtime: Callable[..., Runtime], xo: SimControl
) -> None:
    runtime = make_runtime(rewards_countries="usa,india,uk")
    catalog = runtime.catalog
    assert catalog.countries() == [
        CatalogCountry("usa", "USA", "US"),
        CatalogCountry("india", "India", "IN"),
        CatalogCountry("uk", "UK", "GB"),
    ]
    assert names(catalog.search("gift_card", country="uk")) == [
        "Argos Gift Card",
        "Tesco Gift Card",
    ]
    india = names(catalog.search("gift_card", country="india"))
    assert india == ["Amazon.in Gift Card", "Flipkart Gift Card", "Google Play Gift Card"]
    assert "Google Play Gift Card" in names(catalog.search("gift_card", country="usa"))
    assert catalog.countries_of(sim.GOOGLE_PLAY) == ["india", "usa"]
    # Germany is not among REWARDS_COUNTRIES: Zalando was never fetched.
    assert "Zalando Gift Card" not in names(catalog.search("gift_card"))
    # The whole catalog's words search still works across countries.
    assert names(catalog.search("gift_card", "PLAY card")) == [
        "Google Play Gift Card",
    ]
    # Every fetch asked for the day's rate: the wallet cost of a foreign product is known.
    _, tesco = catalog.product(sim.TESCO_UK)
    assert tesco.exchange_rate == Decimal("1.28") and tesco.currency_code == "GBP"


def test_what_fits_an_amount_of_the_wallets_currency(
    make_runtime: Callable[..., Runtime],
) -> None:
    catalog = make_runtime(rewards_countries="usa,india,uk").catalog
    # 10 USD: Tesco's smallest card is 10 GBP (12.80 USD); Argos' open range starts at 5 GBP.
    assert names(catalog.search("gift_card", country="uk", within=Decimal(10))) == [
        "Argos Gift Card"
    ]
    assert names(catalog.search("gift_card", country="uk", within=Decimal("12.80"))) == [
        "Argos Gift Card",
        "Tesco Gift Card",
    ]
    usa = names(catalog.search("gift_card", country="usa", within=Decimal(9)))
    assert usa == ["Visa Virtual Prepaid"]  # 5..500 USD; every other card starts at 10
    assert catalog.search("gift_card", country="india", within=Decimal(5)) == []


def test_without_rewards_countries_the_whole_catalog_is_fetched_once(
    make_runtime: Callable[..., Runtime], xo: SimControl
) -> None:
    before = xo.calls("getVouchers")
    catalog = make_runtime().catalog
    # One page per kind, and one per top-up operator: no page per country.
    assert xo.calls("getVouchers") - before == 6
    codes = [c.code for c in catalog.countries()]
    assert set(codes) == {"usa", "india", "uk", "germany", "france"}
    assert names(catalog.search("gift_card", country="france")) == ["Zalando Gift Card"]
    assert catalog.countries_of(sim.GOOGLE_PLAY) == ["india", "usa"]
    assert len(catalog.search("gift_card")) == 10


def test_a_product_gone_from_xoxoday_is_gone_after_the_next_refresh(
    make_runtime: Callable[..., Runtime], xo: SimControl
) -> None:
    runtime = make_runtime(rewards_countries="uk")
    assert xo.synthetic(10) > 10
    runtime.catalog.refresh()
    assert len(runtime.catalog.search("gift_card", "brand", country="uk")) == 2
    xo.reset()
    runtime.catalog.refresh()
    assert runtime.catalog.search("gift_card", "brand", country="uk") == []
    assert runtime.catalog.countries_of(100_003) == []


def test_a_real_accounts_catalog_is_refreshed_within_50_getvouchers_a_minute_in_the_background(
    make_runtime: Callable[..., Runtime], xo: SimControl, soak: bool
) -> None:
    """20,000 products are 200+ pages. Xoxoday's minute is shortened to WINDOW seconds on
    both sides (the simulator refuses the 51st call in any window with a 429, the client's
    limiter paces by the same window, a little longer), limits unchanged: a refresh takes at
    least 4 windows, meets no 429, and meanwhile the bot records, approves and places a
    request. `make soak` runs it with the real minute."""
    window = 60.0 if soak else 3.0
    everywhere = ("usa", "india", "uk", "germany", "france")
    runtime = make_runtime(rewards_countries=",".join(everywhere))
    xo.synthetic(20_000)
    xo.config(rate_scale=1, rate_window_s=window)
    client = make_client(xo.base_url, rate_scale=1)
    # The client's margin over Xoxoday's minute: 1 s in 61 in production; here 2 s, not 1/60
    # of the short window (50 ms), which a busy machine exceeds between the limiter letting a
    # call go and the simulator counting it (the 51st would then land in the 1st's window).
    client.limiter._window = window + (1.0 if soak else 2.0)
    # The refresh is held after its first page until the order is delivered: the order cannot
    # be waiting for the refresh, however slowly a loaded machine places it.
    delivered = threading.Event()
    get_vouchers, asked = client.get_vouchers, itertools.count()

    def held_after_the_first_page(*args: Any, **kwargs: Any) -> Any:
        if next(asked) > 0:
            assert delivered.wait(HANG_S), "the order waited for the catalog refresh"
        return get_vouchers(*args, **kwargs)

    client.get_vouchers = held_after_the_first_page  # type: ignore[method-assign]
    catalog = Catalog(runtime.database, client, wallet=runtime.wallet, countries=everywhere)
    calls_before, limited_before = xo.calls("getVouchers"), xo.rate_limited("getVouchers")
    began = time.monotonic()
    assert catalog.refresh_in_background()
    assert not catalog.refresh_in_background()  # one at a time
    runtime.worker.start()
    decision = runtime.rewards.create("UREQUESTER", [gift()])
    runtime.rewards.approve(decision.request.id, "UAPPROVER")
    wait_for(lambda: states(runtime, decision.request.id) == ["delivered"], timeout=HANG_S)
    assert catalog.refreshing()
    delivered.set()
    # Paced by the window: wait while pages keep coming (a stall of HANG_S is a hang).
    fetched, progressed = -1, time.monotonic()
    while not catalog.wait_refreshed(timeout_s=window):
        if xo.calls("getVouchers") != fetched:
            fetched, progressed = xo.calls("getVouchers"), time.monotonic()
        assert time.monotonic() - progressed < HANG_S, "the refresh stopped fetching pages"
    took = time.monotonic() - began
    pages = xo.calls("getVouchers") - calls_before
    assert pages >= 200 and xo.rate_limited("getVouchers") == limited_before
    assert took >= (pages // 50) * window  # paced: at most 50 in any window
    uk = catalog.search("gift_card", "brand", country="uk", limit=10_000)
    assert len(uk) == 4000
    print(f"refreshed {pages} pages in {took:.1f} s: {60 * pages / took:.1f} getVouchers a minute "
          f"(window {window:g} s)")  # fmt: skip
    client.close()


def test_closing_the_runtime_ends_a_background_refresh_before_the_database_closes(
    make_runtime: Callable[..., Runtime], xo: SimControl
) -> None:
    """A refresh paced by the rate limit is waiting for its next page when the bot stops:
    closing ends it and waits for its thread before the database closes (a refresh thread
    still writing once crashed a test process with a segfault as the database closed)."""
    runtime = make_runtime()
    xo.synthetic(1_000)  # 10 pages and more
    runtime.client.limiter = RateLimiter({"getVouchers": 3}, window_s=3600)  # page 4: an hour
    asked = xo.calls("getVouchers")
    assert runtime.catalog.refresh_in_background()
    wait_for(lambda: xo.calls("getVouchers") == asked + 3)
    assert runtime.catalog.refreshing()
    runtime.close()
    assert not runtime.catalog.refreshing()
    assert xo.calls("getVouchers") == asked + 3  # no page asked for after the stop
    assert not runtime.catalog.refresh_in_background()  # a stopped catalog starts none
