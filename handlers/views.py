"""Modals as plain data: the /reward form (which follows the reward type) and the reject form."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from handlers import mrkdwn as md
from handlers.form_notes import FormNotes
from handlers.forms import RewardForm
from handlers.ids import Action, Block, Callback
from handlers.metadata import RejectModalMeta, RewardModalMeta
from services.money import fmt_amount
from services.reward_types import RewardKind, all_kinds, kind_or_default
from services.xoxoday.models import Product


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
) -> dict[str, Any]:
    """The /reward modal for `meta.reward_type`, with what was typed kept as initial values.

    `operator` names the top-up plan's operator; `phone_note` is what a lookup found out
    about the number typed (shown under the phone field); `notes` are the requester's budget
    (on top) and earlier rewards of the chosen recipients (under them).
    """
    notes = notes or FormNotes()
    form = form or RewardForm()
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
        _input(Block.PRODUCT, reward_kind.product_label, product_select, dispatch=True),
    ]
    if product is not None:
        blocks.append(_denomination_block(product, form))
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


def _denomination_block(product: Product, form: RewardForm) -> dict[str, Any]:
    currency = product.currency_code
    if product.is_open_value:
        element: dict[str, Any] = {
            "type": "number_input",
            "action_id": Action.DENOMINATION_AMOUNT,
            "is_decimal_allowed": True,
        }
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
        return _input(Block.DENOMINATION_AMOUNT, f"Amount ({currency})", element, hint=hint)
    options = [
        _option(f"{fmt_amount(v)} {currency}", format(v, "f")) for v in product.value_denominations
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
