"""Modals as plain data: the /reward form (which follows the reward type) and the reject form.

The form shows gift cards of the country chosen (REWARDS_COUNTRIES; REWARDS_DEFAULT_COUNTRY
first), and a foreign product's values with what each costs the wallet, as estimated at the
day's rate (services/costs.py): "25 GBP (about 32.00 USD)". "Their choice" asks for an amount
of the wallet's currency instead of a product.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from handlers import mrkdwn as md
from handlers.form_notes import FormNotes
from handlers.forms import RewardForm
from handlers.ids import Action, Block, Callback
from handlers.metadata import RejectModalMeta, RewardModalMeta
from services import costs
from services.catalog import CatalogCountry
from services.money import fmt_amount
from services.reward_types import RewardKind, all_kinds, kind_or_default
from services.xoxoday.models import Product

EVERY_COUNTRY = "any"  # the country select's "Every country"


@dataclass(frozen=True)
class Where:
    """What a form needs to show prices where people live: the countries kept, the one a
    form starts with, and the wallet's currency every cost is estimated in."""

    countries: Sequence[CatalogCountry] = field(default_factory=tuple)
    default_country: str | None = None
    wallet_currency: str | None = None

    def country(self, chosen: str) -> str | None:
        """The country a form shows (None: every one): the chosen, else the default."""
        code = chosen or self.default_country or EVERY_COUNTRY
        return None if code == EVERY_COUNTRY else code


@dataclass(frozen=True)
class PhoneNote:
    """What an operator lookup found about the number typed, shown under the phone field."""

    phone: str  # as the person typed it
    operator: str  # the number's operator, as Xoxoday names it
    mismatch: bool = False  # the chosen plan is another operator's
    plan_operator: str | None = None

    def mrkdwn(self) -> str:
        note = f"📶 {md.escape(self.phone)} is on *{md.escape(self.operator)}*"
        if self.mismatch:
            plan = md.escape(self.plan_operator or "the plan's operator")
            note += f", not {plan}: pick a {md.escape(self.operator)} plan"
        return note


def _text(text: str, emoji: bool = True) -> dict[str, Any]:
    return {"type": "plain_text", "text": text[:150], "emoji": emoji}


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": _text(label[:75]), "value": value}


def _input(
    block_id: str,
    label: str,
    element: dict[str, Any],
    *,
    optional: bool = False,
    hint: str | None = None,
    dispatch: bool = False,
) -> dict[str, Any]:
    block: dict[str, Any] = {
        "type": "input",
        "block_id": block_id,
        "label": _text(label),
        "element": element,
        "optional": optional,
    }
    if hint:
        block["hint"] = _text(hint)
    if dispatch:
        block["dispatch_action"] = True
    return block


def product_label(product: Product, operator: str | None = None) -> str:
    """An option label: name and what amounts it takes, within Slack's 75 characters."""
    if product.is_open_value:
        low, high = product.min_value or Decimal(0), product.max_value or Decimal(0)
        amounts = f"{fmt_amount(low)}–{fmt_amount(high)}"
    else:
        amounts = ", ".join(fmt_amount(v) for v in product.value_denominations[:6])
    prefix = f"{operator} · " if operator and operator not in product.name else ""
    label = f"{prefix}{product.name} ({amounts} {product.currency_code})"
    return label if len(label) <= 75 else label[:74] + "…"


def reward_modal(
    meta: RewardModalMeta,
    form: RewardForm | None = None,
    product: Product | None = None,
    *,
    operator: str | None = None,
    phone_note: PhoneNote | None = None,
    notes: FormNotes | None = None,
    where: Where | None = None,
) -> dict[str, Any]:
    """The /reward modal for `meta.reward_type`, with what was typed kept as initial values.

    `operator` names the top-up plan's operator; `phone_note` is what a lookup found out
    about the number typed (shown under the phone field); `notes` are the requester's budget
    (on top) and earlier rewards of the chosen recipients (under them); `where` the countries
    and the wallet's currency.
    """
    notes = notes or FormNotes()
    form = form or RewardForm()
    where = where or Where()
    reward_kind = kind_or_default(meta.reward_type)
    types = [_option(each.label, each.key) for each in all_kinds()]
    type_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": Action.REWARD_TYPE,
        "options": types,
        "initial_option": next(o for o in types if o["value"] == reward_kind.key),
    }
    product_select: dict[str, Any] = {
        "type": "external_select",
        "action_id": Action.PRODUCT,
        "placeholder": _text("Search the catalog"),
        "min_query_length": 0,
    }
    if product is not None:
        product_select["initial_option"] = _option(
            product_label(product, operator), str(product.product_id)
        )
    blocks: list[dict[str, Any]] = [
        *notes.budget_blocks(),
        _input(Block.REWARD_TYPE, "Reward", type_select, dispatch=True, hint=reward_kind.summary),
    ]
    if reward_kind.chooses_from:  # the recipients choose the product: only an amount here
        blocks.append(_choice_amount_block(form, where.wallet_currency))
    else:
        if reward_kind.by_country and where.countries:
            blocks.append(country_block(where, meta.country))
        blocks.append(
            _input(Block.PRODUCT, reward_kind.product_label, product_select, dispatch=True)
        )
    if product is not None and not reward_kind.chooses_from:
        blocks.append(_denomination_block(product, form, where.wallet_currency))
        blocks += _cost_note(product, form, where.wallet_currency)
    blocks.append(_recipients_block(reward_kind, form))
    blocks += notes.duplicate_blocks()
    blocks.extend(_detail_blocks(reward_kind, form, product, phone_note))
    message = {
        "type": "plain_text_input",
        "action_id": Action.MESSAGE,
        "multiline": True,
        "max_length": 500,
        "placeholder": _text("What is it for? The recipient sees this."),
    }
    if form.message:
        message["initial_value"] = form.message
    blocks.append(_input(Block.MESSAGE, "Message", message, optional=True))
    if not reward_kind.chooses_from:
        notify = _checkbox(
            Action.NOTIFY, "Xoxoday also emails the reward to the recipient", form.notify_email
        )
        blocks.append(_input(Block.NOTIFY, "Email", notify, optional=True))
    return {
        "type": "modal",
        "callback_id": Callback.REWARD,
        "title": _text("Send a reward"),
        "submit": _text("Request"),
        "close": _text("Cancel"),
        "private_metadata": meta.dump(),
        "blocks": blocks,
    }


def _detail_blocks(
    reward_kind: RewardKind,
    form: RewardForm,
    product: Product | None,
    phone_note: PhoneNote | None,
) -> list[dict[str, Any]]:
    """What the kind needs besides the email (its registry `details`, one input each, with
    the field's name as block and action id), and a phone number for a product Xoxoday marks
    `isPhoneNumberMandatory` (sent as `contact`; in the same box as a top-up's number)."""
    blocks: list[dict[str, Any]] = []
    program = (product.loyalty_name if product else None) or "the airline"
    fields = [
        (d.field, d.label, d.hint.format(program=program), d.placeholder, d.max_length)
        for d in reward_kind.details
    ]
    if (
        product is not None
        and product.is_phone_number_mandatory
        and not reward_kind.needs(Block.PHONE)
    ):
        hint = "International format, starting with + and the country code."
        fields.append((Block.PHONE, "Recipient's phone number", hint, "+919876543210", None))
    lookups = {d.field for d in reward_kind.details if d.looks_up_operator}
    for name, label, hint, placeholder, max_length in fields:
        element: dict[str, Any] = {"type": "plain_text_input", "action_id": name}
        if placeholder:  # Slack refuses an empty one
            element["placeholder"] = _text(placeholder)
        if max_length:
            element["max_length"] = max_length
        if form.details.get(name):
            element["initial_value"] = form.details[name]
        lookup = name in lookups and reward_kind.operators_and_plans
        if lookup:
            # Enter looks the number's operator up, in the background.
            element["dispatch_action_config"] = {"trigger_actions_on": ["on_enter_pressed"]}
        blocks.append(_input(name, label, element, hint=hint, dispatch=lookup))
        if lookup and phone_note:
            note = {"type": "mrkdwn", "text": phone_note.mrkdwn()}
            blocks.append({"type": "context", "elements": [note]})
    if reward_kind.operators_and_plans:
        checkbox = _checkbox(
            Action.OPERATOR_CHECK,
            "Check that the number belongs to the plan's operator",
            form.operator_check,
        )
        blocks.append(_input(Block.OPERATOR_CHECK, "Operator", checkbox, optional=True))
    return blocks


def _checkbox(action_id: str, text: str, checked: bool) -> dict[str, Any]:
    """One yes/no checkbox; the form reads it back as ticked or not."""
    option = _option(text, "yes")
    element: dict[str, Any] = {"type": "checkboxes", "action_id": action_id, "options": [option]}
    if checked:
        element["initial_options"] = [option]
    return element


def country_block(
    where: Where,
    chosen: str,
    *,
    block_id: str = Block.COUNTRY,
    action_id: str = Action.COUNTRY,
    label: str = "Country",
) -> dict[str, Any]:
    """Where the gift cards are sold: the countries kept, "Every country" first."""
    options = [_option("Every country", EVERY_COUNTRY)] + [
        _option(c.name, c.code) for c in where.countries[:99]
    ]
    shown = where.country(chosen) or EVERY_COUNTRY
    select: dict[str, Any] = {
        "type": "static_select",
        "action_id": action_id,
        "options": options,
        "initial_option": next((o for o in options if o["value"] == shown), options[0]),
    }
    hint = "Gift cards sold there, in their own currency."
    return _input(block_id, label, select, dispatch=True, hint=hint)


def _choice_amount_block(form: RewardForm, currency: str | None) -> dict[str, Any]:
    element: dict[str, Any] = {
        "type": "number_input",
        "action_id": Action.DENOMINATION_AMOUNT,
        "is_decimal_allowed": True,
        "min_value": "0.01",
    }
    if form.denomination:
        element["initial_value"] = form.denomination
    hint = (
        "Each recipient chooses a gift card sold where they live that costs up to this; "
        "what they do not spend comes back to your budget."
    )
    label = f"Amount each ({currency})" if currency else "Amount each"
    return _input(Block.DENOMINATION_AMOUNT, label, element, hint=hint)


def _foreign(product: Product, wallet_currency: str | None) -> bool:
    """A product priced in another currency than the wallet's, with a rate to estimate by."""
    return bool(
        wallet_currency
        and product.currency_code.upper() != wallet_currency.upper()
        and costs.cost(product, Decimal(1), wallet_currency) is not None
    )


def _cost_note(
    product: Product, form: RewardForm, wallet_currency: str | None
) -> list[dict[str, Any]]:
    """What the amount typed for a foreign product costs the wallet, before submitting."""
    amount = form.amount
    if not product.is_open_value or amount is None or not _foreign(product, wallet_currency):
        return []
    words = costs.in_both(product, amount, wallet_currency)
    text = f"💱 {words}, at today's rate; Xoxoday charges the rate of the day it places it."
    return [{"type": "context", "elements": [{"type": "plain_text", "text": text[:2000]}]}]


def _denomination_block(
    product: Product, form: RewardForm, wallet_currency: str | None = None
) -> dict[str, Any]:
    currency = product.currency_code
    foreign = _foreign(product, wallet_currency)
    if product.is_open_value:
        element: dict[str, Any] = {
            "type": "number_input",
            "action_id": Action.DENOMINATION_AMOUNT,
            "is_decimal_allowed": True,
        }
        if foreign:  # Enter shows what the amount costs the wallet
            element["dispatch_action_config"] = {"trigger_actions_on": ["on_enter_pressed"]}
        if product.min_value is not None:
            element["min_value"] = format(product.min_value, "f")
        if product.max_value is not None:
            element["max_value"] = format(product.max_value, "f")
        if form.denomination:
            element["initial_value"] = form.denomination
        low, high = (
            fmt_amount(product.min_value or Decimal(0)),
            fmt_amount(product.max_value or Decimal(0)),
        )
        hint = f"From {low} to {high} {currency}."
        if foreign:
            unit = costs.in_both(product, Decimal(1), wallet_currency)
            hint += f" {unit} today; press Enter to see what yours costs."
        return _input(
            Block.DENOMINATION_AMOUNT, f"Amount ({currency})", element, hint=hint, dispatch=foreign
        )
    options = [
        _option(_value_label(product, v, wallet_currency if foreign else None), format(v, "f"))
        for v in product.value_denominations
    ]
    choice: dict[str, Any] = {
        "type": "static_select",
        "action_id": Action.DENOMINATION_CHOICE,
        "options": options[:100],
        "placeholder": _text("Choose an amount"),
    }
    chosen = next(
        (o for o in options if form.amount is not None and o["value"] == format(form.amount, "f")),
        None,
    )
    if chosen:
        choice["initial_option"] = chosen
    return _input(Block.DENOMINATION_CHOICE, f"Amount ({currency})", choice)


def _value_label(product: Product, value: Decimal, wallet_currency: str | None) -> str:
    """ "25 GBP (about 32.00 USD)" for a foreign product; "25 USD" otherwise."""
    face = f"{fmt_amount(value)} {product.currency_code}"
    estimate = costs.cost(product, value, wallet_currency) if wallet_currency else None
    return f"{face} (about {estimate} {wallet_currency})" if estimate is not None else face


def _recipients_block(reward_kind: RewardKind, form: RewardForm) -> dict[str, Any]:
    single = reward_kind.one_recipient
    element: dict[str, Any] = {
        "type": "multi_users_select",
        "action_id": Action.RECIPIENTS,
        "placeholder": _text("Who receives it?"),
    }
    if single:
        element["max_selected_items"] = 1
    if form.recipients:
        element["initial_users"] = form.recipients[:1] if single else form.recipients
    hint = (
        "One person: the reward goes to their account or number." if single else "One reward each."
    )
    # dispatch_action: Slack sends block_actions each time someone is chosen in a multi-select
    # of an input block that asks for it (docs.slack.dev/reference/interaction-payloads/
    # block_actions-payload), so the earlier-rewards warning follows the choice.
    label = "Recipient" if single else "Recipients"
    return _input(Block.RECIPIENTS, label, element, hint=hint, dispatch=True)


def reject_modal(meta: RejectModalMeta, request_ref: str) -> dict[str, Any]:
    reason = {
        "type": "plain_text_input",
        "action_id": Action.REASON,
        "multiline": True,
        "max_length": 500,
        "placeholder": _text("The requester sees this."),
    }
    return {
        "type": "modal",
        "callback_id": Callback.REJECT,
        "title": _text(f"Reject {request_ref}"),
        "submit": _text("Reject"),
        "close": _text("Back"),
        "private_metadata": meta.dump(),
        "blocks": [_input(Block.REASON, "Why?", reason)],
    }
