"""A company's volume through Slack: 200 requests approved within 10 s.

    python -m bench.slack_burst [--requests 200] [--quiet-s 65] [--max-s 1500]

The stack of `make demo` (the bot over HTTP, the Xoxoday simulator, the Slack stand-in), with
2 approvers, 20 requesters (10 requests each, one recipient each) and 5 people whose Home tab is
open. The requests are made and asked with Slack instant; then Slack answers every call after
100 ms with its real rate limits (per-method tiers, one message a second per channel) and the
two approvers approve all 200 within 10 s, by clicking Approve on the approval messages.

Figures, each next to its goal:
- time from the first click to the last order placed, against the same burst with an instant,
  unlimited Slack (goal: within 10%): Slack must never slow placement;
- time from the first click until Slack is quiet (no call for `--quiet-s`), against the floor
  Slack's rates allow for the calls that were needed (goal: at most 1.2x); the floor is, over
  each rate-limited lane (a tiered method, or one channel's posts), the least time its calls
  take at that lane's rate;
- HTTP 429s received (goal: 0), and Web API calls per request (goal: at most 6);
- then 100 requests waiting since the same minute reach their first reminder: reminder DMs
  per approver in that round (goal: 1).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from bench.common import Table, machine, save
from bot.local import APPROVAL_CHANNEL, APPROVERS, LocalStack, start_local_stack
from bot.logs import setup_logging
from services.rewards import RewardSpec
from simulator.slack.fake import RESPONSE_URL, Call, RunningFakeSlack, start_fake_slack
from simulator.slack.pace import METHOD_TIERS, POST_BURST, POST_PER_S, TIERS, WINDOW_S
from simulator.slack.users import default_users, make_user
from simulator.slack.workspace import dm_channel
from simulator.xoxoday import SimConfig, start
from storage import orders as order_store

SLACK_LATENCY_S = 0.1
REQUESTERS = 20
RECIPIENTS = 50
HOMES_OPEN = ["UAPPROVER", "UAPPROVER2", "UREQ00", "UREQ01", "UREQ02"]
PRODUCT = 27222  # Amazon.com, fixed 25 USD, delivered at once with a code
NOT_SLACK = {"http_ack", "socket_ack", RESPONSE_URL}


def people() -> dict[str, dict[str, Any]]:
    users = default_users()
    for i in range(REQUESTERS):
        users[f"UREQ{i:02d}"] = make_user(f"UREQ{i:02d}", f"Requester {i:02d}", f"req{i}@ex.com")
    for i in range(RECIPIENTS):
        users[f"UREC{i:02d}"] = make_user(f"UREC{i:02d}", f"Recipient {i:02d}", f"rec{i}@ex.com")
    return users


def slack_calls(fake: RunningFakeSlack, since: int) -> list[Call]:
    return [c for c in fake.calls()[since:] if c.method not in NOT_SLACK]


def wait_until(done: Callable[[], bool], timeout: float, step: float = 0.05) -> float | None:
    """When `done` became true (time.time()), or None at the timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if done():
            return time.time()
        time.sleep(step)
    return None


def wait_quiet(fake: RunningFakeSlack, since: int, quiet_s: float, max_s: float) -> float | None:
    """The time of the last Slack call once none came for `quiet_s` (None: never quiet)."""
    deadline = time.monotonic() + max_s
    while time.monotonic() < deadline:
        calls = slack_calls(fake, since)
        last = calls[-1].at if calls else time.time()
        if time.time() - last >= quiet_s:
            return last
        time.sleep(0.5)
    return None


def make_requests(stack: LocalStack, count: int) -> list[int]:
    """`count` requests, each to one recipient, spread over the requesters (the intake the
    modal uses, so the same events follow)."""
    ids = []
    for n in range(count):
        recipient = f"UREC{n % RECIPIENTS:02d}"
        spec = RewardSpec(PRODUCT, Decimal(25), "gift_card", recipient_id=recipient)
        decision = stack.bot.runtime.rewards.create(
            f"UREQ{n % REQUESTERS:02d}", [spec], channel_id="CREWARDS", message=f"thanks #{n}"
        )
        ids.append(decision.request.id)
    return ids


def approval_messages(fake: RunningFakeSlack, ids: list[int]) -> dict[int, dict[str, Any]]:
    found: dict[int, dict[str, Any]] = {}
    for message in fake.messages(APPROVAL_CHANNEL):
        for request_id in ids:
            if message.get("text", "").startswith(f"R-{request_id} needs approval"):
                found[request_id] = message
    return found


def stack_for(db: Path, **overrides: Any) -> LocalStack:
    sim = start(SimConfig(delivery_delay_s=-1, initial_balance=Decimal("1000000")))
    slack = start_fake_slack(users=people())
    # The requests are made and asked before the burst, with Slack instant and unlimited; the
    # bot still paces its own calls (it cannot know Slack would take more), so 200 asks into
    # one approval channel take about 200 s here.
    slack.rate_limits(False, why="the setup before the burst")
    stack = start_local_stack(
        db, sim=sim, slack=slack, xoxoday_rate_scale=0, poll_first_s=0.5, **overrides
    )
    stack.owns_sim = stack.owns_slack = True
    return stack


@dataclass
class Burst:
    placed_s: float | None = None
    quiet_s: float | None = None
    floor_s: float = 0.0
    calls: Counter[str] = field(default_factory=Counter)
    limited: int = 0
    lanes: dict[str, float] = field(default_factory=dict)


def floor_of(calls: list[Call]) -> dict[str, float]:
    """Per rate-limited lane, the least time Slack's rates allow for these calls."""
    per_method: Counter[str] = Counter()
    per_channel: Counter[str] = Counter()
    for call in calls:
        if call.status == 429:
            continue
        if call.method == "chat.postMessage":
            channel = str(call.params.get("channel"))
            # A DM posted to the person and to its D… channel is one conversation to Slack.
            per_channel[dm_channel(channel) if channel[:1] in ("U", "W") else channel] += 1
        elif call.method in METHOD_TIERS:
            per_method[call.method] += 1
    lanes: dict[str, float] = {}
    for method, count in per_method.items():
        limit = TIERS[METHOD_TIERS[method]]
        lanes[method] = (math.ceil(count / limit) - 1) * WINDOW_S
    for channel, count in per_channel.items():
        lanes[f"posts to {channel}"] = max(0.0, (count - POST_BURST) / POST_PER_S)
    return lanes


def burst(count: int, *, limited: bool, quiet_s: float, max_s: float) -> Burst:
    result = Burst()
    with tempfile.TemporaryDirectory() as tmp:
        stack = stack_for(Path(tmp) / "burst.db")
        try:
            for user in HOMES_OPEN:
                stack.driver.open_home(user)
            ids = make_requests(stack, count)
            wait_until(lambda: len(approval_messages(stack.slack, ids)) == count, 900)
            wait_quiet(stack.slack, 0, 3.0, 300)
            asks = approval_messages(stack.slack, ids)
            assert len(asks) == count, f"only {len(asks)} of {count} asks were posted"
            since = len(stack.slack.calls())
            if limited:
                stack.slack.set_latency("*", SLACK_LATENCY_S)
                stack.slack.rate_limits(True)
            else:
                stack.slack.rate_limits(False, why="the instant, unlimited Slack of the floor")
            began = time.time()
            spacing = 9.0 / max(1, count - 1)
            for n, request_id in enumerate(ids):
                approver = APPROVERS[n % len(APPROVERS)]
                stack.driver.click(approver, "approve_request", message=asks[request_id])
                pause = began + (n + 1) * spacing - time.time()
                if pause > 0:
                    time.sleep(pause)
            database = stack.bot.runtime.database

            def all_placed() -> bool:
                counts = order_store.count_by_state(database)
                return counts.get("placed", 0) + counts.get("delivered", 0) >= count

            placed_at = wait_until(all_placed, max_s)
            result.placed_s = None if placed_at is None else placed_at - began
            last = wait_quiet(stack.slack, since, quiet_s, max_s)
            result.quiet_s = None if last is None else last - began
            calls = slack_calls(stack.slack, since)
            result.calls = Counter(c.method for c in calls if c.status != 429)
            result.limited = sum(c.status == 429 for c in calls)
            result.lanes = floor_of(calls)
            result.floor_s = max(result.lanes.values(), default=0.0)
        finally:
            stack.stop()
    return result


def reminders(count: int, *, quiet_s: float, max_s: float) -> dict[str, int]:
    """Reminder DMs each approver got in the first round of `count` waiting requests."""
    with tempfile.TemporaryDirectory() as tmp:
        stack = stack_for(Path(tmp) / "remind.db", rewards_remind_after="30s")
        try:
            make_requests(stack, count)
            stack.slack.set_latency("*", SLACK_LATENCY_S)
            stack.slack.rate_limits(True)

            def reminded() -> bool:
                return any("Reminder" in m["text"] for m in stack.slack.dms(APPROVERS[0]))

            wait_until(reminded, 120)
            wait_quiet(stack.slack, 0, min(quiet_s, 30.0), max_s)
            # Round 1 only (the run lasts past the next rounds): a DM that shows a first
            # reminder, whether it lists one request (before) or all of them (a digest).
            return {
                approver: sum(
                    "Reminder 1 of" in str(m["edits"][0] if m["edits"] else m)
                    for m in stack.slack.dms(approver)
                )
                for approver in APPROVERS
            }
        finally:
            stack.stop()


def seconds(value: float | None) -> str:
    return "not within the run" if value is None else f"{value:.1f} s"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--quiet-s", type=float, default=65.0)
    parser.add_argument("--max-s", type=float, default=1500.0)
    parser.add_argument("--waiting", type=int, default=100)
    args = parser.parse_args()
    setup_logging("ERROR")
    print(f"Slack burst: {args.requests} requests approved within 10 s, on {machine()}")
    instant = burst(args.requests, limited=False, quiet_s=10.0, max_s=args.max_s)
    real = burst(args.requests, limited=True, quiet_s=args.quiet_s, max_s=args.max_s)
    dms = reminders(args.waiting, quiet_s=args.quiet_s, max_s=args.max_s)
    total = sum(real.calls.values())
    per_request = total / args.requests
    placed_ratio = (
        real.placed_s / instant.placed_s if real.placed_s and instant.placed_s else math.inf
    )
    quiet_ratio = real.quiet_s / real.floor_s if real.quiet_s and real.floor_s else math.inf
    table = Table(
        f"{args.requests} requests approved within 10 s; Slack at 100 ms with its rate limits",
        ["measure", "figure", "against", "ratio", "goal", "met"],
    )
    table.add(
        "last order placed",
        seconds(real.placed_s),
        f"{seconds(instant.placed_s)} (instant, unlimited Slack)",
        f"{placed_ratio:.2f}x",
        "≤ 1.10x",
        "yes" if placed_ratio <= 1.10 else "no",
    )
    table.add(
        "Slack quiet",
        seconds(real.quiet_s),
        f"{seconds(real.floor_s)} (floor of the calls needed)",
        f"{quiet_ratio:.2f}x",
        "≤ 1.2x",
        "yes" if quiet_ratio <= 1.2 else "no",
    )
    table.add("HTTP 429 received", real.limited, "", "", "0", "yes" if real.limited == 0 else "no")
    table.add(
        "Web API calls per request",
        f"{per_request:.2f} ({total} calls)",
        "",
        "",
        "≤ 6",
        "yes" if per_request <= 6 else "no",
    )
    most = max(dms.values(), default=0)
    table.add(
        f"reminder DMs per approver, first round of {args.waiting} waiting",
        ", ".join(f"{k}: {v}" for k, v in dms.items()),
        "",
        "",
        "1",
        "yes" if most == 1 else "no",
    )
    calls = ", ".join(f"{m} {n}" for m, n in real.calls.most_common())
    lanes = ", ".join(f"{k} {v:.0f} s" for k, v in sorted(real.lanes.items(), key=lambda x: -x[1]))
    table.notes += [f"Calls: {calls}.", f"Floor by lane: {lanes}."]
    table.show()
    path = save("slack_burst", [table], "python -m bench.slack_burst")
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    threading.current_thread().name = "bench"
    main()
