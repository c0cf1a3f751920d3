"""How the demo (bot/demo.py) tells what happens: each Slack message as the person who would
see it sees it, each step's title, and a wait that fails the demo with what it waited for."""

from __future__ import annotations

import re
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

from bot.local import APPROVAL_CHANNEL, LocalStack
from simulator.slack.fake import Call

PEOPLE = {
    "UREQUESTER": "Riya (requester)",
    "UAPPROVER": "Alex (approver)",
    "UAPPROVER2": "Sam (approver)",
    "UANA": "Ana",
    "UBEN": "Ben",
    "UCHO": "Cho",
    "UOTHER": "Olu (not an approver)",
    "UHEAD": "Hana (head of people, asked when a request is overdue)",
}
CHANNELS = {"CREWARDS": "#rewards", APPROVAL_CHANNEL: "#reward-approvals"}


class DemoFailed(Exception):
    pass


class Narrator:
    """Prints each Slack message as the person who would see it sees it."""

    def __init__(self, stack: LocalStack) -> None:
        self.stack = stack
        self._lock = threading.Lock()

    def __call__(self, call: Call) -> None:
        if not call.ok:
            return
        params, method = call.params, call.method
        if method == "chat.postMessage":
            self._show(
                call.response["channel"], params, "thread" if params.get("thread_ts") else ""
            )
        elif method == "chat.update":
            self._show(params["channel"], params, "updated")
        elif method == "chat.postEphemeral":
            self._print(f"only {PEOPLE.get(params['user'], params['user'])} sees", params)
        elif method == "views.publish":
            return  # Home tabs are printed when the demo opens them (they refresh often)
        elif method in ("views.open", "views.update"):
            view = params["view"]
            fields = [
                b["label"]["text"] for b in view.get("blocks", []) if b.get("type") == "input"
            ]
            verb = "opens" if method == "views.open" else "now asks for"
            say(f"    [modal] '{view['title']['text']}' {verb}: {', '.join(fields)}")
            # The budget when the form opens; a warning whenever one is shown.
            marks = ("💰", "⚠️") if method == "views.open" else ("⚠️",)
            notes = [
                block
                for block in view.get("blocks", [])
                if block.get("type") in ("context", "section")
                and any(mark in str(block) for mark in marks)
            ]
            for line in readable(self.stack.slack.plain_text(notes)).splitlines():
                say(f"            {line}")
        elif method == "response_url":
            user = self.stack.slack.hook_user(str(params.get("url")))
            self._print(f"only {PEOPLE.get(user, user) if user else 'the caller'} sees", params)

    def _show(self, channel: str, params: dict[str, Any], how: str) -> None:
        person = self.stack.slack.app.dm_user(channel) if channel.startswith("D") else channel
        if person and person.startswith(("U", "W")):
            where = f"DM to {PEOPLE.get(person, person)}"
        else:
            where = CHANNELS.get(channel, channel)
        self._print(f"{where}{' (' + how + ')' if how else ''}", params)

    def _print(self, where: str, params: dict[str, Any]) -> None:
        text = readable(
            self.stack.slack.plain_text(params.get("blocks") or params.get("text") or "")
        )
        text = text.replace("\n", "\n" + " " * 8)
        with self._lock:
            say(f"    [{where}] {text}")


def readable(mrkdwn: str) -> str:
    """Slack's markup as a person reads it: names for mentions, dates, no asterisks."""
    text = re.sub(
        r"<@(\w+)>", lambda m: "@" + PEOPLE.get(m.group(1), m.group(1)).split(" ")[0], mrkdwn
    )
    text = re.sub(r"<!date\^\d+\^[^|]*\|([^>]*)>", r"\1", text)
    text = re.sub(r"<(https?://[^|>]+)\|([^>]+)>", r"\2 (\1)", text)
    return text.replace("*", "")


def say(text: str = "") -> None:
    # One write per line: the bot's threads print too, and print() writes the newline apart.
    sys.stdout.write(text + "\n")
    sys.stdout.flush()


def settle(stack: LocalStack) -> None:
    """Let the delivery room tell everything the last step owes, so each step's messages show
    under it (Slack delivery runs on its own threads, coalescing for a second or two)."""
    stack.bot.room.run_until_idle(timeout=10)


def step(title: str) -> None:
    say(f"\n== {title}")


def wait(check: Callable[[], Any], what: str, timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.05)
    raise DemoFailed(f"timed out waiting for {what}")
