"""Fixtures over real parts: a Xoxoday simulator on loopback, real clients, real SQLite files."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from services.xoxoday import XoxodayClient
from simulator.slack.violations import ledger_mark, unclaimed_since
from simulator.xoxoday import SimConfig, start
from simulator.xoxoday.server import RunningSimulator
from tests.support import SimControl, make_client


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak", action="store_true", help="run the long suites at full size (make soak)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--soak"):
        return
    skip = pytest.mark.skip(reason="long suite: run with `make soak`")
    for item in items:
        if "soak" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def slack_rules_kept() -> Iterator[None]:
    """Every test runs against a Slack stand-in as strict as Slack: a payload Slack would
    refuse or cut, an answer it would show as an error, a response_url used too often... fails
    the test that caused it, unless the test claimed it (`fake.take_violations()`)."""
    mark = ledger_mark()
    yield
    broken = unclaimed_since(mark)
    if broken:
        pytest.fail(
            "the Slack stand-in saw what Slack would refuse:\n"
            + "\n".join(f"  {v}" for v in broken),
            pytrace=False,
        )


@pytest.fixture(scope="session")
def soak(request: pytest.FixtureRequest) -> bool:
    """True under `make soak`: suites that have a quick size and a full size use the full one."""
    return bool(request.config.getoption("--soak"))


@pytest.fixture(scope="session")
def simulator() -> Iterator[RunningSimulator]:
    running = start(SimConfig(delivery_delay_s=-1, webhook_retry_delay_s=0.05))
    yield running
    running.stop()


@pytest.fixture
def xo(simulator: RunningSimulator) -> Iterator[SimControl]:
    """The shared simulator, reset to its initial catalog, balance and tokens."""
    control = SimControl(simulator)
    control.reset()
    control.config(latency_ms=0, rate_scale=0, webhook_url=None, webhook_key=None)
    yield control
    control.http.close()


@pytest.fixture
def client(xo: SimControl) -> Iterator[XoxodayClient]:
    with make_client(xo.base_url) as c:
        yield c
