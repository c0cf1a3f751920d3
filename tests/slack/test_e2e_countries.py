"""/reward by country, end to end (signed requests, the Slack stand-in, the simulator): the
form starts in REWARDS_DEFAULT_COUNTRY, its country field filters the gift cards by where they
are sold, and a foreign product shows what it costs the wallet before the request is made."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from bot.local import LocalStack
from storage import requests as request_store
from tests.support import SimControl


def labels(stack: LocalStack, view_id: str, query: str = "") -> list[str]:
    response = stack.driver.options("UREQUESTER", view_id, "product", query)
    assert response.status_code == 200, response.text
    return [o["text"]["text"] for o in response.json()["options"]]


def blocks_of(stack: LocalStack, view_id: str) -> dict[str, dict]:
    return {b.get("block_id"): b for b in stack.slack.view(view_id)["blocks"]}


@pytest.fixture
def by_country(make_stack: Callable[..., LocalStack]) -> LocalStack:
    return make_stack(rewards_countries="usa,india,uk", rewards_default_country="usa")


def test_the_country_field_filters_the_gift_cards(by_country: LocalStack, xo: SimControl) -> None:
    stack = by_country
    view_id = stack.open_form("UREQUESTER")
    country = blocks_of(stack, view_id)["country"]
    assert country["element"]["initial_option"]["value"] == "usa"
    assert [o["text"]["text"] for o in country["element"]["options"]] == [
        "Every country",
        "USA",
        "India",
        "UK",
    ]
    usa = labels(stack, view_id)
    assert "Google Play Gift Card (10, 25 USD)" in usa and not any("GBP" in x for x in usa)
    before = xo.calls("getVouchers")
    stack._changed(
        "UREQUESTER", view_id, lambda: stack.driver.select(
            "UREQUESTER", view_id, "country", "country", "uk")
    )  # fmt: skip
    assert labels(stack, view_id) == [
        "Argos Gift Card (5–200 GBP)",
        "Tesco Gift Card (10, 25, 50 GBP)",
    ]
    assert labels(stack, view_id, "tesco") == ["Tesco Gift Card (10, 25, 50 GBP)"]
    stack._changed(
        "UREQUESTER", view_id, lambda: stack.driver.select(
            "UREQUESTER", view_id, "country", "country", "any")
    )  # fmt: skip
    everywhere = labels(stack, view_id)
    assert (
        "Tesco Gift Card (10, 25, 50 GBP)" in everywhere
        and "Flipkart Gift Card (500, 1,000, 2,000 INR)" in everywhere
    )
    assert xo.calls("getVouchers") == before  # read from the cache: nothing asked while typing


def test_a_foreign_products_cost_in_the_wallets_currency_before_submitting(
    by_country: LocalStack,
) -> None:
    stack = by_country
    view_id = stack.open_form("UREQUESTER")
    stack._changed(
        "UREQUESTER", view_id, lambda: stack.driver.select(
            "UREQUESTER", view_id, "country", "country", "uk")
    )  # fmt: skip
    stack.choose("UREQUESTER", view_id, "gift_card", 31010)  # Tesco, in pounds
    values = blocks_of(stack, view_id)["denomination_choice"]["element"]["options"]
    assert [o["text"]["text"] for o in values] == [
        "10 GBP (about 12.80 USD)",
        "25 GBP (about 32.00 USD)",
        "50 GBP (about 64.00 USD)",
    ]
    stack.choose("UREQUESTER", view_id, "gift_card", 31011)  # Argos: any amount, in pounds
    amount = blocks_of(stack, view_id)["denomination_amount"]
    assert amount["hint"]["text"] == (
        "From 5 to 200 GBP. 1 GBP, about 1.28 USD today; press Enter to see what yours costs."
    )
    stack._changed(
        "UREQUESTER", view_id, lambda: stack.driver.select(
            "UREQUESTER", view_id, "denomination_amount", "denomination_amount", "25")
    )  # fmt: skip
    text = stack.slack.plain_text(stack.slack.view(view_id)["blocks"])
    assert "25 GBP, about 32.00 USD, at today's rate" in text
    stack._changed(
        "UREQUESTER", view_id, lambda: stack.driver.select(
            "UREQUESTER", view_id, "recipients", "recipients", ["UANA"])
    )  # fmt: skip
    assert stack.driver.submit("UREQUESTER", view_id).text == ""
    request = request_store.get(stack.bot.runtime.database, 1)
    assert request is not None and request.total_cost == Decimal("32.00")
