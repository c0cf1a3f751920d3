"""The user directory against the Slack stand-in: users.list read in pages, users.info only on
a miss, concurrent lookups under a deadline, emails known without a call."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from slack_sdk import WebClient

from bot.local import BOT_TOKEN
from handlers.app import web_client
from handlers.users import PAGE_SIZE, UserDirectory
from simulator.slack import make_user
from simulator.slack.fake import RunningFakeSlack
from tests.support import wait_for


@pytest.fixture
def slack(fake_slack: RunningFakeSlack) -> RunningFakeSlack:
    fake_slack.reset()
    return fake_slack


@pytest.fixture
def directory(slack: RunningFakeSlack) -> Iterator[UserDirectory]:
    users = UserDirectory(
        web_client(BOT_TOKEN, slack.api_url),
        quick_client=web_client(BOT_TOKEN, slack.api_url, quick=True),
    )
    yield users
    users.stop()


def test_refresh_reads_every_page_and_knows_emails(slack: RunningFakeSlack, directory) -> None:
    for i in range(PAGE_SIZE + 30):
        slack.add_user(make_user(f"UMANY{i:03d}", f"Many {i:03d} People", f"many{i}@example.com"))
    assert directory.refresh() == len(slack.users)
    assert [c.params.get("cursor") is None for c in slack.calls("users.list")] == [True, False]
    assert directory.known("UMANY123").email == "many123@example.com"
    assert directory.known("UBOTUSER").is_bot and directory.known("UNOMAIL").email is None
    assert directory.by_email("MANY7@example.com") == "UMANY007"
    assert not slack.calls("users.lookupByEmail") and not slack.calls("users.info")


def test_lookup_calls_slack_only_for_misses_once_each(slack: RunningFakeSlack, directory) -> None:
    directory.refresh()
    slack.add_user(make_user("UNEW", "New Person", "new@example.com"))
    slack.deactivate_user("UBEN")
    found = directory.lookup(["UANA", "UNEW", "UNOBODY", "UNEW"])
    assert set(found.users) == {"UANA", "UNEW"} and found.missing == ["UNOBODY"]
    assert found.late == []
    assert sorted(c.params["user"] for c in slack.calls("users.info")) == ["UNEW", "UNOBODY"]
    again = directory.lookup(["UNEW", "UNOBODY"])  # remembered, both ways
    assert set(again.users) == {"UNEW"} and again.missing == ["UNOBODY"]
    assert len(slack.calls("users.info")) == 2
    # the directory says what it read: Ben was active then
    assert directory.known("UBEN") is not None and not directory.known("UBEN").deleted


def test_concurrent_askers_share_one_call(slack: RunningFakeSlack, directory) -> None:
    slack.set_latency("users.info", 0.3)
    results: list[object] = []
    askers = [
        threading.Thread(target=lambda: results.append(directory.lookup(["UCHO"])))
        for _ in range(5)
    ]
    for asker in askers:
        asker.start()
    for asker in askers:
        asker.join()
    assert all(set(r.users) == {"UCHO"} for r in results)  # type: ignore[attr-defined]
    assert len(slack.calls("users.info")) == 1


def test_a_slow_or_failing_slack_makes_lookups_late_not_lost(
    slack: RunningFakeSlack, directory
) -> None:
    slack.fail_next("users.info", status=200, error="internal_error")
    slack.set_latency("users.info", 0.5)
    found = directory.lookup(["UANA", "UBEN"], deadline_s=0.1)
    assert sorted(found.late) == ["UANA", "UBEN"] and not found.users
    # the lookups go on after the deadline: the one that succeeds fills the directory
    wait_for(lambda: len(slack.calls("users.info")) == 2)
    wait_for(lambda: directory.known("UANA") or directory.known("UBEN"))
    slack.set_latency("users.info", 0)  # Slack is quick again
    # The stand-in records a call before its answer reaches the client, so the failed lookup
    # may still be in flight for a moment: asking again finds both, soon (late, not lost).
    wait_for(
        lambda: set(directory.lookup(["UANA", "UBEN"], deadline_s=2).users) == {"UANA", "UBEN"},
    )


def test_background_refresh_starts_and_stops(slack: RunningFakeSlack) -> None:
    users = UserDirectory(WebClient(token=BOT_TOKEN, base_url=slack.api_url), refresh_s=0.05)
    users.start()
    try:
        wait_for(lambda: len(slack.calls("users.list")) >= 2)  # read at once, then again
        assert users.known("UANA") is not None
    finally:
        users.stop()
    seen = len(slack.calls("users.list"))
    threading.Event().wait(0.2)
    assert len(slack.calls("users.list")) == seen


def test_emails_of_csv_recipients_are_found_without_a_call_each(
    slack: RunningFakeSlack, directory
) -> None:
    # A worker without the background refresh: the first question reads the directory.
    assert directory.by_email("ben@example.com") == "UBEN"
    assert directory.by_email("CHO@example.com") == "UCHO"
    assert len(slack.calls("users.list")) == 1 and not slack.calls("users.lookupByEmail")
    # Someone who joined since: one lookupByEmail. Someone not in Slack: asked once.
    slack.add_user(make_user("ULATE", "Late Joiner", "late@example.com"))
    assert directory.by_email("late@example.com") == "ULATE"
    for _ in range(3):
        assert directory.by_email("outside@example.org") is None
    asked = [c.params["email"] for c in slack.calls("users.lookupByEmail")]
    assert asked == ["late@example.com", "outside@example.org"]
