"""The recipient's choice modal, as plain data: where they live, a gift card sold there whose
cost fits what they were given, and a value that fits, each shown in both currencies ("25 GBP,
about 32.00 USD of your 50 USD"). Costs are estimates at the day's rate (services/costs.py);
what Xoxoday charges settles it."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from handlers import messages as msg
from handlers import mrkdwn as md
from handlers.ids import Action, Block, Callback
from handlers.metadata import ChoiceModalMeta
from handlers.views import Where, country_block
from services import costs
from services.choices import Offer
from services.money import fmt_amount, fmt_money
from services.xoxoday.models import Product

MAX_LABEL = 75  # a select option's text


@dataclass(frozen=True)
class Picked:
    """What the recipient picked so far: the product, and what of it fits their amount."""

    product: Product | None = None
    values: list[Decimal] = field(default_factory=list)  # fixed values that fit
    up_to: Decimal | None = None  # the largest open amount that fits
    value: str | None = None  # the value chosen or typed so far


def _text(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:150], "emoji": True}


def _option(label: str, value: str) -> dict[str, Any]:
    if len(label) > MAX_LABEL:
        label = label[: MAX_LABEL - 1] + "…"
    return {"text": {"type": "plain_text", "text": label, "emoji": True}, "value": value}


def _input(block_id: str, label: str, element: dict[str, Any], **extra: Any) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": element,
    }
    if extra.get("hint"):
        block["hint"] = _text(extra["hint"])
    if extra.get("dispatch"):
        block["dispatch_action"] = True
    return block


def option_label(product: Product, offer: Offer) -> str:
    """A product in the search: its name and what of it fits ("up to 39.06 GBP")."""
    currency = offer.currency
    if product.is_open_value:
        top = costs.max_amount(product, offer.amount, currency)
        amounts = f"up to {fmt_amount(top)}" if top is not None else "none fits"
    else:
        fitting = costs.fitting_values(product, offer.amount, currency)
        amounts = ", ".join(fmt_amount(v) for v in fitting[:6]) or "none fits"
    return f"{product.name} ({amounts} {product.currency_code})"


def offer_line(offer: Offer) -> str:
    request = offer.request
    line = (
        f"🎁 *{msg.money(offer.amount, offer.currency)}* from {msg.requester(request)} to "
        "spend on a gift card sold where you live."
    )
    if request.message:
        line += "\n" + md.quote(request.message)
    return line


def choice_modal(meta: ChoiceModalMeta, offer: Offer, where: Where, picked: Picked) -> dict:
    """The modal for `offer`, in `meta.country`, with what was picked kept."""
    currency = offer.currency
    product_select: dict[str, Any] = {
        "type": "external_select",
        "action_id": Action.CHOICE_PRODUCT,
        "placeholder": _text("Search the gift cards"),
        "min_query_length": 0,
    }
    if picked.product is not None:
        label = option_label(picked.product, offer)
        product_select["initial_option"] = _option(label, str(picked.product.product_id))
    country = where.country(meta.country)
    named = next((c.name for c in where.countries if c.code == country), None)
    within = f"costing up to {fmt_money(offer.amount, currency)}"
    hint = f"Sold in {named}, {within}." if named else f"Gift cards {within}."
    blocks: list[dict[str, Any]] = [msg._section(offer_line(offer))]
    if where.countries:
        blocks.append(
            country_block(
                where,
                meta.country,
                block_id=Block.CHOICE_COUNTRY,
                action_id=Action.CHOICE_COUNTRY,
                label="Where you live",
            )
        )
    blocks.append(
        _input(Block.CHOICE_PRODUCT, "Gift card", product_select, hint=hint, dispatch=True)
    )
    if picked.product is not None:
        blocks += _value_blocks(offer, picked)
    blocks.append(
        msg._context(
            f"Costs in {md.escape(currency)} are estimated at today's rate; Xoxoday charges "
            f"the rate of the day it places the order. What you do not spend goes back to "
            f"{msg.requester(offer.request)}'s budget."
        )
    )
    return {
        "type": "modal",
        "callback_id": Callback.CHOICE,
        "title": _text("Choose your reward"),
        "submit": _text("Choose"),
        "close": _text("Later"),
        "private_metadata": meta.dump(),
        "blocks": blocks,
    }


def _value_blocks(offer: Offer, picked: Picked) -> list[dict[str, Any]]:
    product = picked.product
    assert product is not None
    currency, amount = offer.currency, offer.amount
    if not product.is_open_value:
        options = [
            _option(costs.in_both(product, v, currency, amount), format(v, "f"))
            for v in picked.values
        ]
        if not options:
            return [msg._context("None of its values fits; choose another gift card.")]
        select: dict[str, Any] = {
            "type": "static_select",
            "action_id": Action.CHOICE_VALUE,
            "options": options[:100],
            "placeholder": _text("Choose a value"),
        }
        chosen = next((o for o in options if o["value"] == picked.value), None)
        if chosen is not None:
            select["initial_option"] = chosen
        return [_input(Block.CHOICE_VALUE, f"Value ({product.currency_code})", select)]
    if picked.up_to is None:
        return [msg._context("Even its smallest amount costs more; choose another gift card.")]
    element: dict[str, Any] = {
        "type": "number_input",
        "action_id": Action.CHOICE_AMOUNT,
        "is_decimal_allowed": True,
        "max_value": format(picked.up_to, "f"),
        "dispatch_action_config": {"trigger_actions_on": ["on_enter_pressed"]},
    }
    low = costs.smallest_value(product)
    if low is not None:
        element["min_value"] = format(low, "f")
    if picked.value:
        element["initial_value"] = picked.value
    top = costs.in_both(product, picked.up_to, currency, amount)
    hint = f"Up to {top}; press Enter to see what yours costs."
    blocks = [
        _input(
            Block.CHOICE_AMOUNT,
            f"Amount ({product.currency_code})",
            element,
            hint=hint,
            dispatch=True,
        )
    ]
    typed = _decimal(picked.value)
    if typed is not None:
        shown = costs.in_both(product, typed, currency, amount)
        blocks.append({"type": "context", "elements": [{"type": "plain_text", "text": shown}]})
    return blocks


def notice_modal(text: str) -> dict[str, Any]:
    """A modal that only tells something (the offer ended, the choice was recorded)."""
    return {
        "type": "modal",
        "title": _text("Your reward"),
        "close": _text("Close"),
        "blocks": [msg._section(text)],
    }


def chosen_text(offer: Offer, product_name: str, denomination: Decimal, currency: str) -> str:
    face = md.escape(fmt_money(denomination, currency))
    return (
        f"✅ You chose *{md.escape(product_name)}* ({face}) with the "
        f"{msg.money(offer.amount, offer.currency)} from {msg.requester(offer.request)}. "
        "The code comes to you by DM as soon as Xoxoday delivers it."
    )


def _decimal(text: str | None) -> Decimal | None:
    try:
        return Decimal(text) if text else None
    except ArithmeticError:
        return None
