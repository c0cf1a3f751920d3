"""Slack at its real pace: how long a /reward submission takes to be answered when every Slack
call takes 100 or 400 ms, with the recipients already in the bot's directory (warm) or not
(cold: they joined after it was read, so each one is a users.info).

    python -m bench.slack_pace [--repeats 5] [--latency-ms 100 400] [--recipients 1 10 50]

The figure is the Slack stand-in's own record of when the bot's answer came (`fake.acks()`),
which is how Slack times its 3-second window. Goal: every answer under 3 s, whatever the
number of recipients; warm, not one users.info before the answer.
"""

from __future__ import annotations

import argparse
import itertools
import tempfile
from pathlib import Path

from bench.common import Table, machine, ms, percentile, save
from bot.local import LocalStack, start_local_stack
from bot.logs import setup_logging
from simulator.slack.users import make_user

SLACK_WINDOW_S = 3.0
_serial = itertools.count()


def newcomers(stack: LocalStack, count: int) -> list[str]:
    batch = next(_serial)
    ids = [f"UB{batch:03d}P{i:02d}" for i in range(count)]
    for user_id in ids:
        stack.slack.add_user(make_user(user_id, f"Bench {user_id}", f"{user_id.lower()}@ex.com"))
    return ids


def one_submission(stack: LocalStack, count: int, warm: bool) -> tuple[float, int, bool]:
    """(seconds to the answer, users.info calls before it, accepted)."""
    people = newcomers(stack, count)
    if warm:
        stack.bot.deps.users.refresh()  # what the background refresh does every 10 minutes
    lookups = len(stack.slack.calls("users.info"))
    response = stack.request("UREQUESTER", people)
    [ack] = [c for c in stack.slack.acks() if c.response["type"] == "view_submission"][-1:]
    before_answer = [c for c in stack.slack.calls("users.info")[lookups:] if c.at <= ack.at]
    return ack.response["acked_after"], len(before_answer), response.text == ""


def scenario(latency_ms: int, sizes: list[int], repeats: int) -> list[list[object]]:
    rows: list[list[object]] = []
    with tempfile.TemporaryDirectory() as tmp:
        # One requester asks many times here: REWARDS_MAX_WAITING is not what is measured.
        stack = start_local_stack(Path(tmp) / "bench.db", rewards_max_waiting=10_000)
        try:
            stack.slack.set_latency("*", latency_ms / 1000)
            for count, warm in itertools.product(sizes, (True, False)):
                results = [one_submission(stack, count, warm) for _ in range(repeats)]
                times = [r[0] for r in results]
                calls = max(r[1] for r in results)
                accepted = sum(r[2] for r in results)
                rows.append([latency_ms, count, "warm" if warm else "cold", times, calls, accepted])
        finally:
            stack.stop()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[100, 400])
    parser.add_argument("--recipients", type=int, nargs="+", default=[1, 10, 50])
    args = parser.parse_args()
    setup_logging("ERROR")
    print(f"Slack at its real pace, {args.repeats} submissions each, on {machine()}")
    table = Table(
        "Answer to a /reward submission, by Slack's latency and the number of recipients",
        [
            "Slack latency",
            "recipients",
            "directory",
            "p50",
            "max",
            "users.info before the answer",
            "accepted",
            "goal",
        ],
    )
    for latency in args.latency_ms:
        for _, count, mode, times, calls, accepted in scenario(
            latency, args.recipients, args.repeats
        ):
            met = max(times) < SLACK_WINDOW_S and (mode == "cold" or calls == 0)
            table.add(
                f"{latency} ms",
                count,
                mode,
                ms(percentile(times, 50)),
                ms(max(times)),
                calls,
                f"{accepted}/{len(times)}",
                f"< 3 s: {'met' if met else 'MISSED'}",
            )
    table.notes.append(
        "Warm: the recipients were in the directory (users.list, refreshed every 10 minutes). "
        "Cold: they joined since, so each is a users.info, all at once, waited for at most 1.5 s."
    )
    table.show()
    command = "python -m bench.slack_pace " + " ".join(
        [
            f"--repeats {args.repeats}",
            "--latency-ms",
            *map(str, args.latency_ms),
            "--recipients",
            *map(str, args.recipients),
        ]
    )
    print(f"\nwritten to {save('slack_pace', [table], command)}")


if __name__ == "__main__":
    main()
