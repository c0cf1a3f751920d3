"""What every surface hands the one intake (services/intake.py), and what it gets back: an
`Ask` of `Line`s from a requester (the /reward modal, a workflow step, a CSV file), a
`ChoiceAsk` from a recipient choosing their reward, and `FieldError`s naming what is wrong by
field. Its own module so the intake's parts (services/intake_choice.py) share it."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from services.choices import Chosen
from services.reward_specs import Decision


class Field(StrEnum):
    """What an error is about. A kind's extra fields (services/reward_types.py) are named by
    their own `field` ("phone", "loyalty_member_id"), beside these."""

    REWARD_TYPE = "reward_type"
    PRODUCT = "product"
    AMOUNT = "amount"
    QUANTITY = "quantity"
    RECIPIENTS = "recipients"
    EMAIL = "email"
    CONTACT = "contact"  # a phone number the product itself requires
    MESSAGE = "message"
    COUNTRY = "country"  # where a recipient's choice is sold
    REQUEST = "request"  # the request as a whole: the wallet, the record


class Source(StrEnum):
    """Where a request came from; stored on it (requests.source)."""

    SLACK = "slack"  # the /reward modal, opened by the command or a message shortcut
    WORKFLOW = "workflow"
    CSV = "csv"


@dataclass(frozen=True)
class FieldError:
    field: str  # a Field, or a kind's extra field
    message: str  # as people read it (surfaces that write sentences finish it)
    line: int | None = None  # the index in Ask.lines; None: the request as a whole


@dataclass(frozen=True)
class Line:
    """One product at one amount, for each of its recipients (one order each)."""

    product_id: int | None
    amount: str | Decimal | None  # as written; parsed here
    reward_type: str | None = None  # None: the product's own kind (a CSV row says none)
    members: Sequence[str] = ()  # Slack member ids
    email: str | None = None  # or one person known by email only (a CSV row)
    details: Mapping[str, str | None] = field(default_factory=dict)  # the kind's extra fields
    contact: str | None = None
    quantity: int = 1
    tag: str | None = None
    notify_receiver_email: bool = False
    operator_check: bool = True  # Xoxoday checks a top-up number against the plan's operator


@dataclass(frozen=True)
class Ask:
    requester_id: str
    lines: Sequence[Line]
    source: Source
    idempotency_key: str | None
    message: str = ""
    channel_id: str | None = None  # where the request's status is posted
    source_link: str | None = None  # the chat message it was made from (checked by the caller)
    # The author of that message: the link is kept only while they are among the recipients.
    source_author: str | None = None
    # A workflow's runner, who pressed Send on the bot's DM before it was recorded.
    confirmed_by: str | None = None
    requester_name: str | None = None  # else the Members port's name for the requester
    trusted: bool = False  # an operator at the shell: no approval, no spending limits
    may_wait: bool = False  # nobody waits on a 3-second answer: Xoxoday may be asked


@dataclass(frozen=True)
class Submitted:
    """The recorded request (the one recorded before, for a repeated idempotency key), or
    what is wrong."""

    decision: Decision | None
    errors: tuple[FieldError, ...] = ()


@dataclass(frozen=True)
class ChoiceAsk:
    """A recipient's choice as their modal gave it: `user_id` is the signed submitter."""

    order_id: int
    user_id: str
    country: str | None
    product_id: int | None
    amount: str | Decimal | None
    submission: str  # the same submission twice is one choice (the modal's view id)


@dataclass(frozen=True)
class ChoiceSubmitted:
    chosen: Chosen | None
    errors: tuple[FieldError, ...] = ()


def field_of(name: str | None) -> str:
    """An error's field as the service names it (RewardError.field): a refusal of the policy
    (over a limit, over the budget) names none, and is about the amount."""
    if name in (None, "denomination"):
        return Field.AMOUNT
    return name
