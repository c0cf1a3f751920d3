"""Slack's side as plain Python: messages, DMs, ephemerals, modals, Home tabs, channels,
triggers and response_urls, plus the Web API methods the bot calls. Not thread-safe by itself;
FakeSlack serializes access.

Every payload is checked as Slack checks it (validate.py); a refusal is a PayloadRefused, which
the fake also records as a violation. Where Slack accepts a payload yet changes it (a message
`text` over 4,000 characters is cut), the change is made and reported through `on_violation`.
"""

from __future__ import annotations

import base64
import copy
import hashlib
import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from simulator.slack.blocks import with_ids
from simulator.slack.channels import DEFAULT_SCOPES, Channel, default_channels
from simulator.slack.functions import (
    MAX_ERROR,
    Execution,
    FunctionDef,
    load_functions,
    new_id,
    value_problems,
)
from simulator.slack.users import BOT_ID, BOT_USER_ID, TEAM_ID
from simulator.slack.validate import (
    MAX_BLOCK_TEXT,
    MAX_TEXT,
    MAX_TEXT_SHOWN,
    MAX_VIEW_BYTES,
    block_text,
    message_problems,
    text_over,
    view_problems,
)

APP_ID = "A0REWARDS"
TEAM_NAME = "Rewards Demo"
TEAM_DOMAIN = "rewards-demo"
TRIGGER_TTL_S = 3.0  # Slack's documented trigger_id lifetime
MAX_VIEW_STACK = 3  # views.push fails beyond three stacked modals
# A response_url takes 5 posts within 30 minutes (docs.slack.dev/interactivity/
# handling-user-interaction#message_responses).
HOOK_USES = 5
HOOK_TTL_S = 30 * 60
USERS_PAGE_MAX = 1000  # users.list answers at most this many per page
# A custom step's bot_access_token expires 15 minutes after it was issued, or as soon as the
# step completes, whichever comes first (Slack's answer in slackapi/bolt-python#1075).
FUNCTION_TOKEN_TTL_S = 15 * 60

Params = dict[str, Any]
Answer = dict[str, Any]


class SlackError(Exception):
    """An `{"ok": false, "error": ...}` answer, with Slack's response_metadata.messages."""

    def __init__(self, error: str, messages: list[str] | None = None, **extra: Any) -> None:
        super().__init__(error)
        self.error = error
        self.messages = messages or []
        self.extra = extra  # e.g. missing_scope's "needed"

    def body(self) -> Answer:
        body: Answer = {"ok": False, "error": self.error, **self.extra}
        if self.messages:
            body["response_metadata"] = {"messages": self.messages}
        return body


class PayloadRefused(SlackError):
    """Slack refused what the app sent (invalid blocks, view, text): always an app bug."""


@dataclass
class Trigger:
    user: str
    issued: float  # time.monotonic()
    used: bool = False


@dataclass
class Hook:
    """Where a response_url leads: the user and channel it came from, and the message when it
    came from a message button (so replace_original/delete_original have a target)."""

    user: str
    channel: str
    message_ts: str | None
    issued: float = field(default_factory=time.monotonic)
    posts: int = 0


@dataclass
class ViewRecord:
    view: dict[str, Any]
    user: str
    closed: bool = False


def dm_channel(user_id: str) -> str:
    """The bot's DM with a user. Opaque, as Slack's are (D024BE91L): nothing may read the
    person out of it, so the bot must remember whom a DM was for."""
    return "D" + hashlib.sha256(f"dm:{user_id}".encode()).hexdigest()[:10].upper()


def _function_token() -> str:
    return f"xwfp-{new_id('')}-{uuid.uuid4().hex}"


def public_message(msg: dict[str, Any]) -> dict[str, Any]:
    """A stored message as Slack shows it in API answers and payloads (no fake bookkeeping)."""
    hidden = ("channel", "edits", "for_user", "source", "function_execution_id")
    return {k: copy.deepcopy(v) for k, v in msg.items() if k not in hidden}


ViolationHook = Callable[[str, str, list[str]], None]  # (method, error, problems)


def _ignore(_method: str, _error: str, _problems: list[str]) -> None:
    pass


@dataclass
class Workspace:
    users: dict[str, dict[str, Any]]
    trigger_ttl: float = TRIGGER_TTL_S
    channels: dict[str, Channel] = field(default_factory=default_channels)
    scopes: set[str] = field(default_factory=lambda: set(DEFAULT_SCOPES))
    hook_ttl: float = HOOK_TTL_S
    on_violation: ViolationHook = _ignore
    rule: Callable[[str], bool] = lambda _name: True  # rules.py: is this rule on?
    home_tab_enabled: bool = True  # the app's manifest turns the Home tab on
    homes: dict[str, dict[str, Any]] = field(default_factory=dict)  # user -> Home tab view
    messages: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    ephemerals: list[dict[str, Any]] = field(default_factory=list)
    views: dict[str, ViewRecord] = field(default_factory=dict)
    stacks: dict[str, list[str]] = field(default_factory=dict)  # user -> open modal ids
    latest: dict[str, str] = field(default_factory=dict)  # user -> last opened/pushed view
    triggers: dict[str, Trigger] = field(default_factory=dict)
    hooks: dict[str, Hook] = field(default_factory=dict)
    # Custom steps: the app's function definitions (its manifest), and every execution.
    functions: dict[str, FunctionDef] = field(default_factory=load_functions)
    executions: dict[str, Execution] = field(default_factory=dict)
    _last_us: int = 0
    _serial: int = 0

    # ---- ids -------------------------------------------------------------------------------

    def next_ts(self) -> str:
        """A Slack ts: epoch seconds and microseconds, strictly increasing."""
        self._last_us = max(int(time.time() * 1_000_000), self._last_us + 1)
        return f"{self._last_us // 1_000_000}.{self._last_us % 1_000_000:06d}"

    def _next(self) -> int:
        self._serial += 1
        return self._serial

    def _hash(self) -> str:
        return f"{int(time.time())}.{uuid.uuid4().hex[:8]}"

    # ---- dispatch --------------------------------------------------------------------------

    def call(self, method: str, params: Params, execution: Execution | None = None) -> Answer:
        """`execution`: the custom step whose bot_access_token made the call (None: the bot
        token)."""
        handler = self._methods(execution).get(method)
        if handler is None:
            raise SlackError("unknown_method")
        return handler(params)

    def _methods(self, execution: Execution | None = None) -> dict[str, Callable[[Params], Answer]]:
        return {
            "auth.test": self.auth_test,
            "chat.postMessage": lambda p: self.chat_post_message(p, execution),
            "chat.update": self.chat_update,
            "chat.postEphemeral": self.chat_post_ephemeral,
            "chat.getPermalink": self.chat_get_permalink,
            "conversations.open": self.conversations_open,
            "views.open": self.views_open,
            "views.push": self.views_push,
            "views.update": self.views_update,
            "views.publish": self.views_publish,
            "users.info": self.users_info,
            "users.list": self.users_list,
            "users.lookupByEmail": self.users_lookup_by_email,
            "functions.completeSuccess": lambda p: self.complete_function(p, execution, True),
            "functions.completeError": lambda p: self.complete_function(p, execution, False),
        }

    def _require(self, scope: str) -> None:
        if scope not in self.scopes:
            raise SlackError("missing_scope", needed=scope, provided=",".join(sorted(self.scopes)))

    # ---- auth, users, conversations --------------------------------------------------------

    def auth_test(self, _params: Params) -> Answer:
        return {
            "ok": True,
            "url": f"https://{TEAM_DOMAIN}.slack.com/",
            "team": TEAM_NAME,
            "user": self.users.get(BOT_USER_ID, {}).get("name", "rewards-bot"),
            "team_id": TEAM_ID,
            "user_id": BOT_USER_ID,
            "bot_id": BOT_ID,
            "is_enterprise_install": False,
        }

    def _visible(self, user: dict[str, Any]) -> dict[str, Any]:
        """A user as the app may see it: no email without users:read.email."""
        shown = copy.deepcopy(user)
        if "users:read.email" not in self.scopes:
            shown.get("profile", {}).pop("email", None)
        return shown

    def users_info(self, params: Params) -> Answer:
        self._require("users:read")
        user = self.users.get(str(params.get("user") or ""))
        if user is None:
            raise SlackError("user_not_found")
        return {"ok": True, "user": self._visible(user)}

    def users_list(self, params: Params) -> Answer:
        """Everyone, deactivated people and bots included, in pages of `limit` (none: all
        at once) with an opaque `cursor` (https://docs.slack.dev/apis/web-api/pagination)."""
        self._require("users:read")
        try:
            limit = int(params.get("limit") or 0)
            cursor = str(params.get("cursor") or "")
            offset = int(base64.urlsafe_b64decode(cursor.encode()).decode()[7:]) if cursor else 0
        except (ValueError, UnicodeDecodeError):
            raise SlackError("invalid_cursor") from None
        limit = min(limit or USERS_PAGE_MAX, USERS_PAGE_MAX)
        ids = sorted(self.users)
        page = ids[offset : offset + limit]
        end = offset + len(page)
        following = (
            base64.urlsafe_b64encode(f"offset:{end}".encode()).decode() if end < len(ids) else ""
        )
        return {
            "ok": True,
            "members": [self._visible(self.users[i]) for i in page],
            "cache_ts": int(time.time()),
            "response_metadata": {"next_cursor": following},
        }

    def users_lookup_by_email(self, params: Params) -> Answer:
        self._require("users:read.email")
        email = str(params.get("email") or "").strip().lower()
        for user in self.users.values():
            if email and user["profile"].get("email", "").lower() == email:
                return {"ok": True, "user": self._visible(user)}
        raise SlackError("users_not_found")

    def dm_user(self, channel: str) -> str | None:
        """Whose DM a D… channel is, or None."""
        return next((user for user in self.users if dm_channel(user) == channel), None)

    def _dm_target(self, user_id: str, missing: str) -> str:
        user = self.users.get(user_id)
        if user is None:
            raise SlackError(missing)
        if user.get("deleted"):
            raise SlackError("user_disabled")
        if user.get("is_bot"):
            raise SlackError("cannot_dm_bot")
        return dm_channel(user_id)

    def conversations_open(self, params: Params) -> Answer:
        self._require("im:write")
        users = params.get("users") or []
        ids = users if isinstance(users, list) else [u for u in str(users).split(",") if u]
        if not ids and params.get("channel"):
            return {"ok": True, "channel": {"id": str(params["channel"])}}
        if not ids:
            raise SlackError("users_list_not_supplied")
        if len(ids) > 1:
            raise SlackError("fake_unsupported", ["[ERROR] the fake opens one-to-one DMs only"])
        return {"ok": True, "channel": {"id": self._dm_target(ids[0], "user_not_found")}}

    # ---- messages --------------------------------------------------------------------------

    def _channel(self, channel: Any) -> str:
        """Where a post lands, or Slack's refusal. A user id means that user's DM with the
        bot; a D… id must be the DM of a user who can still get one; a channel must let the
        bot post (member, or public with chat:write.public) and not be archived."""
        self._require("chat:write")
        channel = str(channel or "")
        if not channel:
            raise SlackError("channel_not_found")
        if channel.startswith(("U", "W")):
            return self._dm_target(channel, "channel_not_found")
        if channel.startswith("D"):
            return self._dm_target(self.dm_user(channel) or "", "channel_not_found")
        found = self.channels.get(channel)
        if found is None or (found.is_private and not found.bot_member):
            raise SlackError("channel_not_found")
        if found.is_archived:
            raise SlackError("is_archived")
        if not found.bot_member and not (
            not found.is_private and "chat:write.public" in self.scopes
        ):
            raise SlackError("not_in_channel")
        return channel

    def members(self, channel: str) -> set[str]:
        """Who is in `channel` (a DM: its user)."""
        if channel.startswith("D"):
            user = self.dm_user(channel)
            return {user} if user else set()
        found = self.channels.get(channel)
        return set(found.members) if found else set()

    def _content(self, params: Params, method: str) -> dict[str, Any]:
        text, blocks, attachments = (params.get(k) for k in ("text", "blocks", "attachments"))
        if not text and not blocks and not attachments:
            raise SlackError("no_text")
        problems = message_problems(params)
        if problems:
            raise PayloadRefused("invalid_blocks", problems)
        text = str(text or "")
        limit = MAX_TEXT_SHOWN if self.rule("msg_too_long") else MAX_TEXT
        if len(text) > limit:
            raise PayloadRefused(
                "msg_too_long", [f"[ERROR] text of {len(text)} characters, over {limit}"]
            )
        written = block_text(blocks)
        if self.rule("block_text_cap") and written > MAX_BLOCK_TEXT:
            raise PayloadRefused(
                "msg_blocks_too_long",
                [f"[ERROR] the blocks hold {written} characters of text, over {MAX_BLOCK_TEXT}"],
            )
        cut = text_over(params)
        if cut:
            # Slack takes the message and cuts the text (chat.postMessage, "Truncating content").
            self.on_violation(
                method,
                "text_truncated",
                [f"text of {len(text)} characters was cut to {MAX_TEXT_SHOWN}"],
            )
            text = text[:MAX_TEXT_SHOWN]
        content: dict[str, Any] = {"text": text, "blocks": with_ids(blocks or [])}
        if attachments:
            content["attachments"] = copy.deepcopy(attachments)
        return content

    def post(self, channel: str, content: dict[str, Any], thread_ts: Any = None) -> dict[str, Any]:
        msg: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "ts": self.next_ts(),
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            "team": TEAM_ID,
            **content,
            "edits": [],
        }
        if thread_ts:
            msg["thread_ts"] = str(thread_ts)
        self.messages[(channel, msg["ts"])] = msg
        return msg

    @staticmethod
    def edit(msg: dict[str, Any], content: dict[str, Any], ts: str) -> None:
        """Replace a message's content (text-only edits drop the blocks, as Slack does) and
        keep the version it replaced."""
        previous = {k: copy.deepcopy(msg[k]) for k in ("text", "blocks", "attachments") if k in msg}
        msg.setdefault("edits", []).append({**previous, "replaced_at": time.time()})
        msg.pop("attachments", None)
        msg.update({"blocks": [], **content, "edited": {"user": BOT_USER_ID, "ts": ts}})

    def _may_post(self, channel: str, thread_ts: Any) -> None:
        found = self.channels.get(channel)
        if found is None:
            return
        if found.read_only:
            raise SlackError("restricted_action_read_only_channel")
        if found.thread_only and not thread_ts:
            raise SlackError("restricted_action_thread_only_channel")

    def chat_post_message(self, params: Params, execution: Execution | None = None) -> Answer:
        channel = self._channel(params.get("channel"))
        self._may_post(channel, params.get("thread_ts"))
        msg = self.post(channel, self._content(params, "chat.postMessage"), params.get("thread_ts"))
        if execution is not None:  # posted with a step's token: its buttons belong to the step
            msg["function_execution_id"] = execution.id
        if params.get("metadata"):
            msg["metadata"] = copy.deepcopy(params["metadata"])
        return {"ok": True, "channel": channel, "ts": msg["ts"], "message": public_message(msg)}

    def chat_update(self, params: Params) -> Answer:
        self._require("chat:write")
        channel, ts = str(params.get("channel") or ""), str(params.get("ts") or "")
        if not channel or channel.startswith(("U", "W")):  # DMs must be updated by D… id
            raise SlackError("channel_not_found")
        found = self.channels.get(channel)
        if not channel.startswith("D") and (
            found is None or (found.is_private and not found.bot_member)
        ):
            raise SlackError("channel_not_found")
        if found is not None and found.is_archived:
            raise SlackError("is_archived")
        msg = self.messages.get((channel, ts))
        if msg is None:
            raise SlackError("message_not_found")
        self.edit(msg, self._content(params, "chat.update"), self.next_ts())
        return {
            "ok": True,
            "channel": channel,
            "ts": ts,
            "text": msg["text"],
            "message": public_message(msg),
        }

    def post_ephemeral(
        self, channel: str, user: str, content: dict[str, Any], source: str, thread_ts: Any = None
    ) -> dict[str, Any]:
        eph: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "for_user": user,
            "ts": self.next_ts(),
            "user": BOT_USER_ID,
            "bot_id": BOT_ID,
            "app_id": APP_ID,
            **content,
            "source": source,
        }
        if thread_ts:
            eph["thread_ts"] = str(thread_ts)
        self.ephemerals.append(eph)
        return eph

    def chat_post_ephemeral(self, params: Params) -> Answer:
        channel = self._channel(params.get("channel"))
        found = self.channels.get(channel)
        if found is not None and not found.bot_member and self.rule("ephemeral_membership"):
            # Refused where the bot is not a member, chat:write.public or not
            # (slackapi/node-slack-sdk#977): answer through the response_url instead.
            raise SlackError("not_in_channel")
        user = str(params.get("user") or "")
        if (
            user not in self.users
            or self.users[user].get("deleted")
            or user not in self.members(channel)
        ):
            raise SlackError("user_not_in_channel")
        content = self._content(params, "chat.postEphemeral")
        eph = self.post_ephemeral(
            channel, user, content, "chat.postEphemeral", params.get("thread_ts")
        )
        return {"ok": True, "message_ts": eph["ts"]}

    def find_message(self, channel: str, ts: str | None) -> dict[str, Any] | None:
        if ts is None:
            return None
        found = self.messages.get((channel, ts))
        if found is None:
            found = next(
                (e for e in self.ephemerals if e["channel"] == channel and e["ts"] == ts), None
            )
        return found

    def post_as(self, user: str, channel: str, text: str, thread_ts: str | None = None) -> Any:
        """A message a person wrote (not the bot): what a message shortcut is used on."""
        if user not in self.users:
            raise SlackError("user_not_found")
        if not (channel.startswith("D") or channel in self.channels):
            raise SlackError("channel_not_found")
        msg: dict[str, Any] = {
            "type": "message",
            "channel": channel,
            "ts": self.next_ts(),
            "user": user,
            "team": TEAM_ID,
            "text": text,
            "blocks": [],
            "edits": [],
        }
        if thread_ts:
            msg["thread_ts"] = thread_ts
        self.messages[(channel, msg["ts"])] = msg
        return msg

    def chat_get_permalink(self, params: Params) -> Answer:
        """https://docs.slack.dev/reference/methods/chat.getPermalink: no scope needed; a
        reply in a thread links with `thread_ts` and `cid`."""
        channel = str(params.get("channel") or "")
        ts = str(params.get("message_ts") or "")
        found = self.channels.get(channel)
        if not channel.startswith("D") and (
            found is None or (found.is_private and not found.bot_member)
        ):
            raise SlackError("channel_not_found")
        msg = self.messages.get((channel, ts))
        if msg is None:
            raise SlackError("message_not_found")
        link = f"https://{TEAM_DOMAIN}.slack.com/archives/{channel}/p{ts.replace('.', '')}"
        if msg.get("thread_ts") and msg["thread_ts"] != ts:
            link += f"?thread_ts={msg['thread_ts']}&cid={channel}"
        return {"ok": True, "channel": channel, "permalink": link}

    # ---- triggers and modals ---------------------------------------------------------------

    def issue_trigger(self, user: str) -> str:
        trigger_id = f"{int(time.time())}.{self._next()}.{uuid.uuid4().hex[:16]}"
        self.triggers[trigger_id] = Trigger(user, time.monotonic())
        return trigger_id

    def _trigger(self, trigger_id: Any) -> Trigger:
        if not trigger_id:
            raise SlackError("invalid_arguments", ["[ERROR] missing required field: trigger_id"])
        trigger = self.triggers.get(str(trigger_id))
        if trigger is None:
            raise SlackError("invalid_trigger_id")
        if trigger.used:
            raise SlackError("trigger_exchanged")
        if time.monotonic() - trigger.issued > self.trigger_ttl:
            raise SlackError("expired_trigger_id")
        return trigger

    def _not_too_large(self, view: Any) -> None:
        size = len(json.dumps(view))
        if self.rule("view_too_large") and size > MAX_VIEW_BYTES:
            raise PayloadRefused(
                "view_too_large", [f"[ERROR] the view is {size} bytes, over {MAX_VIEW_BYTES}"]
            )

    def _view_param(self, params: Params, replacing: str | None = None) -> dict[str, Any]:
        view = params.get("view")
        if view is None:
            raise SlackError("invalid_arguments", ["[ERROR] missing required field: view"])
        self._not_too_large(view)
        problems = view_problems(view)
        if problems:
            raise PayloadRefused("invalid_arguments", problems)
        external_id = view.get("external_id")
        if external_id and any(
            r.view["external_id"] == external_id and not r.closed and r.view["id"] != replacing
            for r in self.views.values()
        ):
            raise SlackError("duplicate_external_id")
        return view

    def _build_view(
        self, source: dict[str, Any], view_id: str, previous: str | None, root: str | None
    ) -> dict[str, Any]:
        return {
            "id": view_id,
            "team_id": TEAM_ID,
            "type": source["type"],
            "blocks": with_ids(source.get("blocks") or []),
            "private_metadata": source.get("private_metadata") or "",
            "callback_id": source.get("callback_id") or "",
            "state": {"values": {}},
            "hash": self._hash(),
            "title": copy.deepcopy(source.get("title")),
            "clear_on_close": bool(source.get("clear_on_close", False)),
            "notify_on_close": bool(source.get("notify_on_close", False)),
            "close": copy.deepcopy(source.get("close")),
            "submit": copy.deepcopy(source.get("submit")),
            "previous_view_id": previous,
            "root_view_id": root or view_id,
            "app_id": APP_ID,
            "external_id": source.get("external_id") or "",
            "app_installed_team_id": TEAM_ID,
            "bot_id": BOT_ID,
        }

    def push_view(self, user: str, source: dict[str, Any]) -> dict[str, Any]:
        stack = self.stacks.setdefault(user, [])
        if len(stack) >= MAX_VIEW_STACK:
            raise SlackError("push_limit_reached")
        view_id = f"V{self._next():09d}"
        previous = stack[-1] if stack else None
        root = self.views[stack[0]].view["id"] if stack else None
        self.views[view_id] = ViewRecord(self._build_view(source, view_id, previous, root), user)
        stack.append(view_id)
        self.latest[user] = view_id
        return self.views[view_id].view

    def close_views(self, user: str, keep: int = 0) -> None:
        """Close the user's modals above the first `keep` (0 closes them all)."""
        stack = self.stacks.get(user, [])
        for view_id in stack[keep:]:
            self.views[view_id].closed = True
        del stack[keep:]

    def views_open(self, params: Params) -> Answer:
        trigger = self._trigger(params.get("trigger_id"))
        source = self._view_param(params)
        trigger.used = True
        self.close_views(trigger.user)  # a fresh modal replaces whatever the user had open
        return {"ok": True, "view": copy.deepcopy(self.push_view(trigger.user, source))}

    def views_push(self, params: Params) -> Answer:
        trigger = self._trigger(params.get("trigger_id"))
        source = self._view_param(params)
        view = self.push_view(trigger.user, source)
        trigger.used = True
        return {"ok": True, "view": copy.deepcopy(view)}

    def views_update(self, params: Params) -> Answer:
        view_id, external_id = params.get("view_id"), params.get("external_id")
        if view_id:
            record = self.views.get(str(view_id))
        elif external_id:
            record = next(
                (r for r in self.views.values() if r.view["external_id"] == external_id), None
            )
        else:
            raise SlackError("invalid_arguments", ["[ERROR] view_id or external_id is required"])
        if record is None or record.closed:
            raise SlackError("not_found")
        if params.get("hash") and params["hash"] != record.view["hash"]:
            raise SlackError("hash_conflict")
        self.replace_view(record, self._view_param(params, replacing=record.view["id"]))
        return {"ok": True, "view": copy.deepcopy(record.view)}

    def views_publish(self, params: Params) -> Answer:
        """A Home tab for `user_id` (https://docs.slack.dev/reference/methods/views.publish)."""
        user = str(params.get("user_id") or "")
        if not self.home_tab_enabled:
            raise SlackError("not_enabled")
        if user not in self.users:
            raise SlackError("user_not_found")
        view = params.get("view")
        self._not_too_large(view)
        problems = view_problems(view, surfaces=("home",))
        if problems:
            raise PayloadRefused("invalid_arguments", problems)
        current = self.homes.get(user)
        if params.get("hash") and current is not None and params["hash"] != current["hash"]:
            raise SlackError("hash_conflict")
        home = {
            "id": current["id"] if current else f"V{self._next():09d}",
            "team_id": TEAM_ID,
            "type": "home",
            "blocks": with_ids(view.get("blocks") or []),  # type: ignore[union-attr]
            "private_metadata": view.get("private_metadata") or "",  # type: ignore[union-attr]
            "callback_id": view.get("callback_id") or "",  # type: ignore[union-attr]
            "state": {"values": {}},
            "hash": self._hash(),
            "app_id": APP_ID,
            "bot_id": BOT_ID,
        }
        self.homes[user] = home
        return {"ok": True, "view": copy.deepcopy(home)}

    def replace_view(self, record: ViewRecord, source: dict[str, Any]) -> None:
        old = record.view
        record.view = self._build_view(
            source, old["id"], old["previous_view_id"], old["root_view_id"]
        )

    def apply_submission_ack(self, view_id: str, ack: dict[str, Any] | None) -> None:
        """What Slack does with the bot's answer to a view_submission: close the modal, show
        errors (nothing changes here), update it in place, push a new one, or clear them all."""
        record = self.views[view_id]
        action = (ack or {}).get("response_action")
        stack = self.stacks.get(record.user, [])
        if action == "errors":
            return
        if action in ("update", "push"):
            source = (ack or {}).get("view")
            problems = view_problems(source)
            if problems:
                raise PayloadRefused("invalid_arguments", problems)
            if action == "update":
                self.replace_view(record, source)  # type: ignore[arg-type]
            else:
                self.push_view(record.user, source)  # type: ignore[arg-type]
            return
        if action == "clear":
            self.close_views(record.user)
        elif view_id in stack:
            self.close_views(record.user, keep=stack.index(view_id))
        else:
            record.closed = True

    # ---- response_url ----------------------------------------------------------------------

    def issue_hook(self, kind: str, user: str, channel: str, message_ts: str | None) -> str:
        path = f"/hooks/{kind}/{TEAM_ID}/{self._next()}/{uuid.uuid4().hex[:24]}"
        self.hooks[path] = Hook(user, channel, message_ts)
        return path

    def hook_post(self, path: str, body: dict[str, Any]) -> None:
        """Apply a respond() post the way Slack does; default is a new ephemeral message.
        SlackError when Slack refuses it: unknown URL, 5 uses or 30 minutes spent (the
        error names are the fake's: Slack's docs give the limits, not the wording), or a
        payload Slack would not show."""
        hook = self.hooks.get(path)
        if hook is None:
            raise SlackError("invalid_url")
        if time.monotonic() - hook.issued > self.hook_ttl:
            raise PayloadRefused("expired_url", ["[ERROR] a response_url works for 30 minutes"])
        if hook.posts >= HOOK_USES:
            raise PayloadRefused("used_url", [f"[ERROR] a response_url takes {HOOK_USES} posts"])
        if not _flag(body.get("delete_original")):
            content = self._content(body, "response_url")
        else:
            content = {"text": "", "blocks": []}
        hook.posts += 1
        original = self.find_message(hook.channel, hook.message_ts)
        if original is not None and _flag(body.get("delete_original")):
            if (hook.channel, original["ts"]) in self.messages:
                del self.messages[(hook.channel, original["ts"])]
            else:
                self.ephemerals.remove(original)
        elif original is not None and _flag(body.get("replace_original")):
            self.edit(original, content, self.next_ts())
        elif body.get("response_type") == "in_channel":
            self.post(hook.channel, content, body.get("thread_ts"))
        else:
            self.post_ephemeral(hook.channel, hook.user, content, "response_url")

    # ---- custom steps (Workflow Builder) ---------------------------------------------------

    def start_execution(
        self, callback_id: str, inputs: dict[str, Any], workflow_execution_id: str | None = None
    ) -> Execution:
        """A workflow reaches the app's step `callback_id` with `inputs`: a new execution.
        ValueError when Slack could not run it (no such function in the manifest, or inputs
        its declared parameters cannot hold)."""
        function = self.functions.get(callback_id)
        if function is None:
            raise ValueError(
                f"the app's manifest declares no function {callback_id!r}; "
                f"it declares {sorted(self.functions)}"
            )
        problems = value_problems(function.inputs, inputs, "inputs")
        if problems:
            raise ValueError(f"Slack would not run {callback_id} with these inputs: {problems}")
        execution = Execution(
            id=new_id("Fx"),
            function=function,
            inputs=copy.deepcopy(inputs),
            token=_function_token(),
            workflow_execution_id=workflow_execution_id or new_id("Wx"),
            event_id=new_id("Ev"),
            event_ts=self.next_ts(),
        )
        execution.tokens[execution.token] = time.time()
        self.executions[execution.id] = execution
        return execution

    def issue_function_token(self, execution: Execution) -> str:
        """A fresh bot_access_token for `execution`, as a click on its message brings one."""
        token = _function_token()
        execution.tokens[token] = time.time()
        return token

    def execution_token(self, token: str) -> Execution | None:
        """The execution this bot_access_token was issued for (None: not one)."""
        return next((e for e in self.executions.values() if token in e.tokens), None)

    @staticmethod
    def token_problem(execution: Execution, token: str) -> str | None:
        """Why an execution's token no longer works (None: it does)."""
        if execution.state != "running":
            return "token_revoked"
        if time.time() - execution.tokens.get(token, 0.0) > FUNCTION_TOKEN_TTL_S:
            return "token_expired"
        return None

    def complete_function(self, params: Params, caller: Execution | None, success: bool) -> Answer:
        """functions.completeSuccess / completeError: once per execution, outputs as declared."""
        method = "functions.completeSuccess" if success else "functions.completeError"
        execution_id = str(params.get("function_execution_id") or "")
        if not execution_id:
            raise PayloadRefused(
                "invalid_arguments", ["[ERROR] missing required field: function_execution_id"]
            )
        execution = self.executions.get(execution_id)
        if execution is None:
            raise PayloadRefused(
                "function_execution_not_found",
                [f"[ERROR] {method}: no function execution {execution_id!r} was started"],
            )
        if caller is not None and caller.id != execution.id:
            raise PayloadRefused(
                "access_denied",
                [f"[ERROR] {method}: the token of {caller.id} cannot complete {execution.id}"],
            )
        if execution.state != "running":
            raise PayloadRefused(
                "execution_not_in_running_state",
                [f"[ERROR] {method}: {execution.id} already {execution.state}"],
            )
        if success:
            outputs = params.get("outputs")
            problems = value_problems(execution.function.outputs, outputs, "outputs")
            if problems:
                raise PayloadRefused("parameter_validation_failed", problems)
            execution.outputs = copy.deepcopy(outputs)
            execution.state = "completed"
        else:
            error = params.get("error")
            if not isinstance(error, str) or not error.strip():
                raise PayloadRefused("invalid_arguments", ["[ERROR] missing required field: error"])
            if len(error) > MAX_ERROR:
                raise PayloadRefused(
                    "invalid_arguments",
                    [f"[ERROR] error must be less than {MAX_ERROR + 1} characters"],
                )
            execution.error = error
            execution.state = "failed"
        execution.ended = time.time()
        return {"ok": True}


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
