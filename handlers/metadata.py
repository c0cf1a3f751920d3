"""What travels inside Slack payloads (private_metadata, button values), as typed models."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from handlers import permalinks
from services.reward_types import kind_or_default
from storage.models import OrderRow, RequestRow


class _Meta(BaseModel):
    model_config = ConfigDict(extra="ignore")

    def dump(self) -> str:
        text = self.model_dump_json(exclude_none=True)
        assert len(text) <= 3000, "private_metadata is limited to 3000 characters"
        return text

    @classmethod
    def load(cls, text: str | None):  # type: ignore[no-untyped-def]
        """Parse, or None when the payload is not ours (old view, forged value)."""
        try:
            return cls.model_validate_json(text or "")
        except ValidationError:
            return None


class RewardModalMeta(_Meta):
    channel_id: str | None = None  # where /reward was typed: the status goes there
    # Empty, or a kind this release does not have: the first kind of the registry.
    reward_type: str = Field(default="", validate_default=True)
    product_id: int | None = None
    # "Reward this message": the message's permalink. Sent back by the client, so anything
    # but a plain Slack permalink is dropped (handlers/permalinks.py).
    source_link: str | None = None
    # Who wrote that message: the request keeps the link only while they are a recipient
    # (services/intake.py).
    source_author: str | None = None
    # Where the gift cards searched are sold (a Xoxoday country code); "" every country.
    country: str = ""

    @field_validator("country", mode="before")
    @classmethod
    def _country(cls, value: object) -> str:
        return country_code(value)

    @field_validator("reward_type", mode="before")
    @classmethod
    def _known(cls, value: str) -> str:
        return kind_or_default(value).key

    @field_validator("source_link", mode="before")
    @classmethod
    def _permalink(cls, value: object) -> str | None:
        return permalinks.checked(value)


def country_code(value: object) -> str:
    """A country code sent back by the client: lower-case letters and underscores, or ""."""
    text = str(value or "").strip().lower()
    return text if _COUNTRY.fullmatch(text) else ""


_COUNTRY = re.compile(r"[a-z][a-z_]{1,39}")


class ChoiceModalMeta(_Meta):
    """A recipient's choice modal: which order, where they look, what they picked. The
    recipient is checked from the signed payload every time (services/choices.py)."""

    order_id: int = Field(gt=0)
    country: str = ""
    product_id: int | None = None

    @field_validator("country", mode="before")
    @classmethod
    def _country(cls, value: object) -> str:
        return country_code(value)


class ChoiceRef(_Meta):
    """The "Choose my reward" button's value: the order whose reward is chosen."""

    order_id: int = Field(gt=0)


class RequestRef(_Meta):
    """A button's value: which request it decides, and when that request was made.

    Request numbers can come back: a database restored from a backup gives the requests made
    after it the numbers of those it lost, while their asks stay in Slack with live buttons.
    `made` (the request's created_at) tells the request a button was drawn for from a later
    one with the same number. Buttons drawn before it was added carry none."""

    request_id: int = Field(gt=0)
    made: str | None = None

    @classmethod
    def of(cls, request: RequestRow) -> RequestRef:
        return cls(request_id=request.id, made=request.created_at)

    def names(self, request: RequestRow | None) -> bool:
        """The button was drawn for this very request (not another with its number)."""
        return request is not None and self.made in (None, request.created_at)


class RejectModalMeta(_Meta):
    request_id: int = Field(gt=0)
    made: str | None = None  # as RequestRef


class OrderRef(_Meta):
    """A button's value naming one order: its id, and its poNumber, which never changes and is
    never reused, so a button drawn for an order before a restore cannot act on another that
    got its id. It names the order only: who may press is decided from the signed user."""

    order_id: int = Field(gt=0)
    po_number: str = Field(min_length=1, max_length=100)

    @classmethod
    def of(cls, order: OrderRow) -> OrderRef:
        return cls(order_id=order.id, po_number=order.po_number)
