"""Checkout fields a product's `productMeta` asks for, and which of them the bot cannot give.

getVouchers documents `productMeta` as "a JSON structure defining dynamic checkout fields
(e.g., email validation)" (get-vouchers-api.md; reference §13 row 6), with no example of its
inner shape. A product that requires a field the bot never collects is refused at placeOrder
after approval, so the catalog leaves it out: which fields a product's kind collects is the
reward-kind registry's (services/reward_types.py `RewardKind.collects`), so a kind added with
a field keeps the products that ask for it. It is read leniently: a JSON text or object; a
list of field objects, such a list under a key (`fields`, `checkoutFields`…), or an object of
field name to field object; a field's name under `name`, `key`, `fieldName`, `field` or `id`;
required unless it says otherwise (`required`, `isRequired`, `mandatory`: false). Text that
is not JSON says nothing the bot can act on: the product stays (the caller logs it).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

# How a productMeta may spell the two fields every order can carry (OrderRequest's `email`
# and `contact`): the same field to the bot. Which fields a kind collects is the reward-kind
# registry's to say (services/reward_types.py RewardKind.collects); the caller passes them.
SAME_FIELD = {
    "emailid": "email",
    "receiveremail": "email",
    "phone": "contact",
    "phonenumber": "contact",
    "mobile": "contact",
    "mobilenumber": "contact",
    "receivermobilenumber": "contact",
}
_LIST_KEYS = ("fields", "checkoutFields", "checkout_fields", "formFields", "dynamicFields")
_NAME_KEYS = ("name", "key", "fieldName", "field_name", "field", "id")
_REQUIRED_KEYS = ("required", "isRequired", "is_required", "mandatory", "isMandatory")


class UnreadableMeta(ValueError):
    """productMeta is text that is not JSON."""


def required_fields(meta: Any) -> list[str]:
    """The names of the fields `meta` requires (in its order); UnreadableMeta for non-JSON."""
    if isinstance(meta, str):
        text = meta.strip()
        if not text:
            return []
        try:
            meta = json.loads(text)
        except ValueError:
            raise UnreadableMeta("productMeta is not JSON") from None
    return [name for name, spec in _fields(meta) if _required(spec)]


def missing_fields(meta: Any, collected: Iterable[str]) -> list[str]:
    """Required fields not among `collected` (the names a kind's order gives, however
    spelled: loyalty_member_id, loyaltyMemberId and userMeta.loyaltyMemberId alike); [] when
    they are all given."""
    given = {_same(name) for name in collected}
    return [name for name in required_fields(meta) if _same(name) not in given]


def _fields(meta: Any) -> list[tuple[str, Any]]:
    if isinstance(meta, list):
        return [(name, item) for item in meta if (name := _name(item))]
    if not isinstance(meta, dict):
        return []
    for key in _LIST_KEYS:
        if isinstance(meta.get(key), list | dict):
            return _fields(meta[key]) if isinstance(meta[key], list) else _named(meta[key])
    return _named(meta)


def _named(meta: dict[str, Any]) -> list[tuple[str, Any]]:
    """{"dateOfBirth": {...}, "email": {"validation": ...}}: name -> field object."""
    return [(str(key), value) for key, value in meta.items() if isinstance(value, dict)]


def _name(item: Any) -> str | None:
    if isinstance(item, str):
        return item or None
    if isinstance(item, dict):
        for key in _NAME_KEYS:
            if isinstance(item.get(key), str) and item[key].strip():
                return item[key].strip()
    return None


def _required(spec: Any) -> bool:
    if not isinstance(spec, dict):
        return True
    for key in _REQUIRED_KEYS:
        if key in spec:
            value = spec[key]
            if isinstance(value, str):
                return value.strip().lower() not in ("0", "false", "no", "optional")
            return bool(value)
    return True


def _plain(name: str) -> str:
    """dateOfBirth, date_of_birth and userMeta.dateOfBirth alike: dateofbirth."""
    return re.sub(r"[^a-z0-9]", "", name.rsplit(".", 1)[-1].lower())


def _same(name: str) -> str:
    plain = _plain(name)
    return SAME_FIELD.get(plain, plain)
