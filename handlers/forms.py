"""Reading the /reward modal's state, whatever Slack sends for each kind of input."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from pydantic import BaseModel

from handlers.ids import Action, Block
from services.money import AmountError, parse_amount
from services.reward_types import all_details


class RewardForm(BaseModel):
    """What a person has entered so far (every field may still be empty)."""

    reward_type: str | None = None
    product_id: int | None = None
    denomination: str | None = None  # text as entered or chosen
    recipients: list[str] = []
    # The kinds' extra fields by name (services/reward_types.py), as typed; the phone box
    # (handlers.ids.Block.PHONE) is also where a product's required contact is typed.
    details: dict[str, str | None] = {}
    operator_check: bool = True
    message: str = ""
    notify_email: bool = False

    @property
    def amount(self) -> Decimal | None:
        """The amount, when it is written as the one parser accepts it; else None."""
        try:
            return parse_amount(self.denomination)
        except AmountError:
            return None

    @property
    def amount_problem(self) -> str | None:
        """Why the amount is refused (with the form expected), or None when it is fine."""
        try:
            parse_amount(self.denomination)
        except AmountError as exc:
            return exc.message[:1].upper() + exc.message[1:] + "."
        return None


def _element(values: dict[str, Any], block: str, action: str) -> dict[str, Any]:
    found = values.get(block, {}).get(action)
    return found if isinstance(found, dict) else {}


def _option_value(element: dict[str, Any]) -> str | None:
    option = element.get("selected_option")
    return option.get("value") if isinstance(option, dict) else None


def read_form(state: dict[str, Any] | None, default_type: str | None = None) -> RewardForm:
    """The modal's `view.state` as a RewardForm; unknown or missing parts stay empty."""
    values = (state or {}).get("values") or {}
    reward_type = _option_value(_element(values, Block.REWARD_TYPE, Action.REWARD_TYPE))
    product = _option_value(_element(values, Block.PRODUCT, Action.PRODUCT))
    fixed = _option_value(_element(values, Block.DENOMINATION_CHOICE, Action.DENOMINATION_CHOICE))
    typed = _element(values, Block.DENOMINATION_AMOUNT, Action.DENOMINATION_AMOUNT).get("value")
    recipients = _element(values, Block.RECIPIENTS, Action.RECIPIENTS).get("selected_users") or []
    operator = _element(values, Block.OPERATOR_CHECK, Action.OPERATOR_CHECK)
    notify = _element(values, Block.NOTIFY, Action.NOTIFY)
    return RewardForm(
        reward_type=reward_type or default_type,
        product_id=int(product) if product and product.isdigit() else None,
        denomination=fixed if fixed is not None else typed,
        recipients=[u for u in recipients if isinstance(u, str)],
        details={
            d.field: value
            for d in all_details()
            if (value := _element(values, d.field, d.field).get("value")) is not None
        },
        operator_check=bool(operator.get("selected_options")) if operator else True,
        message=(_element(values, Block.MESSAGE, Action.MESSAGE).get("value") or "").strip(),
        notify_email=bool(notify.get("selected_options")),
    )


def read_reason(state: dict[str, Any] | None) -> str:
    values = (state or {}).get("values") or {}
    return (_element(values, Block.REASON, Action.REASON).get("value") or "").strip()
