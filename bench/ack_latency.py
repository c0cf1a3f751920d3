"""Ack latency: how fast the bot answers Slack, with Xoxoday answering in 2 s and in 120 s.

For each kind of request (/reward, a modal submission, an Approve click) the same signed
request goes to the bot's real HTTP endpoint and to a bare Bolt app that only calls ack(),
served by the same server (waitress) in the same run: that app is the floor. Requests
alternate between the two so both see the same machine.

    python -m bench.ack_latency [--requests 200] [--latency-ms 2000 120000]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from slack_bolt import Ack, App
from slack_bolt.adapter.wsgi import SlackRequestHandler

from bench.common import Table, machine, ms, percentile, save
from bot.local import SIGNING_SECRET, LocalStack, start_local_stack
from bot.logs import setup_logging
from handlers.app import web_client
from plumbing.httpserver import ServerThread
from plumbing.jsonutil import dumps
from simulator.slack.driver import SlackDriver

GOAL_RATIO = 1.2


def floor_app(stack: LocalStack) -> ServerThread:
    """A Bolt app that acknowledges the same requests and does nothing else."""
    app = App(
        client=web_client("xoxb-demo", stack.slack.api_url),
        signing_secret=SIGNING_SECRET,
        token_verification_enabled=False,
        listener_executor=ThreadPoolExecutor(32),
    )

    def just_ack(ack: Ack) -> None:
        ack()

    app.command("/reward")(just_ack)
    app.view("reward_modal")(just_ack)
    app.action("approve_request")(just_ack)
    return ServerThread(SlackRequestHandler(app), "127.0.0.1", 0, 32).start()


def timed(send: Callable[[], httpx.Response]) -> float:
    began = time.perf_counter()
    response = send()
    elapsed = time.perf_counter() - began
    assert response.status_code == 200, response.text
    return elapsed


def ready_form(stack: LocalStack, n: int, driver: SlackDriver) -> str:
    """An open /reward modal, filled in through `driver` (which will submit it)."""
    view_id = stack.open_form("UREQUESTER")
    stack.choose("UREQUESTER", view_id, "gift_card", 27222)
    driver.fill(view_id, "denomination_choice", "denomination_choice", "10")
    driver.fill(view_id, "recipients", "recipients", ["UANA", "UBEN"])
    driver.fill(view_id, "message", "message", f"bench {n}")
    return view_id


def scenario(requests: int, latency_ms: int) -> list[tuple[str, list[float], list[float]]]:
    with tempfile.TemporaryDirectory() as tmp:
        # One requester asks many times here: REWARDS_MAX_WAITING is not what is measured.
        stack = start_local_stack(Path(tmp) / "bench.db", rewards_max_waiting=10_000)
        floor_server = floor_app(stack)
        floor = SlackDriver(floor_server.url, SIGNING_SECRET, stack.slack)
        try:
            # warm both sides up (connections, caches), then make Xoxoday slow
            for _ in range(5):
                timed(lambda: stack.driver.command("UREQUESTER", "help"))
                timed(lambda: floor.command("UREQUESTER", "help"))
            httpx.post(f"{stack.sim.url}/_sim/config", content=dumps({"latency_ms": latency_ms}))

            ours_cmd, floor_cmd = [], []
            for _ in range(requests):
                ours_cmd.append(timed(lambda: stack.driver.command("UREQUESTER", "")))
                floor_cmd.append(timed(lambda: floor.command("UREQUESTER", "")))

            ours_submit, floor_submit = [], []
            for n in range(requests):
                # Slack keeps one modal open per person: open, fill and submit one at a time.
                mine = ready_form(stack, n, stack.driver)
                ours_submit.append(timed(lambda v=mine: stack.driver.submit("UREQUESTER", v)))
                theirs = ready_form(stack, n, floor)
                floor_submit.append(timed(lambda v=theirs: floor.submit("UREQUESTER", v)))

            ours_click, floor_click = [], []
            for n in range(1, requests + 1):
                message = stack.approval_message(f"R-{n}", timeout=30)
                ours_click.append(
                    timed(
                        lambda m=message: stack.driver.click(
                            "UAPPROVER", "approve_request", message=m
                        )
                    )
                )
                floor_click.append(
                    timed(lambda m=message: floor.click("UAPPROVER", "approve_request", message=m))
                )
            return [
                ("/reward (opens the modal)", ours_cmd, floor_cmd),
                ("modal submission", ours_submit, floor_submit),
                ("Approve click", ours_click, floor_click),
            ]
        finally:
            # Release every call held by the slow Xoxoday before stopping.
            httpx.post(f"{stack.sim.url}/_sim/config", content=dumps({"latency_ms": 0}))
            httpx.post(f"{stack.sim.url}/_sim/reset")
            floor.close()
            floor_server.stop()
            stack.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--latency-ms", type=int, nargs="+", default=[2000, 120000])
    args = parser.parse_args()
    setup_logging("ERROR")
    print(f"Ack latency, {args.requests} requests of each kind, on {machine()}")
    tables = []
    for latency in args.latency_ms:
        table = Table(
            f"Ack latency with Xoxoday answering in {latency / 1000:g} s",
            [
                "request",
                "ours p50",
                "ours p99",
                "ours max",
                "floor p50",
                "floor p99",
                "p99 ratio",
                "goal",
            ],
        )
        for name, ours, floor in scenario(args.requests, latency):
            ratio = percentile(ours, 99) / percentile(floor, 99)
            verdict = "met" if ratio <= GOAL_RATIO and max(ours) < 1.0 else "MISSED"
            table.add(
                name,
                ms(percentile(ours, 50)),
                ms(percentile(ours, 99)),
                ms(max(ours)),
                ms(percentile(floor, 50)),
                ms(percentile(floor, 99)),
                f"{ratio:.2f}x",
                f"<= {GOAL_RATIO}x: {verdict}",
            )
        table.notes.append(
            "Floor: a bare Bolt app that only acks, on the same waitress server, same requests."
        )
        table.show()
        tables.append(table)
    path = save(
        "ack_latency",
        tables,
        "python -m bench.ack_latency "
        + " ".join([f"--requests {args.requests}", "--latency-ms", *map(str, args.latency_ms)]),
    )
    print(f"\nwritten to {path}")


if __name__ == "__main__":
    main()
