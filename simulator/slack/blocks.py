"""Block Kit helpers shared by the fake and the driver: finding elements, the exact
`view.state.values` entry Slack sends for each element type, and flattening blocks into text
for assertions. What Slack accepts is checked in validate.py."""

from __future__ import annotations

import copy
import uuid
from collections.abc import Iterator
from typing import Any

Block = dict[str, Any]

# Element type -> the key Slack uses for it in view.state.values and block_actions payloads.
STATE_FIELD: dict[str, str] = {
    "static_select": "selected_option",
    "external_select": "selected_option",
    "radio_buttons": "selected_option",
    "multi_static_select": "selected_options",
    "multi_external_select": "selected_options",
    "checkboxes": "selected_options",
    "users_select": "selected_user",
    "multi_users_select": "selected_users",
    "conversations_select": "selected_conversation",
    "multi_conversations_select": "selected_conversations",
    "channels_select": "selected_channel",
    "multi_channels_select": "selected_channels",
    "plain_text_input": "value",
    "number_input": "value",
    "email_text_input": "value",
    "url_text_input": "value",
    "datepicker": "selected_date",
    "timepicker": "selected_time",
    "datetimepicker": "selected_date_time",
}
_MULTI_FIELDS = {
    "selected_options",
    "selected_users",
    "selected_conversations",
    "selected_channels",
}
_OPTION_FIELDS = {"selected_option", "selected_options"}


def _short_id() -> str:
    return uuid.uuid4().hex[:5]


def iter_elements(blocks: list[Block]) -> Iterator[tuple[Block, dict[str, Any]]]:
    """Every interactive element with its block: input elements, actions elements and
    section accessories."""
    for block in blocks or []:
        kind = block.get("type")
        if kind == "input" and isinstance(block.get("element"), dict):
            yield block, block["element"]
        elif kind == "actions":
            for element in block.get("elements") or []:
                yield block, element
        elif kind == "section" and isinstance(block.get("accessory"), dict):
            accessory = block["accessory"]
            if "action_id" in accessory:
                yield block, accessory


def find_element(
    blocks: list[Block], action_id: str, block_id: str | None = None
) -> tuple[Block, dict[str, Any]]:
    """The (block, element) with this action_id (and block_id when given); LookupError lists
    what is there, since a missing element is usually a test or UI mistake."""
    for block, element in iter_elements(blocks):
        if element.get("action_id") == action_id and block_id in (None, block.get("block_id")):
            return block, element
    seen = [
        (b.get("block_id"), e.get("action_id"), e.get("type")) for b, e in iter_elements(blocks)
    ]
    raise LookupError(f"no element action_id={action_id!r} block_id={block_id!r}; have {seen}")


def with_ids(blocks: list[Block]) -> list[Block]:
    """A copy with a block_id on every block and an action_id on every element, which Slack
    fills in when the app leaves them out."""
    out = copy.deepcopy(blocks or [])
    for block in out:
        block.setdefault("block_id", _short_id())
    for _block, element in iter_elements(out):
        element.setdefault("action_id", _short_id())
    return out


# ---- element state ---------------------------------------------------------------------------


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    found = list(element.get("options") or [])
    for group in element.get("option_groups") or []:
        found.extend(group.get("options") or [])
    return found


def _initial_key(field: str) -> str:
    return "initial_" + field.removeprefix("selected_")


def initial_entry(element: dict[str, Any]) -> dict[str, Any] | None:
    """The state entry Slack reports for an untouched element: its initial_* value, or
    null / [] when it has none. None for elements that carry no state (buttons)."""
    kind = element.get("type", "")
    field = STATE_FIELD.get(kind)
    if field is None:
        return None
    default: Any = [] if field in _MULTI_FIELDS else None
    return {"type": kind, field: copy.deepcopy(element.get(_initial_key(field), default))}


def resolve_option(
    element: dict[str, Any], value: Any, known: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The option object a user picking `value` sends: the element's own option when it has
    options, else one loaded through an options request, else (external selects only) a
    synthesized one."""
    if isinstance(value, dict):
        return copy.deepcopy(value)
    for option in [*_options(element), *(known or [])]:
        if option.get("value") == value:
            return copy.deepcopy(option)
    if element.get("type", "").endswith("external_select"):
        return {"text": {"type": "plain_text", "text": str(value), "emoji": True}, "value": value}
    raise ValueError(
        f"{element.get('action_id')!r} has no option {value!r}; "
        f"options are {[o.get('value') for o in _options(element)]}"
    )


def state_entry(
    element: dict[str, Any], value: Any, known: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The state entry for `value` typed into / picked in `element`, keyed as Slack keys it.

    Values: an option value (or list of them) for selects, radio buttons and checkboxes; user,
    conversation or channel ids for those pickers; text for inputs (numbers become strings, as
    number_input sends them); "YYYY-MM-DD" / "HH:MM" / epoch seconds for date and time pickers.
    """
    kind = element.get("type", "")
    field = STATE_FIELD.get(kind)
    if field is None:
        raise ValueError(f"{kind!r} elements carry no state")
    if value is None:  # cleared
        return {"type": kind, field: [] if field in _MULTI_FIELDS else None}
    if field in _MULTI_FIELDS:
        values = value if isinstance(value, list | tuple) else [value]
        if field in _OPTION_FIELDS:
            return {"type": kind, field: [resolve_option(element, v, known) for v in values]}
        return {"type": kind, field: [str(v) for v in values]}
    if field == "selected_option":
        return {"type": kind, field: resolve_option(element, value, known)}
    if field == "selected_date_time":
        return {"type": kind, field: int(value)}
    return {"type": kind, field: str(value)}


# ---- flattening ----------------------------------------------------------------------------


def _text(obj: Any) -> str:
    return obj.get("text", "") if isinstance(obj, dict) else ""


def _rich_text(node: Any) -> list[str]:
    if isinstance(node, dict):
        if node.get("type") in ("text", "link") and "text" in node:
            return [node["text"]]
        if node.get("type") == "user":
            return [f"<@{node.get('user_id')}>"]
        return [t for child in node.get("elements") or [] for t in _rich_text(child)]
    if isinstance(node, list):
        return [t for child in node for t in _rich_text(child)]
    return []


def _element_text(element: dict[str, Any]) -> list[str]:
    if element.get("type") == "button":
        return [_text(element.get("text"))]
    if element.get("type") == "overflow":
        return [_text(o.get("text")) for o in element.get("options") or []]
    return []


def _block_text(block: Block) -> list[str]:
    kind = block.get("type")
    parts: list[str] = []
    if kind in ("header", "section"):
        parts.append(_text(block.get("text")))
        parts.extend(_text(f) for f in block.get("fields") or [])
        if isinstance(block.get("accessory"), dict):
            parts.extend(_element_text(block["accessory"]))
    elif kind == "context":
        parts.extend(_text(e) for e in block.get("elements") or [])
    elif kind == "actions":
        for element in block.get("elements") or []:
            parts.extend(_element_text(element))
    elif kind == "input":
        parts.append(_text(block.get("label")))
    elif kind == "rich_text":
        parts.append("".join(_rich_text(block)))
    elif kind == "markdown":
        parts.append(str(block.get("text", "")))
    elif kind == "image":
        parts.append(_text(block.get("title")))
    return parts


def plain_text(obj: Any) -> str:
    """What a person reads: a message (its blocks, else its text), a modal (title and blocks),
    a list of blocks or a string, flattened to lines for easy `in` assertions."""
    if obj is None:
        return ""
    if isinstance(obj, str):
        return obj
    if isinstance(obj, list):
        return "\n".join(
            p for block in obj if isinstance(block, dict) for p in _block_text(block) if p
        )
    parts: list[str] = []
    if obj.get("type") == "modal":
        parts.append(_text(obj.get("title")))
    if obj.get("blocks"):
        parts.append(plain_text(obj["blocks"]))
    elif obj.get("type") != "modal":
        parts.append(str(obj.get("text") or ""))
    return "\n".join(p for p in parts if p)
