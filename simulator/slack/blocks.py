"""Block Kit helpers shared by the fake and the driver: finding elements, the exact
`view.state.values` entry Slack sends for each element type, light validation, and flattening
blocks into text for assertions."""

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


# ---- validation ------------------------------------------------------------------------------

_LIMITS = {"header": 150, "section": 3000}


def _text(obj: Any) -> str:
    return obj.get("text", "") if isinstance(obj, dict) else ""


def block_problems(blocks: Any, max_blocks: int) -> list[str]:
    """The subset of Slack's Block Kit checks that catch real bot bugs: counts, lengths,
    duplicate ids and button limits. Messages follow Slack's `[ERROR] ...` wording."""
    if blocks is None:
        return []
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        return ["[ERROR] blocks must be a list of objects"]
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"[ERROR] no more than {max_blocks} items allowed [json-pointer:/blocks]")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        where = f"[json-pointer:/blocks/{i}]"
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                problems.append(f"[ERROR] duplicate block_id {block_id!r} {where}")
            seen.add(block_id)
        limit = _LIMITS.get(block.get("type", ""))
        if limit and len(_text(block.get("text"))) > limit:
            problems.append(f"[ERROR] must be less than {limit + 1} characters {where}/text")
        if len(block.get("fields") or []) > 10:
            problems.append(f"[ERROR] no more than 10 items allowed {where}/fields")
    for block, element in iter_elements(blocks):
        if element.get("type") != "button":
            continue
        where = f"[block_id {block.get('block_id')!r}, action_id {element.get('action_id')!r}]"
        if len(_text(element.get("text"))) > 75:
            problems.append(f"[ERROR] button text must be less than 76 characters {where}")
        if len(str(element.get("value", ""))) > 2000:
            problems.append(f"[ERROR] button value must be less than 2001 characters {where}")
        if element.get("style") not in (None, "primary", "danger"):
            problems.append(f"[ERROR] button style must be primary or danger {where}")
    return problems


def view_problems(view: Any) -> list[str]:
    """Modal checks from Slack's view reference (title ≤24, ≤100 blocks, submit needed with
    inputs, private_metadata ≤3000)."""
    if not isinstance(view, dict):
        return ["[ERROR] view must be an object"]
    if view.get("type") != "modal":
        return [f"[ERROR] unsupported view type {view.get('type')!r}; the fake serves modals"]
    problems: list[str] = []
    title = view.get("title")
    if not isinstance(title, dict) or title.get("type") != "plain_text" or not _text(title):
        problems.append("[ERROR] title must be a plain_text object [json-pointer:/view/title]")
    elif len(_text(title)) > 24:
        problems.append("[ERROR] must be less than 25 characters [json-pointer:/view/title/text]")
    for key in ("submit", "close"):
        if len(_text(view.get(key))) > 24:
            problems.append(f"[ERROR] must be less than 25 characters [json-pointer:/view/{key}]")
    blocks = view.get("blocks") or []
    if any(b.get("type") == "input" for b in blocks if isinstance(b, dict)) and not view.get(
        "submit"
    ):
        problems.append("[ERROR] submit is required when input blocks are present")
    if len(view.get("private_metadata") or "") > 3000:
        problems.append(
            "[ERROR] must be less than 3001 characters [json-pointer:/view/private_metadata]"
        )
    if len(view.get("callback_id") or "") > 255:
        problems.append("[ERROR] must be less than 256 characters [json-pointer:/view/callback_id]")
    return problems + block_problems(blocks, 100)


# ---- flattening ------------------------------------------------------------------------------


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
