"""productMeta's checkout fields, read leniently (xoxoday-api.md §13 row 6), as data."""

from __future__ import annotations

import json
from typing import Any

import pytest

from services.xoxoday.checkout_fields import UnreadableMeta, missing_fields, required_fields


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
    assert missing_fields(meta) == missing
    if isinstance(meta, dict | list):
        assert missing_fields(json.dumps(meta)) == missing  # as text, as Xoxoday sends it


def test_text_that_is_not_json_is_unreadable_not_guessed() -> None:
    with pytest.raises(UnreadableMeta):
        missing_fields("dateOfBirth required")
