"""The recipient's choice in Slack: "Choose my reward" (in their DM, its reminders and their
Home) opens a modal; the country, the gift card and its value follow one another; the
submission goes to the one intake (services/intake.py, `choose`), which checks it and records
it once. Who may choose is checked in the service from the signed user id, at every step
(services/choices.py): a button or a view id passed on to someone else opens nothing.

Nothing here waits on Xoxoday: the gift cards come from the cached catalog.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.choice_views import (
    Picked,
    choice_modal,
    chosen_text,
    notice_modal,
    option_label,
)
from handlers.deps import Deps
from handlers.ids import Action, Block, Callback
from handlers.metadata import ChoiceModalMeta, ChoiceRef
from handlers.reward_form import where_of
from handlers.views import EVERY_COUNTRY
from services.choices import Choices, Offer
from services.errors import RewardError
from services.intake import ChoiceAsk, Field, FieldError

log = logging.getLogger(__name__)

# Where the modal shows an error about each of the intake's fields.
FIELD_BLOCKS: dict[str, tuple[str, ...]] = {
    Field.COUNTRY: (Block.CHOICE_COUNTRY,),
    Field.PRODUCT: (Block.CHOICE_PRODUCT,),
    Field.AMOUNT: (Block.CHOICE_VALUE, Block.CHOICE_AMOUNT, Block.CHOICE_PRODUCT),
}


def _value(state: dict[str, Any] | None) -> str | None:
    """The value chosen (a fixed one) or typed (an open amount) in the modal's state."""
    values = (state or {}).get("values") or {}
    fixed = (values.get(Block.CHOICE_VALUE) or {}).get(Action.CHOICE_VALUE) or {}
    option = fixed.get("selected_option")
    if isinstance(option, dict) and option.get("value"):
        return str(option["value"])
    typed = (values.get(Block.CHOICE_AMOUNT) or {}).get(Action.CHOICE_AMOUNT) or {}
    value = typed.get("value")
    return str(value).strip() if value not in (None, "") else None


def picked(choices: Choices, offer: Offer, meta: ChoiceModalMeta, value: str | None) -> Picked:
    """The product in `meta`, when it is still a gift card of the catalog, and what fits."""
    if meta.product_id is None:
        return Picked()
    try:
        _kind, product = choices.catalog.product(meta.product_id)
    except RewardError:
        return Picked()
    values, up_to = choices.fitting(offer, product)
    return Picked(product, values, up_to, value)


def modal_errors(view: dict[str, Any], errors: Sequence[FieldError]) -> dict[str, str]:
    """The intake's errors under the blocks the view has; one about the whole (the offer
    ended, it is not theirs) under the first input."""
    inputs = [b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"]
    shown: dict[str, str] = {}
    for error in errors:
        block = next((b for b in FIELD_BLOCKS.get(error.field, ()) if b in inputs), None)
        block = block or (inputs[0] if inputs else None)
        if block is not None:
            shown[str(block)] = " ".join(filter(None, [shown.get(str(block)), error.message]))
    return {k: v[:2000] for k, v in shown.items()}


def register(app: App, deps: Deps) -> None:
    """The button opens the modal; its fields follow one another; the search reads the
    cached catalog; the submission goes to the intake."""
    choices = deps.choices
    if choices is None:
        return
    _register_opening(app, deps, choices)
    _register_changes(app, deps, choices)
    _register_search_and_submit(app, deps, choices)


def _refresh(
    deps: Deps, choices: Choices, client: WebClient, body: dict[str, Any], meta: ChoiceModalMeta
) -> None:
    """Draw the modal again for what is picked now; the offer is checked again first."""
    view = body["view"]
    try:
        offer = choices.open_offer(meta.order_id, body["user"]["id"])
    except RewardError as exc:
        shown = notice_modal(exc.message)
    else:
        chosen = picked(choices, offer, meta, _value(view.get("state")))
        shown = choice_modal(meta, offer, where_of(deps), chosen)
    try:
        client.views_update(view_id=view["id"], hash=view.get("hash"), view=shown)
    except SlackApiError as exc:
        if exc.response.get("error") not in ("hash_conflict", "not_found"):
            raise
        log.info("the choice modal changed or closed before it could be updated")


def _meta_of(body: dict[str, Any]) -> ChoiceModalMeta | None:
    return ChoiceModalMeta.load((body.get("view") or {}).get("private_metadata"))


def _register_opening(app: App, deps: Deps, choices: Choices) -> None:
    @app.action(Action.CHOOSE)
    def on_choose(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        user = body["user"]["id"]
        ref = ChoiceRef.load(action.get("value"))
        try:
            if ref is None:
                raise RewardError("this button is not one of mine")
            offer = choices.open_offer(ref.order_id, user)
        except RewardError as exc:
            client.views_open(trigger_id=body["trigger_id"], view=notice_modal(exc.message))
            return
        country = choices.start_country(user) or EVERY_COUNTRY
        meta = ChoiceModalMeta(order_id=offer.order.id, country=country)
        view = choice_modal(meta, offer, where_of(deps), Picked())
        client.views_open(trigger_id=body["trigger_id"], view=view)


def _register_changes(app: App, deps: Deps, choices: Choices) -> None:
    def redraw(body: dict[str, Any], client: WebClient, **update: Any) -> None:
        """The modal drawn again from its own metadata, with `update` applied to it."""
        meta = _meta_of(body)
        if meta is not None:
            _refresh(deps, choices, client, body, meta.model_copy(update=update))

    @app.action(Action.CHOICE_COUNTRY)
    def on_country(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        chosen = (action.get("selected_option") or {}).get("value") or EVERY_COUNTRY
        redraw(body, client, country=chosen, product_id=None)

    @app.action(Action.CHOICE_PRODUCT)
    def on_product(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        value = (action.get("selected_option") or {}).get("value") or ""
        redraw(body, client, product_id=int(value) if value.isdigit() else None)

    @app.action(Action.CHOICE_AMOUNT)
    def on_amount(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Enter in an open amount: show what it costs of the amount given."""
        ack()
        redraw(body, client)


def _register_search_and_submit(app: App, deps: Deps, choices: Choices) -> None:
    @app.options(Action.CHOICE_PRODUCT)
    def on_options(ack: Ack, body: dict[str, Any]) -> None:
        meta = _meta_of(body)
        try:
            if meta is None:
                raise RewardError("not a choice")
            offer = choices.open_offer(meta.order_id, body["user"]["id"])
        except RewardError:
            ack(options=[])
            return
        country = where_of(deps).country(meta.country)
        products = choices.options(offer, country, str(body.get("value") or ""))
        ack(
            options=[
                {
                    "text": {"type": "plain_text", "text": option_label(p, offer)[:75]},
                    "value": str(p.product_id),
                }
                for p in products
            ]
        )

    @app.view(Callback.CHOICE)
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = ChoiceModalMeta.load(view.get("private_metadata"))
        if meta is None:
            error = FieldError(Field.REQUEST, "This form is not one of mine; open it again.")
            ack(response_action="errors", errors=modal_errors(view, [error]))
            return
        ask = ChoiceAsk(
            order_id=meta.order_id,
            user_id=body["user"]["id"],
            country=where_of(deps).country(meta.country),
            product_id=meta.product_id,
            amount=_value(view.get("state")),
            submission=f"slack:view:{view['id']}",
        )
        submitted = deps.intake.choose(ask)
        if submitted.chosen is None:
            ack(response_action="errors", errors=modal_errors(view, submitted.errors))
            return
        order = submitted.chosen.order
        name = order.product_name or str(order.product_id)
        currency = order.product_currency or ""
        text = chosen_text(submitted.chosen.offer, name, order.denomination, currency)
        ack(response_action="update", view=notice_modal(text))
