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
from services.catalog import REWARD_LABELS
from services.money import fmt_amount
from services.xoxoday.models import Product

TYPE_HINTS = {
    "gift_card": "A gift card by email and Slack DM.",
    "airmiles": "Airline miles credited to a loyalty account (one recipient).",
    "charity": "A donation made in the recipient's name.",
    "topup": "Mobile airtime for a phone number (one recipient).",
}


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
    reward_type = meta.reward_type
    types = [_option(REWARD_LABELS[t], t) for t in REWARD_LABELS]
    type_select: dict[str, Any] = {
        "type": "static_select",
        "action_id": Action.REWARD_TYPE,
        "options": types,
        "initial_option": next(o for o in types if o["value"] == reward_type),
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
        _input(
            Block.REWARD_TYPE, "Reward", type_select, dispatch=True, hint=TYPE_HINTS[reward_type]
        ),
        _input(Block.PRODUCT, _product_label_for(reward_type), product_select, dispatch=True),
    ]
    if product is not None:
        blocks.append(_denomination_block(product, form))
    blocks.append(_recipients_block(reward_type, form))
    blocks += notes.duplicate_blocks()
    if reward_type == "airmiles":
        loyalty = {
            "type": "plain_text_input",
            "action_id": Action.LOYALTY_ID,
            "max_length": 64,
            "placeholder": _text("e.g. EK-324523423"),
        }
        if form.loyalty_member_id:
            loyalty["initial_value"] = form.loyalty_member_id
        name = (product.loyalty_name if product else None) or "the airline's"
        blocks.append(
            _input(
                Block.LOYALTY_ID,
                "Loyalty member ID",
                loyalty,
                hint=f"The recipient's {name} membership number.",
            )
        )
    needs_phone = reward_type == "topup" or (
        product is not None and product.is_phone_number_mandatory
    )
    if needs_phone:
        phone: dict[str, Any] = {
            "type": "plain_text_input",
            "action_id": Action.PHONE,
            "placeholder": _text("+919876543210"),
        }
        if form.phone:
            phone["initial_value"] = form.phone
        label = "Phone number to top up" if reward_type == "topup" else "Recipient's phone number"
        if reward_type == "topup":
            # Enter looks the number's operator up, in the background.
            phone["dispatch_action_config"] = {"trigger_actions_on": ["on_enter_pressed"]}
            hint = "International format (+ and country code). Press Enter to check the operator."
        else:
            hint = "International format, starting with + and the country code."
        blocks.append(_input(Block.PHONE, label, phone, hint=hint, dispatch=reward_type == "topup"))
        if phone_note:
            note = {"type": "mrkdwn", "text": phone_note.mrkdwn()}
            blocks.append({"type": "context", "elements": [note]})
    if reward_type == "topup":
        check = _option("Check that the number belongs to the plan's operator", "yes")
        checkbox: dict[str, Any] = {
            "type": "checkboxes",
            "action_id": Action.OPERATOR_CHECK,
            "options": [check],
        }
        if form.operator_check:
            checkbox["initial_options"] = [check]
        blocks.append(_input(Block.OPERATOR_CHECK, "Operator", checkbox, optional=True))
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
    notify_option = _option("Xoxoday also emails the reward to the recipient", "yes")
    notify: dict[str, Any] = {
        "type": "checkboxes",
        "action_id": Action.NOTIFY,
        "options": [notify_option],
    }
    if form.notify_email:
        notify["initial_options"] = [notify_option]
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


def _product_label_for(reward_type: str) -> str:
    return {
        "gift_card": "Gift card",
        "airmiles": "Airline",
        "charity": "Cause",
        "topup": "Operator and plan",
    }[reward_type]


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


def _recipients_block(reward_type: str, form: RewardForm) -> dict[str, Any]:
    single = reward_type in ("airmiles", "topup")
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
