"""The whole bot on one machine: Xoxoday simulator, local Slack stand-in, the bot over HTTP.

`rewards-bot demo`, the end-to-end tests and the benchmarks all start the same stack, so what
the demo shows is what the tests check.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bot.config import Settings, load_settings
from bot.serve import HTTP_THREADS, Bot, build_bot
from handlers.metadata import RewardModalMeta
from plumbing.httpserver import ServerThread
from plumbing.jsonutil import dumps
from simulator.slack.driver import SlackDriver
from simulator.slack.fake import WAIT_S, RunningFakeSlack, start_fake_slack
from simulator.xoxoday import DEMO_CREDENTIALS, SimConfig, start
from simulator.xoxoday.server import RunningSimulator

# Credentials of the local stand-ins only; nothing real is ever reached with them.
BOT_TOKEN = "xoxb-demo"  # noqa: S105
SIGNING_SECRET = "local-signing-secret"  # noqa: S105
WEBHOOK_KEY = "local0webhook0key0123"
APPROVERS = ["UAPPROVER", "UAPPROVER2"]
APPROVAL_CHANNEL = "CAPPROVALS"


class SlackScript:
    """What people do in Slack, as scripted steps over a driver and the Slack stand-in."""

    driver: SlackDriver
    slack: RunningFakeSlack

    def __init__(self, driver: SlackDriver, slack: RunningFakeSlack) -> None:
        self.driver = driver
        self.slack = slack

    def open_form(self, user: str, channel: str = "CREWARDS") -> str:
        """Type /reward; returns the id of the modal that opens."""
        since = len(self.slack.calls())
        response = self.driver.command(user, "", channel=channel)
        return self._opened(response, since)

    def _opened(self, response: Any, since: int) -> str:
        """The id of the modal the answered command or click opened (calls after `since`)."""
        assert response.status_code == 200, response.text
        call = self.slack.wait_for("views.open", since=since)
        assert call.ok, call.response
        return str(call.response["view"]["id"])

    def choose(
        self, user: str, view_id: str, reward_type: str, product_id: int, query: str = ""
    ) -> None:
        """Pick the reward type (when not the first kind) and search for and pick a product."""
        if reward_type != RewardModalMeta().reward_type:  # the kind the modal opens on
            self._changed(
                user,
                view_id,
                lambda: self.driver.select(
                    user, view_id, "reward_type", "reward_type", reward_type
                ),
            )
        response = self.driver.options(user, view_id, "product", query)
        assert response.status_code == 200, response.text
        self._changed(
            user,
            view_id,
            lambda: self.driver.select(user, view_id, "product", "product", str(product_id)),
        )

    def _changed(self, user: str, view_id: str, action: Any) -> None:
        """Do something that makes the bot update the modal, and wait for the update."""
        since = len(self.slack.calls())
        response = action()
        assert response.status_code == 200, response.text
        self.slack.wait_for(
            "views.update", lambda c: c.params.get("view_id") == view_id, since=since
        )

    def request(
        self,
        user: str,
        recipients: list[str],
        *,
        reward_type: str = "gift_card",
        product_id: int = 27222,
        amount: str = "25",
        message: str = "",
        channel: str = "CREWARDS",
        extra: dict[str, Any] | None = None,
    ) -> Any:
        """Fill the whole form and submit it; returns the submission's HTTP response."""
        view_id = self.open_form(user, channel)
        self.choose(user, view_id, reward_type, product_id)
        view = self.slack.view(view_id)
        ids = {b.get("block_id") for b in view["blocks"]}
        amount_block = (
            "denomination_choice" if "denomination_choice" in ids else "denomination_amount"
        )
        self.driver.fill(view_id, amount_block, amount_block, amount)
        # The recipients input dispatches (the earlier-rewards warning follows the choice):
        # choosing them sends block_actions, and the bot updates the modal.
        self._changed(
            user,
            view_id,
            lambda: self.driver.select(user, view_id, "recipients", "recipients", recipients),
        )
        if message:
            self.driver.fill(view_id, "message", "message", message)
        for block, value in (extra or {}).items():
            self.driver.fill(view_id, block, block, value)
        return self.driver.submit(user, view_id)

    def give_choice(
        self,
        user: str,
        recipients: list[str],
        amount: str,
        *,
        message: str = "",
        channel: str = "CREWARDS",
    ) -> Any:
        """/reward "Their choice": an amount each recipient spends on a card they choose."""
        view_id = self.open_form(user, channel)
        self._changed(
            user,
            view_id,
            lambda: self.driver.select(user, view_id, "reward_type", "reward_type", "choice"),
        )
        self.driver.fill(view_id, "denomination_amount", "denomination_amount", amount)
        self._changed(
            user,
            view_id,
            lambda: self.driver.select(user, view_id, "recipients", "recipients", recipients),
        )
        if message:
            self.driver.fill(view_id, "message", "message", message)
        return self.driver.submit(user, view_id)

    def offer_dm(self, recipient: str, timeout: float = WAIT_S) -> dict[str, Any]:
        """The recipient's latest DM with "Choose my reward" (an offer or a reminder)."""
        call = self.slack.wait_for(
            "chat.postMessage",
            lambda c: c.params["channel"] == recipient and "choose_reward" in str(c.params),
            timeout=timeout,
        )
        message = self.slack.message(call.response["channel"], call.response["ts"])
        assert message is not None
        return message

    def open_choice(self, recipient: str, dm: dict[str, Any]) -> str:
        """Click "Choose my reward" in `dm`; returns the id of the modal that opens."""
        since = len(self.slack.calls())
        response = self.driver.click(recipient, "choose_reward", message=dm)
        return self._opened(response, since)

    def pick_in_choice(
        self, recipient: str, view_id: str, *, country: str | None, product_id: int
    ) -> None:
        """In the choice modal: the country (when given), then a gift card sold there."""
        if country is not None:
            self._changed(
                recipient,
                view_id,
                lambda: self.driver.select(
                    recipient, view_id, "choice_country", "choice_country", country
                ),
            )
        response = self.driver.options(recipient, view_id, "choice_product")
        assert response.status_code == 200, response.text
        self._changed(
            recipient,
            view_id,
            lambda: self.driver.select(
                recipient, view_id, "choice_product", "choice_product", str(product_id)
            ),
        )

    def approval_message(self, request_ref: str, timeout: float = WAIT_S) -> dict[str, Any]:
        call = self.slack.wait_for(
            "chat.postMessage",
            lambda c: (
                c.params["channel"] == APPROVAL_CHANNEL and request_ref in str(c.params.get("text"))
            ),
            timeout=timeout,
        )
        message = self.slack.message(call.response["channel"], call.response["ts"])
        assert message is not None
        return message


@dataclass
class LocalStack(SlackScript):
    sim: RunningSimulator
    slack: RunningFakeSlack
    bot: Bot
    server: ServerThread
    driver: SlackDriver
    settings: Settings
    owns_sim: bool = True
    owns_slack: bool = True

    @property
    def url(self) -> str:
        return self.server.url

    def stop(self) -> None:
        self.driver.close()
        self.server.stop()
        self.bot.stop()
        if self.owns_slack:
            self.slack.stop()
        if self.owns_sim:
            self.sim.stop()


def local_settings(
    db: Path, sim: RunningSimulator, slack: RunningFakeSlack, **overrides: Any
) -> Settings:
    values: dict[str, Any] = {
        "slack_bot_token": BOT_TOKEN,
        "slack_signing_secret": SIGNING_SECRET,
        "slack_api_url": slack.api_url,
        "xoxoday_base_url": sim.base_url,
        "xoxoday_client_id": DEMO_CREDENTIALS["client_id"],
        "xoxoday_client_secret": DEMO_CREDENTIALS["client_secret"],
        "xoxoday_access_token": DEMO_CREDENTIALS["access_token"],
        "xoxoday_refresh_token": DEMO_CREDENTIALS["refresh_token"],
        "xoxoday_webhook_key": WEBHOOK_KEY,
        "rewards_db": db,
        "rewards_approvers": APPROVERS,
        "rewards_approval_channel": APPROVAL_CHANNEL,
    }
    values.update(overrides)
    return load_settings(None, **values)


def start_local_stack(
    db: Path,
    *,
    sim: RunningSimulator | None = None,
    slack: RunningFakeSlack | None = None,
    poll_first_s: float = 0.5,
    backoff_first_s: float = 0.2,
    **overrides: Any,
) -> LocalStack:
    owns_sim, owns_slack = sim is None, slack is None
    sim = sim or start(SimConfig(delivery_delay_s=-1, webhook_retry_delay_s=0.2))
    slack = slack or start_fake_slack(bot_token=BOT_TOKEN)
    settings = local_settings(db, sim, slack, **overrides)
    bot = build_bot(settings, poll_first_s=poll_first_s, backoff_first_s=backoff_first_s)
    bot.runtime.worker.reconcile_after_s = 0.2
    bot.runtime.catalog.refresh()
    bot.runtime.wallet.balance()
    server = ServerThread(bot.wsgi(), "127.0.0.1", 0, HTTP_THREADS).start()
    # Xoxoday's webhook goes to the bot's own endpoint, with the key the bot expects.
    sim_config = {"webhook_url": f"{server.url}/xoxoday/webhook", "webhook_key": WEBHOOK_KEY}
    _post_json(f"{sim.url}/_sim/config", sim_config)
    bot.start()
    driver = SlackDriver(server.url, SIGNING_SECRET, slack)
    return LocalStack(sim, slack, bot, server, driver, settings, owns_sim, owns_slack)


def _post_json(url: str, body: dict[str, Any]) -> None:
    response = httpx.post(url, content=dumps(body), timeout=10)
    response.raise_for_status()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_env(
    sim: RunningSimulator, slack: RunningFakeSlack, db: Path, port: int, **extra: str
) -> dict[str, str]:
    """The environment of a `rewards-bot run` process wired to the local stand-ins."""
    inherited = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "XOXODAY_", "REWARDS_"))
    }
    return {
        **inherited,
        "PYTHONPATH": str(Path(__file__).resolve().parent.parent),
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "XOXODAY_BASE_URL": sim.base_url,
        "XOXODAY_CLIENT_ID": DEMO_CREDENTIALS["client_id"],
        "XOXODAY_CLIENT_SECRET": DEMO_CREDENTIALS["client_secret"],
        "XOXODAY_ACCESS_TOKEN": DEMO_CREDENTIALS["access_token"],
        "XOXODAY_REFRESH_TOKEN": DEMO_CREDENTIALS["refresh_token"],
        "XOXODAY_WEBHOOK_KEY": WEBHOOK_KEY,
        "REWARDS_DB": str(db),
        "REWARDS_APPROVERS": ",".join(APPROVERS),
        "REWARDS_APPROVAL_CHANNEL": APPROVAL_CHANNEL,
        "PORT": str(port),
        **extra,
    }


HUNG_START_S = 600.0


def _cpu_seconds(pid: int) -> float | None:
    """CPU time (user + system) a live process has used so far, from /proc (Linux), or None."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()  # after "pid (name)": state is fields[0]
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


class BotProcess:
    """`rewards-bot run` as its own process (its own interpreter, as in production)."""

    def __init__(self, env: dict[str, str], *, timeout: float = 30.0) -> None:
        """Start it and wait until /healthz answers. `timeout` is seconds of the process's
        own CPU time, not of the clock: on a machine loaded by others the start takes longer
        by the clock while doing the same work (where /proc is missing, the clock counts)."""
        self.url = f"http://127.0.0.1:{env['PORT']}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "bot.cli", "--env-file", "/dev/null", "run"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        # Read its output as it comes: a full pipe would block the bot's logging.
        self._lines: list[str] = []
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        started = time.monotonic()
        while not self._healthy():
            spent = _cpu_seconds(self.process.pid)
            if spent is None:
                spent = time.monotonic() - started
            # Hung without using the CPU: a guard by the clock too, far beyond any slow start.
            hung = time.monotonic() - started > HUNG_START_S
            if self.process.poll() is not None or spent > timeout or hung:
                output = self.stop()
                raise RuntimeError(f"the bot did not start ({spent:.1f} s of CPU):\n{output}")
            time.sleep(0.1)

    def _healthy(self) -> bool:
        try:
            return httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200
        except httpx.HTTPError:
            return False

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self._lines.append(line)

    def stop(self) -> str:
        """SIGTERM, wait for a clean exit, and return what it printed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=60)
        self._reader.join(timeout=10)
        return "".join(self._lines)
