"""What the repository's documents promise to list stays complete: every setting the bot
reads is in `.env.example` (which documents each one), the choice schedule's settings and
every option `POST /_sim/faults` takes are in the README. A setting or a simulator option
added without its line fails here."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import Settings
from simulator.xoxoday import controls

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()
EXAMPLE = (ROOT / ".env.example").read_text()


@pytest.mark.parametrize("name", [n.upper() for n in Settings.model_fields])
def test_every_setting_is_in_the_example_env_file(name: str) -> None:
    assert re.search(rf"^#?\s*{name}=", EXAMPLE, re.MULTILINE), f"{name} not in .env.example"


@pytest.mark.parametrize("name", ["REWARDS_CHOICE_REMIND", "REWARDS_REMIND_AFTER"])
def test_the_schedules_are_in_the_readme_table(name: str) -> None:
    assert re.search(rf"^\|[^|\n]*`{name}`", README, re.MULTILINE), f"{name} not in README"


def test_every_fault_option_is_in_the_readme() -> None:
    source = Path(controls.__file__).read_text()
    start = source.index("def add_fault(")
    body = source[start : source.index("\ndef ", start + 1)]
    options = set(re.findall(r'body\.get\("([a-z_]+)"', body))
    assert "commit_after_lookups" in options  # the parse found what the route reads
    missing = sorted(o for o in options if f"`{o}`" not in README)
    assert missing == []
