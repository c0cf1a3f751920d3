"""The /reward modal: open it at once, follow the reward type, search the catalog, and hand
the filled form to the intake (services/intake.py), which checks and records it.

Every invalid field gets an inline error (`response_action: errors`) under the block that
shows it. Nothing here waits on Xoxoday: products come from the cached catalog, and the
operator lookup runs in the background.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.deps import Deps
from handlers.errors import open_view
from handlers.form_notes import FormNotes, form_notes
from handlers.forms import RewardForm, read_form
from handlers.ids import Action, Block, Callback
from handlers.metadata import RewardModalMeta
from handlers.views import EVERY_COUNTRY, PhoneNote, Where, product_label, reward_modal
from services.errors import RewardError
from services.intake import Ask, Field, FieldError, Line, Source
from services.reward_types import kind_or_default
from services.xoxoday.models import Product

log = logging.getLogger(__name__)


def open_modal(
    client: WebClient,
    body: dict[str, Any],
    channel_id: str | None,
    notes: FormNotes | None = None,
    where: Where | None = None,
) -> None:
    """The form, with the trigger_id of `body` (a 429 is told to the person: open_view)."""
    meta = RewardModalMeta(channel_id=channel_id)
    open_view(client, body, reward_modal(meta, notes=notes, where=where))


def where_of(deps: Deps) -> Where:
    """The countries kept and the wallet's currency (SQLite only: fine before an ack)."""
    return Where(
        countries=tuple(deps.catalog.countries()),
        default_country=deps.default_country,
        wallet_currency=deps.wallet.known_currency(),
    )


def register(app: App, deps: Deps) -> None:
    """The modal follows what is chosen (kind, product, people, a phone number's operator),
    searches the catalog, and hands the filled form to the intake."""
    _register_changes(app, deps)
    _register_phone_check(app, deps)
    _register_search_and_submit(app, deps)


def _product_of(deps: Deps, meta: RewardModalMeta) -> tuple[Product | None, str | None]:
    """The chosen product and its operator's name, when it is of the chosen kind."""
    if meta.product_id is None:
        return None, None
    try:
        reward_type, product = deps.catalog.product(meta.product_id)
    except RewardError:
        return None, None
    if reward_type != meta.reward_type:
        return None, None
    return product, _operator_name(deps, meta.reward_type, product)


def _refresh_view(
    deps: Deps,
    client: WebClient,
    view: dict[str, Any],
    meta: RewardModalMeta,
    user: str,
    **extra: Any,
) -> None:
    """Draw the modal again for what is chosen now, keeping what was typed."""
    form = read_form(view.get("state"), meta.reward_type)
    product, operator = _product_of(deps, meta)
    notes = form_notes(deps, user, form.recipients)
    try:
        client.views_update(
            view_id=view["id"],
            hash=view.get("hash"),
            view=reward_modal(
                meta,
                form,
                product,
                operator=operator,
                notes=notes,
                where=where_of(deps),
                **extra,
            ),
        )
    except SlackApiError as exc:
        if exc.response.get("error") == "not_found":  # submitted or closed meanwhile
            log.info("the modal was closed before it could be updated")
            return
        if exc.response.get("error") != "hash_conflict":
            raise
        log.info("the modal changed meanwhile; keeping the newer one")


def _meta(view: dict[str, Any]) -> RewardModalMeta:
    return RewardModalMeta.load(view.get("private_metadata")) or RewardModalMeta()


def _register_changes(app: App, deps: Deps) -> None:
    @app.action(Action.REWARD_TYPE)
    def on_type(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        view = body["view"]
        meta = _meta(view)
        chosen = kind_or_default((action.get("selected_option") or {}).get("value")).key
        if chosen != meta.reward_type:
            # Another kind: its own products; where the form came from stays.
            meta = meta.model_copy(update={"reward_type": chosen, "product_id": None})
            _refresh_view(deps, client, view, meta, body["user"]["id"])

    @app.action(Action.PRODUCT)
    def on_product(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = body["view"]
        meta = _meta(view)
        value = (action.get("selected_option") or {}).get("value") or ""
        meta.product_id = int(value) if value.isdigit() else None
        _refresh_view(deps, client, view, meta, body["user"]["id"])

    @app.action(Action.COUNTRY)
    def on_country(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        """Another country: its gift cards; a product not sold there is taken out."""
        ack()
        view = body["view"]
        chosen = (action.get("selected_option") or {}).get("value") or EVERY_COUNTRY
        meta = _meta(view).model_copy(update={"country": chosen})
        country = where_of(deps).country(meta.country)
        if meta.product_id and country and not deps.catalog.sold_in(meta.product_id, country):
            meta.product_id = None
        _refresh_view(deps, client, view, meta, body["user"]["id"])

    @app.action(Action.DENOMINATION_AMOUNT)
    def on_amount(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Enter in a foreign product's amount: show what it costs the wallet."""
        ack()
        view = body["view"]
        _refresh_view(deps, client, view, _meta(view), body["user"]["id"])

    @app.action(Action.RECIPIENTS)
    def on_recipients(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Someone was chosen: show the earlier rewards of those chosen (a warning)."""
        ack()
        view = body["view"]
        _refresh_view(deps, client, view, _meta(view), body["user"]["id"])


def _register_phone_check(app: App, deps: Deps) -> None:
    @app.action(Action.PHONE)
    def on_phone(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        phone = (action.get("value") or "").strip()
        if deps.operators is None or not phone:
            return
        view = body["view"]
        meta = _meta(view)

        def show(found: Any) -> None:
            if found is None:
                return
            product, operator = _product_of(deps, meta)
            mismatch = product is not None and found.parent_product_id not in (
                None,
                product.parent_product_id,
            )
            note = PhoneNote(phone, found.operator, mismatch=mismatch, plan_operator=operator)
            view["hash"] = None  # the lookup came later: overwrite with the state we read
            _refresh_view(deps, client, view, meta, body["user"]["id"], phone_note=note)

        pending = deps.operators.lookup_later(phone, member=body["user"]["id"])
        if pending is not None:
            pending.add_done_callback(lambda f: deps.background.submit(show, f.result()))


def _register_search_and_submit(app: App, deps: Deps) -> None:
    @app.options(Action.PRODUCT)
    def on_product_options(ack: Ack, body: dict[str, Any]) -> None:
        meta = _meta(body.get("view") or {})
        query = str(body.get("value") or "")
        by_country = kind_or_default(meta.reward_type).by_country
        country = where_of(deps).country(meta.country) if by_country else None
        products = deps.catalog.search(meta.reward_type, query, limit=100, country=country)
        if not products and deps.catalog.refreshed_at() is None:
            deps.catalog.refresh_if_stale()  # first use: fill the cache, on its own thread
        operators = deps.catalog.operator_names(meta.reward_type)
        ack(
            options=[
                {
                    "text": {
                        "type": "plain_text",
                        "text": product_label(p, operators.get(p.parent_product_id or 0)),
                    },
                    "value": str(p.product_id),
                }
                for p in products
            ]
        )

    @app.view(Callback.REWARD)
    def on_submit(ack: Ack, body: dict[str, Any], view: dict[str, Any]) -> None:
        meta = _meta(view)
        form = read_form(view.get("state"), meta.reward_type)
        submitted = deps.intake.submit(ask_of(body["user"]["id"], form, meta, view_id=view["id"]))
        if submitted.errors:
            ack(response_action="errors", errors=modal_errors(view, submitted.errors))
            return
        ack()


def ask_of(requester_id: str, form: RewardForm, meta: RewardModalMeta, *, view_id: str) -> Ask:
    """What the filled modal asks for, in the intake's terms (services/intake.py)."""
    reward_kind = kind_or_default(form.reward_type or meta.reward_type)
    return Ask(
        requester_id=requester_id,
        lines=[
            Line(
                product_id=form.product_id,
                amount=form.denomination,
                reward_type=reward_kind.key,
                members=form.recipients,
                details=form.details,
                operator_check=form.operator_check,
                notify_receiver_email=form.notify_email,
            )
        ],
        source=Source.SLACK,
        idempotency_key=f"slack:view:{view_id}",
        message=form.message,
        channel_id=meta.channel_id,
        source_link=meta.source_link,
        source_author=meta.source_author,
    )


# Where the modal shows an error about each of the intake's fields: the first of these blocks
# the view has.
FIELD_BLOCKS: dict[str, tuple[Block, ...]] = {
    Field.REWARD_TYPE: (Block.REWARD_TYPE,),
    Field.PRODUCT: (Block.PRODUCT,),
    Field.AMOUNT: (Block.DENOMINATION_AMOUNT, Block.DENOMINATION_CHOICE, Block.PRODUCT),
    Field.QUANTITY: (Block.DENOMINATION_AMOUNT, Block.DENOMINATION_CHOICE, Block.PRODUCT),
    Field.RECIPIENTS: (Block.RECIPIENTS,),
    Field.EMAIL: (Block.RECIPIENTS,),
    Field.CONTACT: (Block.PHONE,),
    Field.MESSAGE: (Block.MESSAGE,),
    Field.REQUEST: (Block.PRODUCT, Block.DENOMINATION_AMOUNT),
}  # and a kind's extra field is shown under its own input, whose block id is the field's name


def modal_errors(view: dict[str, Any], errors: Sequence[FieldError]) -> dict[str, str]:
    """The intake's errors under the input blocks the submitted view has (Slack refuses any
    other key). An error whose block is not shown (a form that changed under the person, or
    a forged one) goes to the first input instead of being lost."""
    inputs = [b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"]
    shown: dict[str, str] = {}
    lost: list[str] = []
    for error in errors:
        blocks = FIELD_BLOCKS.get(error.field, (error.field,))
        block = next((b for b in blocks if b in inputs), None)
        if block is None:
            lost.append(error.message)
        else:
            shown.setdefault(block, error.message)
    if lost and inputs:
        first = str(inputs[0])
        shown[first] = " ".join(filter(None, [shown.get(first), *lost]))[:2000]
    return shown


def _operator_name(deps: Deps, reward_type: str, product: Product) -> str | None:
    if product.parent_product_id is None:
        return None
    return deps.catalog.operator_names(reward_type).get(product.parent_product_id)
