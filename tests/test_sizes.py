"""No module over 500 lines and no function over 80 (the team's style), but for the named
exceptions below, each with its reason. `python -m tools.sizes` lists what is over."""

from __future__ import annotations

from tools.sizes import functions_over, modules_over

# path -> why it may be longer. An entry for a file that is back under the limit fails:
# take it off.
LONG_MODULES = {
    # Issue 15 (Slack delivery) is redesigning these; their owner splits them.
    "simulator/slack/workspace.py": "the Slack stand-in's state, being redesigned (15)",
    "simulator/slack/fake.py": "the Slack stand-in's Web API, being redesigned (15)",
    "simulator/slack/driver.py": "the Slack client's side of the stand-in (15)",
    # Issue 19 (the audit) owns the Xoxoday client and is changing it.
    "services/xoxoday/client.py": "the Plum Pro client: one method per operation (19)",
    "services/xoxoday/models.py": "Plum Pro's request and answer models (19)",
    # History: each migration stays as it ran on every database already upgraded.
    "storage/migrations.py": "append-only schema history",
}
LONG_FUNCTIONS = {
    "storage/migrations.py:m001_initial": "the first schema as it ran; history, not edited",
    "simulator/slack/controls.py:handle": "the stand-in's /_fake/ routes, being redesigned (15)",
}


def test_modules_are_at_most_500_lines() -> None:
    over = modules_over()
    assert {path for path in over if path not in LONG_MODULES} == set()
    assert {path for path in LONG_MODULES if path not in over} == set(), "no longer long"


def test_functions_are_at_most_80_lines() -> None:
    over = functions_over()
    assert {name for name in over if name not in LONG_FUNCTIONS} == set()
    assert {name for name in LONG_FUNCTIONS if name not in over} == set(), "no longer long"
