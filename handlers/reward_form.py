"""The /reward modal: open it at once, follow the reward type, search the catalog, check it all.

Every invalid field gets an inline error (`response_action: errors`). Nothing here waits on
Xoxoday: products come from the cached catalog, and the operator lookup runs in the background.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from slack_bolt import Ack, App
from slack_sdk import WebClient
from slack_sdk.errors import SlackApiError

from handlers.deps import Deps
from handlers.form_notes import FormNotes, form_notes
from handlers.forms import MAX_RECIPIENTS, RewardForm, read_form
from handlers.ids import Action, Block, Callback
from handlers.metadata import RewardModalMeta
from handlers.users import SlackUser
from handlers.views import PhoneNote, product_label, reward_modal
from services.errors import InvalidReward, PolicyRefusal, RewardError
from services.reward_types import kind_or_default
from services.rewards import Decision, RewardSpec
from services.xoxoday import errors as xe
from services.xoxoday.models import Product, parse_phone

log = logging.getLogger(__name__)

# Where a service error about a field is shown in the modal.
FIELD_BLOCKS = {
    "product": Block.PRODUCT,
    "email": Block.RECIPIENTS,
    "recipients": Block.RECIPIENTS,
    "phone": Block.PHONE,
    "contact": Block.PHONE,
    "loyalty_member_id": Block.LOYALTY_ID,
}


def open_modal(
    client: WebClient, trigger_id: str, channel_id: str | None, notes: FormNotes | None = None
) -> None:
    client.views_open(
        trigger_id=trigger_id,
        view=reward_modal(RewardModalMeta(channel_id=channel_id), notes=notes),
    )


def register(app: App, deps: Deps) -> None:
    def product_of(meta: RewardModalMeta) -> tuple[Product | None, str | None]:
        if meta.product_id is None:
            return None, None
        try:
            reward_type, product = deps.catalog.product(meta.product_id)
        except RewardError:
            return None, None
        if reward_type != meta.reward_type:
            return None, None
        return product, _operator_name(deps, meta.reward_type, product)

    def refresh_view(
        client: WebClient, view: dict[str, Any], meta: RewardModalMeta, user: str, **extra: Any
    ) -> None:
        form = read_form(view.get("state"), meta.reward_type)
        product, operator = product_of(meta)
        notes = form_notes(deps, user, form.recipients)
        try:
            client.views_update(
                view_id=view["id"],
                hash=view.get("hash"),
                view=reward_modal(meta, form, product, operator=operator, notes=notes, **extra),
            )
        except SlackApiError as exc:
            if exc.response.get("error") == "not_found":  # submitted or closed meanwhile
                log.info("the modal was closed before it could be updated")
                return
            if exc.response.get("error") != "hash_conflict":
                raise
            log.info("the modal changed meanwhile; keeping the newer one")

    @app.action(Action.REWARD_TYPE)
    def on_type(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        view = body["view"]
        meta = RewardModalMeta.load(view.get("private_metadata")) or RewardModalMeta()
        chosen = kind_or_default((action.get("selected_option") or {}).get("value")).key
        if chosen != meta.reward_type:
            # Another kind: its own products; where the form came from stays.
            meta = meta.model_copy(update={"reward_type": chosen, "product_id": None})
            refresh_view(client, view, meta, body["user"]["id"])

    @app.action(Action.PRODUCT)
    def on_product(
        ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient
    ) -> None:
        ack()
        view = body["view"]
        meta = RewardModalMeta.load(view.get("private_metadata")) or RewardModalMeta()
        value = (action.get("selected_option") or {}).get("value") or ""
        meta.product_id = int(value) if value.isdigit() else None
        refresh_view(client, view, meta, body["user"]["id"])

    @app.action(Action.RECIPIENTS)
    def on_recipients(ack: Ack, body: dict[str, Any], client: WebClient) -> None:
        """Someone was chosen: show the earlier rewards of those chosen (a warning)."""
        ack()
        view = body["view"]
        meta = RewardModalMeta.load(view.get("private_metadata")) or RewardModalMeta()
        refresh_view(client, view, meta, body["user"]["id"])

    @app.action(Action.PHONE)
    def on_phone(ack: Ack, body: dict[str, Any], action: dict[str, Any], client: WebClient) -> None:
        ack()
        phone = (action.get("value") or "").strip()
        if deps.operators is None or not phone:
            return
        view = body["view"]
        meta = RewardModalMeta.load(view.get("private_metadata")) or RewardModalMeta()

        def show(found: Any) -> None:
            if found is None:
                return
            product, operator = product_of(meta)
            mismatch = product is not None and found.parent_product_id not in (
                None,
                product.parent_product_id,
            )
            note = PhoneNote(phone, found.operator, mismatch=mismatch, plan_operator=operator)
            view["hash"] = None  # the lookup came later: overwrite with the state we read
            refresh_view(client, view, meta, body["user"]["id"], phone_note=note)

        pending = deps.operators.lookup_later(phone)
        if pending is not None:
            pending.add_done_callback(lambda f: deps.background.submit(show, f.result()))

    @app.options(Action.PRODUCT)
    def on_product_options(ack: Ack, body: dict[str, Any]) -> None:
        meta = (
            RewardModalMeta.load((body.get("view") or {}).get("private_metadata"))
            or RewardModalMeta()
        )
        query = str(body.get("value") or "")
        products = deps.catalog.search(meta.reward_type, query, limit=100)
        if not products and deps.catalog.refreshed_at() is None:
            deps.background.submit(deps.catalog.ensure_fresh)  # first use: fill the cache
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
        meta = RewardModalMeta.load(view.get("private_metadata")) or RewardModalMeta()
        form = read_form(view.get("state"), meta.reward_type)
        recorded = record_request(
            deps, body["user"]["id"], form, meta, idempotency_key=f"slack:view:{view['id']}"
        )
        if recorded.errors:
            ack(response_action="errors", errors=shown_on(view, recorded.errors))
            return
        ack()


@dataclass(frozen=True)
class Recorded:
    """What became of a filled form: the recorded request, or why not (inline errors, keyed
    by the modal's input block ids)."""

    decision: Decision | None
    errors: dict[str, str]


def record_request(
    deps: Deps,
    requester_id: str,
    form: RewardForm,
    meta: RewardModalMeta,
    *,
    idempotency_key: str,
    may_wait: bool = False,
    source: str = "slack",
) -> Recorded:
    """Check a filled form and record it: the one path of every way to ask for a reward (the
    /reward modal, the modal a message shortcut opens, the Workflow Builder step), so each
    goes through the same checks, policy, budget and approval. Within the auto-approve limit
    the approval follows in the background.

    `may_wait`: nobody is waiting on a 3-second answer (a workflow step), so the wallet's
    currency may be asked of Xoxoday now instead of "try again in a minute". `source` is
    "workflow" for the step: such a request always waits for an approver (services/rewards.py).
    """
    errors, specs = check_form(deps, form, meta, requester_id)
    if not errors and deps.wallet.known_currency() is None:
        # Costs are in the wallet's currency; learning it means asking Xoxoday.
        if may_wait:
            try:
                deps.wallet.currency()
            except xe.XoxodayError as exc:
                errors = {
                    Block.PRODUCT: f"The Xoxoday wallet is not reachable ({exc.message}); "
                    "try again in a minute."
                }
        else:
            deps.background.submit(deps.wallet.currency)
            errors = {
                Block.PRODUCT: "The Xoxoday wallet is not reachable yet; try again in a minute."
            }
    if errors:
        return Recorded(None, errors)
    requester = deps.users.known(requester_id)  # looked up with the recipients, never waited on
    try:
        decision = deps.rewards.create(
            requester_id,
            specs,
            requester_name=requester.name if requester is not None else None,
            source=source,
            channel_id=meta.channel_id,
            message=form.message,
            idempotency_key=idempotency_key,
            source_link=meta.source_link,
        )
    except (InvalidReward, PolicyRefusal) as exc:
        return Recorded(None, {_block_for(exc.field, meta, deps): exc.message})
    if decision.auto_approvable:
        deps.background.submit(auto_approve, deps, decision.request.id)
    return Recorded(decision, {})


def shown_on(view: dict[str, Any], errors: dict[str, str]) -> dict[str, str]:
    """Errors keyed by input blocks the submitted view has: Slack refuses any other key.

    A form that changed under the person (or a forged one) can produce an error for a field
    it does not show; that error goes to the first input instead of being lost.
    """
    inputs = [b.get("block_id") for b in view.get("blocks", []) if b.get("type") == "input"]
    shown = {block: text for block, text in errors.items() if block in inputs}
    lost = [text for block, text in errors.items() if block not in inputs]
    if lost and inputs:
        first = str(inputs[0])
        shown[first] = " ".join(filter(None, [shown.get(first), *lost]))[:2000]
    return shown


def auto_approve(deps: Deps, request_id: int) -> None:
    """After the ack: approve within the limit, or else make sure the approvers are asked."""
    try:
        deps.rewards.auto_approve(request_id)
    except RewardError as exc:
        log.info("R-%s not approved automatically: %s", request_id, exc)
    except Exception:
        log.exception("automatic approval of R-%s failed", request_id)
        deps.rewards.to_approvers(request_id, "automatic approval failed; please decide by hand")


def _operator_name(deps: Deps, reward_type: str, product: Product) -> str | None:
    if product.parent_product_id is None:
        return None
    return deps.catalog.operator_names(reward_type).get(product.parent_product_id)


def _block_for(field: str | None, meta: RewardModalMeta, deps: Deps) -> str:
    if field in ("amount", "denomination", "quantity", None):
        product = None
        if meta.product_id:
            try:
                product = deps.catalog.product(meta.product_id)[1]
            except RewardError:
                product = None
        if product is not None and product.is_open_value:
            return Block.DENOMINATION_AMOUNT
        return Block.DENOMINATION_CHOICE if product is not None else Block.PRODUCT
    return FIELD_BLOCKS.get(field, Block.PRODUCT)


def check_form(
    deps: Deps,
    form: RewardForm,
    meta: RewardModalMeta,
    requester_id: str,
) -> tuple[dict[str, str], list[RewardSpec]]:
    """Inline errors keyed by block id, or the specs of a request that can be recorded."""
    errors: dict[str, str] = {}
    product: Product | None = None
    reward_kind = kind_or_default(form.reward_type or meta.reward_type)
    reward_type = reward_kind.key
    if form.product_id is None:
        errors[Block.PRODUCT] = "Choose what to send."
    else:
        try:
            found_type, product = deps.catalog.product(form.product_id)
        except InvalidReward as exc:
            errors[Block.PRODUCT] = exc.message
        else:
            if found_type != reward_type:
                errors[Block.PRODUCT] = "Choose one of the listed products for this kind of reward."
                product = None
    amount_block = (
        Block.DENOMINATION_AMOUNT
        if product and product.is_open_value
        else Block.DENOMINATION_CHOICE
    )
    amount = form.amount
    if product is not None:
        if not (form.denomination or "").strip():
            errors[amount_block] = (
                "Enter an amount." if product.is_open_value else "Choose an amount."
            )
        elif amount is None:  # "1,5", "1 000", "1e3"…: refused, never guessed
            errors[amount_block] = form.amount_problem or "Enter an amount."

    users: list[SlackUser] = []
    if not form.recipients:
        errors[Block.RECIPIENTS] = "Choose who receives it."
    elif reward_kind.one_recipient and len(form.recipients) > 1:
        errors[Block.RECIPIENTS] = "This kind of reward goes to one person; choose one recipient."
    elif len(form.recipients) > MAX_RECIPIENTS:
        errors[Block.RECIPIENTS] = (
            f"At most {MAX_RECIPIENTS} recipients at a time; use the CSV import for more."
        )
    elif requester_id in form.recipients:
        errors[Block.RECIPIENTS] = "You cannot send a reward to yourself."
    else:
        # One concurrent round of lookups under a deadline, the requester's too: the ack waits
        # on Slack at most LOOKUP_DEADLINE_S, however many recipients (handlers/users.py).
        found = deps.users.lookup([*form.recipients, requester_id])
        problems = []
        late = [u for u in form.recipients if u in found.late]
        if late:
            # Nothing is recorded unchecked: the modal stays open with everything typed, and
            # the lookups finish in the background, so the next press finds everyone.
            problems.append(
                f"Slack was slow to tell me about {len(late)} of the recipients; "
                "press Request again in a moment"
            )
        for user_id in form.recipients:
            if user_id in late:
                continue
            user = found.users.get(user_id)
            if user is None or user.deleted:
                problems.append(f"<@{user_id}> is not an active member of this workspace")
            elif user.is_bot:
                problems.append(f"{user.name} is a bot")
            elif not user.email:
                problems.append(
                    f"{user.name} has no email the bot can see (it is needed for the order)"
                )
            else:
                users.append(user)
        if problems:
            errors[Block.RECIPIENTS] = "; ".join(problems)[:2000]

    phone = (form.phone or "").strip() or None
    topup_phone = reward_kind.needs("phone")
    if topup_phone or (product is not None and product.is_phone_number_mandatory):
        if not phone:
            errors[Block.PHONE] = "Enter the phone number, starting with + and the country code."
        else:
            try:
                parse_phone(phone)
            except ValueError as exc:
                errors[Block.PHONE] = str(exc)
            else:
                if (
                    reward_kind.operators_and_plans
                    and product is not None
                    and form.operator_check
                    and deps.operators
                ):
                    operator = _operator_name(deps, reward_type, product) or "this plan's operator"
                    problem = deps.operators.mismatch(phone, product, operator)
                    if problem:
                        errors[Block.PHONE] = problem
    loyalty = (form.loyalty_member_id or "").strip() or None
    if reward_kind.needs("loyalty_member_id") and not loyalty and reward_kind.detail:
        errors[Block.LOYALTY_ID] = reward_kind.detail.missing
    if errors or product is None or amount is None:
        return errors, []
    specs = [
        RewardSpec(
            product_id=product.product_id,
            denomination=Decimal(amount),
            reward_type=reward_type,
            email=user.email,
            recipient_id=user.id,
            recipient_name=user.name,
            contact=phone if product.is_phone_number_mandatory else None,
            loyalty_member_id=loyalty if reward_kind.needs("loyalty_member_id") else None,
            phone=phone if topup_phone else None,
            operator_validation=form.operator_check,
            notify_receiver_email=form.notify_email,
        )
        for user in users
    ]
    # What the catalog and the policy say about each reward, per field.
    for spec in specs:
        try:
            deps.rewards.check(spec)
        except InvalidReward as exc:
            errors.setdefault(
                _block_for(exc.field, meta, deps) if exc.field != "amount" else amount_block,
                exc.message,
            )
    return errors, specs
