"""Every kind of reward the bot sends, and what each one needs: the one place to add a kind.

The /reward modal (handlers/views.py, handlers/forms.py), the intake (services/intake.py), the
order builder (services/rewards.py order_request), the catalog (services/catalog.py), the CSV
import (services/bulk.py), the recipient's message (handlers/messages.py) and the Workflow
Builder step (handlers/workflow_steps.py) all loop over this table instead of comparing type
or field names. A kind's extra fields are `Detail`s: each brings its label, parser, CSV
columns, order field (a typed attribute of the order model, or a userMeta key) and workflow
input. Xoxoday also sells lounge access and merchandise (xoxoday-api.md §3, row 14: getVouchers
with `categoryType` "lounge" / "merchandise"); a new kind is one more `RewardKind` in `KINDS`
(tests/slack/test_new_kind.py adds a lounge kind with three fields and finds it everywhere),
plus a workflow input in manifest.yml for each new field.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from services.xoxoday.errors import InvalidOrder
from services.xoxoday.models import (
    AirmilesOrder,
    CharityOrder,
    GiftCardOrder,
    OrderRequest,
    TopupOrder,
    e164,
    make_order,
)


def _as_typed(text: str) -> str:
    return text


def _one_column(column: str) -> Callable[[Mapping[str, str]], str | None]:
    def read(cells: Mapping[str, str]) -> str | None:
        return cells.get(column) or None

    return read


@dataclass(frozen=True)
class Detail:
    """Something a kind needs about its recipient besides the email. Its entry is all there is
    of it: the modal's input (block and action id `field`), the workflow step's input (named
    `field`, titled `input_title`), the CSV import's `csv_columns`, the order model's attribute
    `field`, and the record (orders.details) all loop over the kinds' details.
    """

    field: str
    label: str
    hint: str  # {program}: the product's loyalty programme, when Xoxoday names it
    placeholder: str
    missing: str  # the sentence shown when it is left empty
    csv_columns: tuple[str, ...]
    invalid: str = ""  # how to write it, when the order refuses what was typed
    input_title: str = ""  # the workflow step's title for the input (default: label)
    # Its key in placeOrder's userMeta, when the kind's order model has no attribute of its
    # name (airmiles and top-ups have typed ones: loyalty_member_id, phone).
    order_key: str = ""
    # What was typed, as the order takes it; ValueError says how to write it.
    parse: Callable[[str], str] = _as_typed
    # An import row's cells, as typed (default: the one column's cell); ValueError: why not.
    from_cells: Callable[[Mapping[str, str]], str | None] | None = None
    max_length: int | None = None
    code: bool = False  # shown as code in the recipient's message (an account number)
    looks_up_operator: bool = False  # Enter in the modal looks the number's operator up

    @property
    def title(self) -> str:
        return self.input_title or self.label

    def read_cells(self, cells: Mapping[str, str]) -> str | None:
        if self.from_cells is not None:
            return self.from_cells(cells)
        return _one_column(self.csv_columns[0])(cells)


@dataclass(frozen=True)
class RewardKind:
    key: str  # stored on every order: gift_card, airmiles, …
    label: str  # "Airline miles": what people pick
    summary: str  # one line under the choice in the modal
    product_label: str  # what the product field is called for this kind ("Airline")
    category_type: str | None  # getVouchers categoryType; None is the gift-card catalog
    order_model: type[OrderRequest]  # the placeOrder shape (services/xoxoday/models.py)
    one_recipient: bool = False  # the reward goes to one account or number
    details: tuple[Detail, ...] = ()
    # Top-up: the catalog lists operators, and each operator's plans are what is ordered;
    # the phone number can be checked against the plan's operator.
    operators_and_plans: bool = False
    codes: bool = False  # delivered as codes, PINs or links (shown only in the recipient's DM)
    # Its catalog is kept by country (REWARDS_COUNTRIES) and the form filters it by country.
    by_country: bool = False
    # The recipient chooses a product of this kind (its key) once the request is approved;
    # the requester gives an amount in the wallet's currency (services/choices.py). The kind
    # has no catalog of its own. None: the requester picks the product.
    chooses_from: str | None = None
    # What the recipient reads once it is delivered, in plain words. Placeholders: {reward}
    # ("Amazon (25 USD)"), {amount}, {product}, and the details' fields; the message builder
    # fills them with escaped text.
    delivered: str = "{reward}"

    @property
    def has_catalog(self) -> bool:
        """Whether Xoxoday is asked for this kind's own products (a choice has none)."""
        return self.chooses_from is None

    def needs(self, field: str) -> bool:
        return any(d.field == field for d in self.details)

    @property
    def collects(self) -> tuple[str, ...]:
        """Every name under which this kind's order gives a field: what every order carries
        (EVERY_ORDER), and each detail's field, userMeta key and CSV columns. The catalog keeps
        a product whose productMeta requires only these (services/xoxoday/checkout_fields.py)."""
        names = list(EVERY_ORDER)
        for detail in self.details:
            names += [detail.field, detail.order_key, *detail.csv_columns]
        return tuple(dict.fromkeys(n for n in names if n))


# What every order can carry whatever its kind: the recipient's email, and the contact number
# a product requires (the form's phone box, services/intake.py Field.CONTACT).
EVERY_ORDER = ("email", "contact")


def _checked_phone(text: str) -> str:
    e164(text)  # ValueError says how to write it
    return text


def _topup_cells(cells: Mapping[str, str]) -> str | None:
    code, number = (cells.get(column, "") for column in TOPUP_PHONE.csv_columns)
    if not (code or number):
        return None
    if not (code and number):
        raise ValueError(f"{' and '.join(TOPUP_PHONE.csv_columns)} go together")
    return f"+{code.lstrip('+')}{number}"


LOYALTY_ID = Detail(
    field="loyalty_member_id",
    label="Loyalty member ID",
    hint="The recipient's membership number with {program}.",
    placeholder="e.g. EK-324523423",
    missing="Enter the recipient's loyalty member ID.",
    csv_columns=("loyaltyMemberId",),
    invalid="enter the recipient's loyalty member ID (letters, digits and dashes)",
    max_length=64,
    code=True,
)
TOPUP_PHONE = Detail(
    field="phone",  # also the modal's box for a contact a product requires (one phone box)
    label="Phone number to top up",
    hint="International format (+ and country code). Press Enter to check the operator.",
    placeholder="+919876543210",
    missing="Enter the phone number, starting with + and the country code.",
    csv_columns=("topupPhoneCode", "topupPhoneNumber"),
    input_title="Phone number",
    parse=_checked_phone,
    from_cells=_topup_cells,
    looks_up_operator=True,
)

KINDS: tuple[RewardKind, ...] = (
    RewardKind(
        key="gift_card",
        label="Gift card",
        summary="A gift card by email and Slack DM.",
        product_label="Gift card",
        category_type=None,
        order_model=GiftCardOrder,
        codes=True,
        by_country=True,
    ),
    RewardKind(
        key="airmiles",
        label="Airline miles",
        summary="Airline miles credited to a loyalty account (one recipient).",
        product_label="Airline",
        category_type="miles",
        order_model=AirmilesOrder,
        one_recipient=True,
        details=(LOYALTY_ID,),
        delivered="{reward} were credited to loyalty member {loyalty_member_id}.",
    ),
    RewardKind(
        key="charity",
        label="Charity donation",
        summary="A donation made in the recipient's name.",
        product_label="Cause",
        category_type="charity",
        order_model=CharityOrder,
        delivered="A donation of {amount} to {product} was made in your name.",
    ),
    RewardKind(
        key="topup",
        label="Mobile top-up",
        summary="Mobile airtime for a phone number (one recipient).",
        product_label="Operator and plan",
        category_type="topup",
        order_model=TopupOrder,
        one_recipient=True,
        details=(TOPUP_PHONE,),
        operators_and_plans=True,
        delivered="{phone} was topped up: {reward}.",
    ),
    RewardKind(
        key="choice",
        label="Their choice",
        summary="An amount each recipient spends on a gift card sold where they live.",
        product_label="Gift card",
        category_type=None,
        order_model=GiftCardOrder,  # the gift card they choose is ordered like any other
        codes=True,
        chooses_from="gift_card",
    ),
)


class Registry(Mapping[str, RewardKind]):
    """Kinds by key, in their order (the modal lists them so). Everything reads the module's
    REGISTRY when it needs it, so a kind added here is a kind everywhere."""

    def __init__(self, kinds: tuple[RewardKind, ...]) -> None:
        self._by_key = {kind.key: kind for kind in kinds}
        if len(self._by_key) != len(kinds):
            raise ValueError("two reward kinds share a key")

    def __getitem__(self, key: str) -> RewardKind:
        return self._by_key[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._by_key)

    def __len__(self) -> int:
        return len(self._by_key)


REGISTRY = Registry(KINDS)


def all_kinds() -> tuple[RewardKind, ...]:
    """Every kind, in the order people are offered them."""
    return tuple(REGISTRY.values())


def catalog_kinds() -> tuple[RewardKind, ...]:
    """The kinds whose products Xoxoday is asked for (a choice's come from another kind)."""
    return tuple(k for k in all_kinds() if k.has_catalog)


def is_kind(key: str | None) -> bool:
    return (key or "") in REGISTRY


def kind(key: str | None) -> RewardKind:
    """The kind for a stored or submitted key; KeyError names the known ones."""
    try:
        return REGISTRY[key or ""]
    except KeyError:
        raise KeyError(f"unknown reward type {key!r} (use {', '.join(REGISTRY)})") from None


def kind_or_default(key: str | None) -> RewardKind:
    """For values a client sent back (a modal's metadata, a select): never trust them."""
    return REGISTRY.get(key or "", next(iter(REGISTRY.values())))


def all_details() -> tuple[Detail, ...]:
    """Every kind's details, each once, in registry order."""
    found: dict[str, Detail] = {}
    for each in all_kinds():
        for detail in each.details:
            found.setdefault(detail.field, detail)
    return tuple(found.values())


def csv_columns() -> tuple[str, ...]:
    """Every import column some kind's detail uses, in registry order."""
    columns: list[str] = []
    for detail in all_details():
        columns += [c for c in detail.csv_columns if c not in columns]
    return tuple(columns)


def build_order(reward_type: str, **fields: Any) -> OrderRequest:
    """The typed placeOrder request of a kind; InvalidOrder names the first bad field."""
    try:
        model = kind(reward_type).order_model
    except KeyError as exc:
        raise InvalidOrder(str(exc.args[0])) from None
    return make_order(model, **fields)
