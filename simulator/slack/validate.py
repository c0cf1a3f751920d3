"""Slack's rules for what an app sends, enforced by the stand-in on every payload.

Each checker returns Slack-style problem lines (`[ERROR] ... [json-pointer:/...]`); an empty
list means Slack would take it. Two layers:

* slack_sdk's models: `Block.parse(b).to_dict()` and `View(**v).to_dict()` run every
  validator of the block and of the elements nested in it (`validate_json()` alone checks one
  level only). What the models silently drop (a misspelled or unknown property, an empty
  text or list) is reported as Slack reports it: an invalid property.
* the limits the models do not check, from Slack's reference pages
  (https://docs.slack.dev/reference/block-kit/blocks, .../block-elements,
  .../composition-objects, https://docs.slack.dev/reference/views/modal-views,
  https://docs.slack.dev/reference/methods/chat.postMessage,
  https://docs.slack.dev/interactivity/handling-user-interaction): fields ≤2,000 characters,
  `initial_option` among the options, plain_text where Slack requires it, unique ids, block
  counts per surface, a message's `text` cut at 4,000 characters, response_action answers.
"""

from __future__ import annotations

from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block
from slack_sdk.models.views import View

MAX_MESSAGE_BLOCKS = 50  # chat.postMessage / chat.update / response_url
MAX_SURFACE_BLOCKS = 100  # a modal or a Home tab
MAX_TEXT_SHOWN = 4_000  # chat.postMessage: longer `text` is truncated
MAX_TEXT = 40_000  # Slack's old documented limit (msg_too_long), with rule msg_too_long off
# Slack refuses a long `text` with msg_too_long from about 4,000 characters now (seratch on
# seratch/ChatGPT-in-Slack#102), and a message whose blocks add up to more than about 12,000
# characters of text with msg_blocks_too_long (slackapi/bolt-js#2509, #2867).
MAX_BLOCK_TEXT = 12_000
MAX_VIEW_BYTES = 250_000  # views.publish / views.open: view_too_large
MAX_FIELD = 2_000  # a section field's text
MAX_FIELDS = 10
MAX_CONTEXT_ELEMENTS = 10
MAX_ACTIONS_ELEMENTS = 25
MAX_OPTION_TEXT = 75
MAX_OPTION_VALUE = 150
MAX_OPTIONS = 100  # static options, option groups, and an options-load answer
MAX_ERROR_TEXT = 2_000  # a response_action: errors message (our bound; Slack shows one line)
RESPONSE_ACTIONS = ("errors", "update", "push", "clear")

# Elements whose options Slack requires as plain_text (checkboxes and radios take mrkdwn).
_PLAIN_OPTION_ELEMENTS = ("static_select", "multi_static_select", "overflow")
_SELECTS_WITH_INITIAL = {
    "static_select": "initial_option",
    "radio_buttons": "initial_option",
    "multi_static_select": "initial_options",
    "checkboxes": "initial_options",
}


def _where(path: str) -> str:
    return f"[json-pointer:{path}]"


def _text(obj: Any) -> str:
    return obj.get("text", "") if isinstance(obj, dict) else ""


def _dropped(sent: Any, kept: Any, path: str) -> list[str]:
    """What slack_sdk's model left out of `sent`: properties Slack does not know, empty
    strings or lists (Slack refuses both), and list items it could not parse."""
    problems: list[str] = []
    if isinstance(sent, dict):
        kept = kept if isinstance(kept, dict) else {}
        for key, value in sent.items():
            if value is None:
                continue  # JSON null is the same as leaving a property out
            if key not in kept:
                if value in ("", [], {}):
                    problems.append(f"[ERROR] {key} must not be empty {_where(f'{path}/{key}')}")
                else:
                    problems.append(
                        f"[ERROR] invalid additional property: {key} {_where(f'{path}/{key}')}"
                    )
            else:
                problems += _dropped(value, kept[key], f"{path}/{key}")
    elif isinstance(sent, list):
        kept = kept if isinstance(kept, list) else []
        if len(kept) != len(sent):
            problems.append(f"[ERROR] unsupported items in list {_where(path)}")
        else:
            for i, (one, other) in enumerate(zip(sent, kept, strict=True)):
                problems += _dropped(one, other, f"{path}/{i}")
    return problems


def _sdk_block(block: dict[str, Any], path: str) -> list[str]:
    try:
        parsed = Block.parse(block)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return [f"[ERROR] invalid block: {exc} {_where(path)}"]
    if parsed is None:
        return [f"[ERROR] unsupported block type {block.get('type')!r} {_where(path)}"]
    try:
        kept = parsed.to_dict()
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError) as exc:
        return [f"[ERROR] {exc} {_where(path)}"]
    return _dropped(block, kept, path)


def _plain(obj: Any, path: str, what: str) -> list[str]:
    if isinstance(obj, dict) and obj.get("type") != "plain_text":
        return [f"[ERROR] {what} must be a plain_text object {_where(path)}"]
    return []


def _options(element: dict[str, Any]) -> list[dict[str, Any]]:
    found = [o for o in element.get("options") or [] if isinstance(o, dict)]
    for group in element.get("option_groups") or []:
        if isinstance(group, dict):
            found.extend(o for o in group.get("options") or [] if isinstance(o, dict))
    return found


def _same_option(one: dict[str, Any], other: dict[str, Any]) -> bool:
    return one.get("value") == other.get("value") and _text(one.get("text")) == _text(
        other.get("text")
    )


def _element_problems(element: dict[str, Any], path: str) -> list[str]:
    problems: list[str] = []
    kind = element.get("type", "")
    if kind == "button":
        problems += _plain(element.get("text"), f"{path}/text", "a button's text")
    if "placeholder" in element:
        problems += _plain(element["placeholder"], f"{path}/placeholder", "a placeholder")
    # slack_sdk keeps a select's options as given, so each is checked here.
    for i, option in enumerate(_options(element)):
        problems += _option_problems(
            option, f"{path}/options/{i}", plain=kind in _PLAIN_OPTION_ELEMENTS
        )
    initial_key = _SELECTS_WITH_INITIAL.get(kind)
    if initial_key and element.get(initial_key):
        chosen = element[initial_key]
        chosen = chosen if isinstance(chosen, list) else [chosen]
        options = _options(element)
        for option in chosen:
            if not isinstance(option, dict) or not any(_same_option(option, o) for o in options):
                problems.append(
                    f"[ERROR] {initial_key} must match one of the options "
                    f"{_where(f'{path}/{initial_key}')}"
                )
    return problems


def _elements_of(block: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    kind = block.get("type")
    if kind == "input" and isinstance(block.get("element"), dict):
        return [("element", block["element"])]
    if kind == "section" and isinstance(block.get("accessory"), dict):
        return [("accessory", block["accessory"])]
    if kind == "actions":
        return [(f"elements/{i}", e) for i, e in enumerate(block.get("elements") or [])]
    return []


def _block_problems(block: dict[str, Any], path: str) -> list[str]:
    problems = _sdk_block(block, path)
    kind = block.get("type")
    if kind == "header":
        problems += _plain(block.get("text"), f"{path}/text", "a header's text")
    if kind == "input":
        problems += _plain(block.get("label"), f"{path}/label", "an input's label")
        problems += _plain(block.get("hint"), f"{path}/hint", "an input's hint")
    if kind == "section":
        fields = block.get("fields") or []
        if len(fields) > MAX_FIELDS:
            problems.append(f"[ERROR] no more than {MAX_FIELDS} items allowed {_where(path)}")
        for i, field in enumerate(fields):
            if len(_text(field)) > MAX_FIELD:
                problems.append(
                    f"[ERROR] must be less than {MAX_FIELD + 1} characters "
                    f"{_where(f'{path}/fields/{i}/text')}"
                )
    if kind in ("context", "actions") and not block.get("elements"):
        problems.append(f"[ERROR] must provide at least 1 item {_where(f'{path}/elements')}")
    if kind == "context" and len(block.get("elements") or []) > MAX_CONTEXT_ELEMENTS:
        problems.append(f"[ERROR] no more than {MAX_CONTEXT_ELEMENTS} items allowed {_where(path)}")
    action_ids: set[str] = set()
    for where, element in _elements_of(block):
        if not isinstance(element, dict):
            continue
        problems += _element_problems(element, f"{path}/{where}")
        action_id = element.get("action_id")
        if action_id is not None:
            if action_id in action_ids:
                problems.append(
                    f"[ERROR] duplicate action_id {action_id!r} {_where(f'{path}/{where}')}"
                )
            action_ids.add(action_id)
    return problems


def blocks_problems(blocks: Any, max_blocks: int, path: str = "/blocks") -> list[str]:
    """A list of blocks as Slack checks it on a surface that holds at most `max_blocks`."""
    if blocks is None:
        return []
    if not isinstance(blocks, list) or not all(isinstance(b, dict) for b in blocks):
        return [f"[ERROR] blocks must be a list of objects {_where(path)}"]
    problems: list[str] = []
    if len(blocks) > max_blocks:
        problems.append(f"[ERROR] no more than {max_blocks} items allowed {_where(path)}")
    seen: set[str] = set()
    for i, block in enumerate(blocks):
        block_id = block.get("block_id")
        if block_id is not None:
            if block_id in seen:
                problems.append(f"[ERROR] duplicate block_id {block_id!r} {_where(f'{path}/{i}')}")
            seen.add(block_id)
        problems += _block_problems(block, f"{path}/{i}")
    return problems


def message_problems(content: dict[str, Any]) -> list[str]:
    """A message's blocks (chat.postMessage, chat.update, chat.postEphemeral, response_url
    and command answers). The length of `text` is judged separately: see text_over."""
    problems = blocks_problems(content.get("blocks"), MAX_MESSAGE_BLOCKS)
    attachments = content.get("attachments")
    if attachments is not None and not (
        isinstance(attachments, list) and all(isinstance(a, dict) for a in attachments)
    ):
        problems.append(f"[ERROR] attachments must be a list of objects {_where('/attachments')}")
    return problems


def block_text(blocks: Any) -> int:
    """The characters of text in `blocks`, nested elements included (what Slack caps)."""
    if isinstance(blocks, list):
        return sum(block_text(b) for b in blocks)
    if isinstance(blocks, dict):
        return sum(
            len(value) if key == "text" and isinstance(value, str) else block_text(value)
            for key, value in blocks.items()
        )
    return 0


def text_over(content: dict[str, Any]) -> int:
    """How many characters of the message's `text` Slack cuts off (0: none)."""
    text = content.get("text")
    return max(0, len(text) - MAX_TEXT_SHOWN) if isinstance(text, str) else 0


def view_problems(view: Any, surfaces: tuple[str, ...] = ("modal",)) -> list[str]:
    """A modal (views.open/update/push, response_action update/push) or a Home tab
    (views.publish), through slack_sdk's View and the Block Kit checks above."""
    if not isinstance(view, dict):
        return ["[ERROR] view must be an object [json-pointer:/view]"]
    kind = view.get("type")
    if kind not in surfaces:
        return [f"[ERROR] view type must be one of {list(surfaces)} [json-pointer:/view/type]"]
    problems: list[str] = []
    try:
        View(**view).to_dict()
    except (SlackObjectFormationError, TypeError, ValueError, AttributeError) as exc:
        problems.append(f"[ERROR] {exc} [json-pointer:/view]")
    if kind == "modal":
        title = view.get("title")
        if not isinstance(title, dict) or not _text(title):
            problems.append("[ERROR] title is required [json-pointer:/view/title]")
        for key in ("title", "submit", "close"):
            problems += _plain(view.get(key), f"/view/{key}", f"a modal's {key}")
        blocks = view.get("blocks") or []
        has_inputs = any(isinstance(b, dict) and b.get("type") == "input" for b in blocks)
        if has_inputs and not view.get("submit"):
            problems.append("[ERROR] submit is required when input blocks are present")
    elif any(view.get(key) for key in ("submit", "close", "title")):
        problems.append("[ERROR] a Home tab has no title, submit or close [json-pointer:/view]")
    return problems + blocks_problems(view.get("blocks"), MAX_SURFACE_BLOCKS, "/view/blocks")


def input_block_ids(view: dict[str, Any] | None) -> set[str]:
    blocks = (view or {}).get("blocks") or []
    return {
        str(b.get("block_id"))
        for b in blocks
        if isinstance(b, dict) and b.get("type") == "input" and b.get("block_id")
    }


def submission_answer_problems(body: Any, submitted: dict[str, Any] | None) -> list[str]:
    """The app's answer to a view_submission: empty (close), or a response_action.
    `errors` keys must be input block ids of the submitted view; update/push carry a view."""
    if body in (None, "", {}):
        return []
    if not isinstance(body, dict):
        return ["[ERROR] the answer must be a JSON object"]
    action = body.get("response_action")
    if action not in RESPONSE_ACTIONS:
        return [f"[ERROR] response_action must be one of {list(RESPONSE_ACTIONS)}, not {action!r}"]
    if action == "errors":
        errors = body.get("errors")
        if not isinstance(errors, dict) or not errors:
            return ["[ERROR] errors must be a non-empty object [json-pointer:/errors]"]
        inputs = input_block_ids(submitted)
        problems = []
        for key, message in errors.items():
            if key not in inputs:
                problems.append(
                    f"[ERROR] {key!r} is not an input block of the view; have {sorted(inputs)} "
                    f"[json-pointer:/errors/{key}]"
                )
            if not isinstance(message, str) or not message:
                problems.append(f"[ERROR] must be a non-empty string [json-pointer:/errors/{key}]")
            elif len(message) > MAX_ERROR_TEXT:
                problems.append(
                    f"[ERROR] must be less than {MAX_ERROR_TEXT + 1} characters "
                    f"[json-pointer:/errors/{key}]"
                )
        return problems
    if action in ("update", "push"):
        return view_problems(body.get("view"))
    return []


def _option_problems(option: Any, path: str, *, plain: bool = True) -> list[str]:
    """An option object: text ≤75 (plain_text in selects, overflows and options loads;
    checkboxes and radio buttons also take mrkdwn) and a value ≤150 characters."""
    if not isinstance(option, dict):
        return [f"[ERROR] an option must be an object {_where(path)}"]
    problems = _plain(option.get("text"), f"{path}/text", "an option's text") if plain else []
    text, value = _text(option.get("text")), option.get("value")
    if not text:
        problems.append(f"[ERROR] text is required {_where(f'{path}/text')}")
    elif len(text) > MAX_OPTION_TEXT:
        problems.append(
            f"[ERROR] must be less than {MAX_OPTION_TEXT + 1} characters {_where(f'{path}/text')}"
        )
    if not isinstance(value, str) or not value:
        problems.append(f"[ERROR] value is required {_where(f'{path}/value')}")
    elif len(value) > MAX_OPTION_VALUE:
        problems.append(
            f"[ERROR] must be less than {MAX_OPTION_VALUE + 1} characters {_where(f'{path}/value')}"
        )
    return problems


def options_answer_problems(body: Any) -> list[str]:
    """An options-load answer (block_suggestion): `options` or `option_groups`, at most 100,
    plain_text, text ≤75 and value ≤150 characters."""
    if not isinstance(body, dict):
        return ["[ERROR] the answer must be a JSON object with options or option_groups"]
    options, groups = body.get("options"), body.get("option_groups")
    if options is None and groups is None:
        return ["[ERROR] options or option_groups is required"]
    if options is not None and groups is not None:
        return ["[ERROR] options and option_groups cannot both be given"]
    problems: list[str] = []
    if options is not None:
        if not isinstance(options, list):
            return ["[ERROR] options must be a list [json-pointer:/options]"]
        if len(options) > MAX_OPTIONS:
            problems.append(
                f"[ERROR] no more than {MAX_OPTIONS} items allowed [json-pointer:/options]"
            )
        for i, option in enumerate(options):
            problems += _option_problems(option, f"/options/{i}")
        return problems
    if not isinstance(groups, list):
        return ["[ERROR] option_groups must be a list [json-pointer:/option_groups]"]
    if len(groups) > MAX_OPTIONS:
        problems.append(
            f"[ERROR] no more than {MAX_OPTIONS} items allowed [json-pointer:/option_groups]"
        )
    for g, group in enumerate(groups):
        path = f"/option_groups/{g}"
        group = group if isinstance(group, dict) else {}
        problems += _plain(group.get("label"), f"{path}/label", "an option group's label")
        if len(_text(group.get("label"))) > MAX_OPTION_TEXT:
            problems.append(
                f"[ERROR] must be less than {MAX_OPTION_TEXT + 1} characters {_where(path)}/label"
            )
        members = group.get("options") or []
        if len(members) > MAX_OPTIONS:
            problems.append(f"[ERROR] no more than {MAX_OPTIONS} items allowed {_where(path)}")
        for i, option in enumerate(members):
            problems += _option_problems(option, f"{path}/options/{i}")
    return problems


def command_answer_problems(body: Any) -> list[str]:
    """A slash command's immediate answer: empty, text, or a message (text, blocks,
    response_type in_channel or ephemeral)."""
    if body in (None, "", {}):
        return []
    if isinstance(body, str):
        body = {"text": body}  # plain text: Slack shows it as a message's text
    if not isinstance(body, dict):
        return ["[ERROR] the answer must be a JSON object or text"]
    problems = message_problems(body)
    if text_over(body):
        problems.append(f"[ERROR] text over {MAX_TEXT_SHOWN} characters is cut")
    if body.get("response_type") not in (None, "in_channel", "ephemeral"):
        problems.append("[ERROR] response_type must be in_channel or ephemeral")
    return problems


def answer_problems(payload_type: str, body: Any, payload: dict[str, Any]) -> list[str]:
    """What Slack makes of the app's answer (the HTTP response, or a Socket Mode ack's
    payload) to a request of `payload_type` ("slash_commands" for commands)."""
    if payload_type == "slash_commands":
        return command_answer_problems(body)
    if payload_type == "view_submission":
        return submission_answer_problems(body, payload.get("view"))
    if payload_type == "block_suggestion":
        return options_answer_problems(body)
    return []  # Slack ignores what comes back for clicks, closes and events
