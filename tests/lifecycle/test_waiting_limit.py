"""Issue 16, finding 10: at most REWARDS_MAX_WAITING waiting requests per requester (default
20), refused with a sentence by the intake; the Home's count of what waits is exact.

The attack: 600 requests by one member gave 601 channel asks and 602 DMs to one delegate, and
the approvers' Home stopped counting at 500."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config import ConfigError, load_settings
from bot.runtime import Runtime
from services.delegation import Deciders
from services.errors import TooManyWaiting
from services.home import HomeService
from services.intake import Ask, Field, Intake, Line, Source
from tests.lifecycle.conftest import APPROVER, REQUESTER, gift
from tests.lifecycle.test_intake import PEOPLE


def ask(requester: str = REQUESTER, recipient: str = "UANA", trusted: bool = False) -> Ask:
    line = Line(product_id=27222, amount="25", members=[recipient])
    return Ask(requester, [line], Source.SLACK, None, trusted=trusted)


def test_a_requester_may_have_max_waiting_requests_waiting(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(rewards_max_waiting=3)
    intake = Intake(runtime.rewards, members=PEOPLE)
    made = [intake.submit(ask()) for _ in range(3)]
    assert all(s.decision is not None and not s.errors for s in made)

    refused = intake.submit(ask())
    assert refused.decision is None
    [error] = refused.errors
    assert error.field == Field.REQUEST
    assert error.message.startswith("you have 3 requests waiting for approval, the most")
    assert "/reward cancel" in error.message
    with pytest.raises(TooManyWaiting, match="3 requests waiting"):  # the service too
        runtime.rewards.create(REQUESTER, [gift()])

    assert intake.submit(ask(requester="UBEN")).decision is not None  # others are not held
    first = made[0].decision
    assert first is not None
    runtime.rewards.cancel(first.request.id, REQUESTER)
    assert intake.submit(ask()).decision is not None  # a place came free


def test_the_default_is_twenty_and_a_malformed_value_is_one_line(tmp_path: Path) -> None:
    env = tmp_path / ".env"
    env.write_text("")
    assert load_settings(env).rewards_max_waiting == 20
    for value, expected in (
        ("lots", "REWARDS_MAX_WAITING: Input should be a valid integer"),
        ("0", "REWARDS_MAX_WAITING: Input should be greater than or equal to 1"),
    ):
        env.write_text(f"REWARDS_MAX_WAITING={value}\n")
        with pytest.raises(ConfigError) as error:
            load_settings(env)
        assert str(error.value).startswith(expected) and "\n" not in str(error.value)


def test_the_homes_count_of_what_waits_is_exact_past_500(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime()
    requesters = [f"UREQ{i:03d}" for i in range(26)]
    for requester in requesters:  # 26 people, 20 waiting requests each: 520
        for _ in range(20):
            runtime.rewards.create(requester, [gift()])
    runtime.rewards.create("UREQ999", [gift()])
    home = HomeService(
        runtime.database,
        runtime.policy,
        Deciders(runtime.policy, runtime.delegations),
        runtime.delegations,
    )
    data = home.build(APPROVER)
    assert data.waiting_total == 521
    assert len(data.waiting) == 15  # shown: the oldest
    assert data.waiting[0].request.id == 1
