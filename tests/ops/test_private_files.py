"""Issue 16, finding 5: files the bot writes (exports, backups) are created readable by their
owner only and never written through a link: a new file beside the target, then a rename.

The attack: `orders export -o FILE` kept an existing file's 0644 mode (names, emails and
amounts readable by every account on the machine) and followed a symlink, overwriting its
target."""

from __future__ import annotations

import stat
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.runtime import Runtime
from tests.lifecycle.conftest import REQUESTER, gift
from tests.support import SimControl, cli_env, rewards_bot

VICTIM_TEXT = "a file the operator never meant to touch\n"


@pytest.fixture
def env(xo: SimControl, make_runtime: Callable[..., Runtime]) -> dict[str, str]:
    runtime = make_runtime()
    runtime.rewards.create(REQUESTER, [gift("ana@example.com")], trusted=True)
    db = Path(runtime.database.path)
    runtime.close()
    return cli_env(xo.base_url, db)


def assert_private_regular(path: Path) -> None:
    mode = path.lstat().st_mode
    assert stat.S_ISREG(mode), "the link itself was replaced by a regular file"
    assert stat.S_IMODE(mode) == 0o600
    assert not [p for p in path.parent.iterdir() if ".partial" in p.name or p.name.startswith(".")]


@pytest.mark.parametrize(
    "command",
    [
        ["orders", "export"],
        ["orders", "export", "--month", "2020-01"],
        ["orders", "export", "--month", "2020-01", "--format", "json"],
    ],
)
def test_an_export_over_an_open_file_or_a_link_is_a_new_private_file(
    env: dict[str, str], tmp_path: Path, command: list[str]
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    existing = out / "orders.csv"
    existing.write_text("old\n")
    existing.chmod(0o644)
    result = rewards_bot(env, *command, "-o", str(existing))
    assert result.returncode == 0, result.stderr
    assert_private_regular(existing)
    assert existing.read_text() != "old\n"

    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    victim.chmod(0o644)
    link = out / "linked.csv"
    link.symlink_to(victim)
    result = rewards_bot(env, *command, "-o", str(link))
    assert result.returncode == 0, result.stderr
    assert victim.read_text() == VICTIM_TEXT  # never written through
    assert stat.S_IMODE(victim.stat().st_mode) == 0o644
    assert_private_regular(link)
    assert link.read_text() == existing.read_text()


def test_an_export_that_cannot_be_written_is_one_line(env: dict[str, str], tmp_path: Path) -> None:
    for target in (tmp_path / "missing" / "orders.csv", tmp_path):
        result = rewards_bot(env, "orders", "export", "-o", str(target))
        assert result.returncode == 2
        assert result.stderr.strip().startswith(f"cannot write {target}")
        assert len(result.stderr.strip().splitlines()) == 1


def test_a_backup_over_a_link_never_writes_through_it(env: dict[str, str], tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_text(VICTIM_TEXT)
    link = out / "nightly.db"
    link.symlink_to(victim)
    refused = rewards_bot(env, "backup", str(link))
    assert refused.returncode == 1 and "exists" in refused.stderr
    taken = rewards_bot(env, "backup", "--force", str(link))
    assert taken.returncode == 0, taken.stderr
    assert victim.read_text() == VICTIM_TEXT
    assert_private_regular(link)
