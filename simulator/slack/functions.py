"""Workflow Builder custom steps, Slack's side: the app's function definitions (read from its
manifest, as Slack reads them), their executions, the `function_executed` event that starts one,
and `functions.completeSuccess` / `functions.completeError` that end it.

Following https://docs.slack.dev/tools/bolt-python/concepts/custom-steps,
https://docs.slack.dev/reference/events/function_executed and the two methods' reference pages
(https://docs.slack.dev/reference/methods/functions.completeSuccess, .../completeError):

* an execution has an id (`Fx…`), belongs to a workflow run (`Wx…`) and comes with a
  `bot_access_token` (`xwfp-…`) that Bolt puts on the listener's client; a token works while
  the execution runs and for 15 minutes after it was issued (slackapi/bolt-python#1075:
  "expire 15 mins after being issued OR are revoked when the step is completed"), and only for
  that execution's completion;
* a message posted with an execution's token belongs to that execution: a click on one of its
  buttons reaches the app as `block_actions` carrying `function_data` (`execution_id`,
  `inputs`, `function`), `interactivity` (the person who clicked) and a fresh
  `bot_access_token` issued at the click, so a step that ends on a click (hours later) can
  complete or fail from it, as Slack's samples do (slack-samples/bolt-python-request-time-off
  `functions/actions/approve.py`; bolt-python `tests/scenario_tests/
  test_function_block_action.py` for the payload);
* the step ends once: a second completion is `execution_not_in_running_state`, an id Slack
  never issued is `function_execution_not_found`;
* outputs must match the function's declared `output_parameters`: every required one present,
  no other key, each of its declared type (`parameter_validation_failed` otherwise).

Inputs are checked against `input_parameters` when the stand-in starts an execution: Slack only
sends what the workflow can hold, so a test cannot hand the app something Slack would not.
"""

from __future__ import annotations

import copy
import re
import secrets
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"

USER_ID = re.compile(r"[UW][A-Z0-9]{2,20}")
CHANNEL_ID = re.compile(r"[CGD][A-Z0-9]{2,20}")
MAX_ERROR = 2_000  # the fake's bound on completeError's sentence (Slack shows it to a person)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_user_context(value: Any) -> bool:
    # slack#/types/user_context: {"id": "U…", "secret": "…"}
    # (https://docs.slack.dev/reference/types/user_context-type)
    return (
        isinstance(value, dict)
        and isinstance(value.get("id"), str)
        and USER_ID.fullmatch(value["id"]) is not None
        and isinstance(value.get("secret"), str)
    )


# The parameter types this stand-in knows (https://docs.slack.dev/reference/types), and what a
# value of each looks like in the JSON Slack sends and accepts.
TYPE_CHECKS: dict[str, Callable[[Any], bool]] = {
    "string": lambda v: isinstance(v, str),
    "number": _is_number,
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "slack#/types/user_id": lambda v: isinstance(v, str) and USER_ID.fullmatch(v) is not None,
    "slack#/types/channel_id": lambda v: isinstance(v, str) and CHANNEL_ID.fullmatch(v) is not None,
    "slack#/types/user_context": _is_user_context,
    "slack#/types/timestamp": _is_number,
}


@dataclass(frozen=True)
class Parameter:
    name: str
    type: str
    title: str = ""
    description: str = ""
    is_required: bool = False

    def event_shape(self) -> dict[str, Any]:
        """As the `function` object of a function_executed event lists it."""
        return {
            "type": self.type,
            "name": self.name,
            "description": self.description,
            "title": self.title,
            "is_required": self.is_required,
        }


@dataclass(frozen=True)
class FunctionDef:
    callback_id: str
    title: str
    description: str
    inputs: Mapping[str, Parameter]
    outputs: Mapping[str, Parameter]


def _parameters(declared: Any, where: str) -> dict[str, Parameter]:
    if declared in (None, {}):
        return {}
    if not isinstance(declared, dict):
        raise ValueError(f"{where} must be a mapping of parameter names")
    found = {}
    for name, spec in declared.items():
        if not isinstance(spec, dict) or spec.get("type") not in TYPE_CHECKS:
            raise ValueError(f"{where}.{name}: unknown or missing type {spec!r}")
        found[name] = Parameter(
            name=name,
            type=spec["type"],
            title=str(spec.get("title") or ""),
            description=str(spec.get("description") or ""),
            is_required=bool(spec.get("is_required", False)),
        )
    return found


def parse_functions(manifest: Mapping[str, Any]) -> dict[str, FunctionDef]:
    """The `functions` section of an app manifest (Bolt apps' shape: parameters keyed by name,
    each with `type`, `title`, `description`, `is_required`)."""
    functions = manifest.get("functions") or {}
    found = {}
    for callback_id, spec in functions.items():
        if not isinstance(spec, dict) or not spec.get("title"):
            raise ValueError(f"functions.{callback_id}: a title is required")
        found[callback_id] = FunctionDef(
            callback_id=callback_id,
            title=str(spec["title"]),
            description=str(spec.get("description") or ""),
            inputs=_parameters(spec.get("input_parameters"), f"{callback_id}.input_parameters"),
            outputs=_parameters(spec.get("output_parameters"), f"{callback_id}.output_parameters"),
        )
    return found


def load_functions(path: Path = MANIFEST) -> dict[str, FunctionDef]:
    """The app's functions as its manifest declares them; none when there is no manifest
    (the stand-in installed without the app's source)."""
    if not path.exists():
        return {}
    return parse_functions(yaml.safe_load(path.read_text()) or {})


def value_problems(params: Mapping[str, Parameter], values: Any, what: str) -> list[str]:
    """Slack-style problem lines for `values` against declared `params` ([] when fine)."""
    if not isinstance(values, dict):
        return [f"[ERROR] {what} must be an object [json-pointer:/{what}]"]
    problems = []
    for name, param in params.items():
        if param.is_required and values.get(name) is None:
            problems.append(f"[ERROR] missing required field: {name} [json-pointer:/{what}]")
    for name, value in values.items():
        param = params.get(name)
        if param is None:
            problems.append(
                f"[ERROR] {name} is not a declared parameter [json-pointer:/{what}/{name}]"
            )
        elif value is not None and not TYPE_CHECKS[param.type](value):
            problems.append(
                f"[ERROR] {name} must be of type {param.type}, not {value!r} "
                f"[json-pointer:/{what}/{name}]"
            )
    return problems


def new_id(prefix: str) -> str:
    return prefix + secrets.token_hex(6).upper()


@dataclass
class Execution:
    """One run of a custom step, as Slack keeps it."""

    id: str  # Fx…
    function: FunctionDef
    inputs: dict[str, Any]
    token: str  # xwfp-…: the listener's client uses it
    workflow_execution_id: str
    event_id: str
    event_ts: str
    state: str = "running"  # running | completed | failed
    # Every bot_access_token issued for it (at the start, and one per click on a message it
    # posted), with when it was issued: each lasts FUNCTION_TOKEN_TTL_S from then.
    tokens: dict[str, float] = field(default_factory=dict)
    outputs: dict[str, Any] | None = None
    error: str | None = None
    started: float = field(default_factory=time.time)
    ended: float | None = None

    def event_body(self, team_id: str, app_id: str) -> dict[str, Any]:
        """The Events API body that delivers this execution (over HTTP or Socket Mode)."""
        return {
            "token": "fake-verification-token",
            "team_id": team_id,
            "api_app_id": app_id,
            "event": {
                "type": "function_executed",
                "function": self.function_shape(app_id),
                "inputs": copy.deepcopy(self.inputs),
                "function_execution_id": self.id,
                "workflow_execution_id": self.workflow_execution_id,
                "event_ts": self.event_ts,
                "bot_access_token": self.token,
            },
            "type": "event_callback",
            "event_id": self.event_id,
            "event_time": int(float(self.event_ts)),
            "authorizations": [
                {
                    "team_id": team_id,
                    "user_id": "UBOT",
                    "is_bot": True,
                    "is_enterprise_install": False,
                }
            ],
        }

    def function_shape(self, app_id: str) -> dict[str, Any]:
        """The `function` object of function_executed and of a click's `function_data`."""
        function = self.function
        return {
            "id": "Fn" + function.callback_id.upper().replace("_", "")[:10],
            "callback_id": function.callback_id,
            "title": function.title,
            "description": function.description,
            "type": "app",
            "input_parameters": [p.event_shape() for p in function.inputs.values()],
            "output_parameters": [p.event_shape() for p in function.outputs.values()],
            "app_id": app_id,
            "date_created": 1700000000,
            "date_updated": 1700000000,
            "date_deleted": 0,
        }

    def click_data(self, app_id: str) -> dict[str, Any]:
        """What a click on a message this execution posted carries about it."""
        return {
            "execution_id": self.id,
            "inputs": copy.deepcopy(self.inputs),
            "function": self.function_shape(app_id),
        }

    def public(self) -> dict[str, Any]:
        """What a test reads about it."""
        return {
            "id": self.id,
            "callback_id": self.function.callback_id,
            "state": self.state,
            "inputs": copy.deepcopy(self.inputs),
            "outputs": copy.deepcopy(self.outputs),
            "error": self.error,
            "workflow_execution_id": self.workflow_execution_id,
            "event_id": self.event_id,
        }
