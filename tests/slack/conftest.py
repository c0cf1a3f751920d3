"""The bot's real HTTP endpoint, signed Slack requests, a fake Slack Web API, the simulator."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from bot.local import LocalStack, start_local_stack
from simulator.slack.fake import RunningFakeSlack, start_fake_slack
from tests.support import SimControl


@pytest.fixture(scope="session")
def fake_slack() -> Iterator[RunningFakeSlack]:
    with start_fake_slack() as running:
        yield running


def stack_on(db: Path, xo: SimControl, slack: RunningFakeSlack, **overrides: Any) -> LocalStack:
    """The bot on database file `db` against the shared simulator and Slack stand-in, with
    short retries (several stacks may share one file: two processes, or a restart)."""
    return start_local_stack(
        db,
        sim=xo.running,
        slack=slack,
        poll_first_s=0.2,
        backoff_first_s=0.05,
        xoxoday_rate_scale=0,
        **overrides,
    )


@pytest.fixture
def make_stack(
    xo: SimControl, fake_slack: RunningFakeSlack, tmp_path: Path
) -> Iterator[Callable[..., LocalStack]]:
    stacks: list[LocalStack] = []

    def make(**overrides: Any) -> LocalStack:
        fake_slack.reset()
        stack = stack_on(tmp_path / f"rewards-{len(stacks)}.db", xo, fake_slack, **overrides)
        stacks.append(stack)
        return stack

    yield make
    for stack in stacks:
        stack.stop()


@pytest.fixture
def stack(make_stack: Callable[..., LocalStack]) -> LocalStack:
    return make_stack()
