"""productMeta's checkout fields, read leniently (xoxoday-api.md §13 row 6), as data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.reward_types import EVERY_ORDER, kind
from services.xoxoday.checkout_fields import UnreadableMeta, missing_fields, required_fields

# What an airline-miles order gives: the email, a contact, and its loyalty member id.
MILES = kind("airmiles").collects


@pytest.mark.parametrize(
    ("meta", "required", "missing"),
    [
        (None, [], []),
        ("", [], []),
        ("{}", [], []),
        ("[]", [], []),
        # the simulator's shape: a list under "fields"
        (
            '{"fields": [{"name": "dateOfBirth", "required": true}]}',
            ["dateOfBirth"],
            ["dateOfBirth"],
        ),
        # "e.g., email validation": a field the bot gives
        ({"email": {"validation": "email", "required": True}}, ["email"], []),
        # a bare list of objects, names under other keys, optional ones skipped
        (
            [
                {"key": "contact"},
                {"fieldName": "pan", "mandatory": "1"},
                {"id": "note", "required": False},
            ],
            ["contact", "pan"],
            ["pan"],
        ),
        (
            {"checkoutFields": ["userMeta.loyaltyMemberId", "gstin"]},
            ["userMeta.loyaltyMemberId", "gstin"],
            ["gstin"],
        ),
        ({"checkout_fields": {"date_of_birth": {"isRequired": "no"}}}, [], []),
        ({"version": 2, "theme": "dark"}, [], []),  # no field objects
    ],
)
def test_required_and_missing_fields(meta: Any, required: list[str], missing: list[str]) -> None:
    assert required_fields(meta) == required
    assert missing_fields(meta, MILES) == missing
    if isinstance(meta, dict | list):
        assert missing_fields(json.dumps(meta), MILES) == missing  # as text, as Xoxoday sends it


def test_text_that_is_not_json_is_unreadable_not_guessed() -> None:
    with pytest.raises(UnreadableMeta):
        missing_fields("dateOfBirth required", MILES)


def test_each_kind_gives_what_its_registry_entry_collects() -> None:
    """The registry is the one list: a gift card cannot give a loyalty member id (placeOrder
    would refuse it after approval), airline miles can; a top-up gives its phone fields."""
    meta = {"fields": [{"name": "loyaltyMemberId"}, {"name": "emailId"}]}
    assert missing_fields(meta, kind("gift_card").collects) == ["loyaltyMemberId"]
    assert missing_fields(meta, kind("airmiles").collects) == []
    topup = {"fields": ["topupPhoneCode", "topupPhoneNumber", "mobileNumber"]}
    assert missing_fields(topup, kind("topup").collects) == []
    assert missing_fields(topup, EVERY_ORDER) == ["topupPhoneCode", "topupPhoneNumber"]
