"""A database belongs to one Xoxoday account: switching accounts never re-places a trial order.

The review's case: an operator tried the bot against the simulator or the sandbox, then put the
production credentials in `.env` and kept `data/rewards.db`; the trial's queued orders were
bought at the new account, for real money.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from bot.config import ConfigError
from bot.runtime import build_runtime
from simulator.xoxoday import SimConfig, start
from tests.lifecycle.conftest import APPROVER, REQUESTER, gift, settings_for, states
from tests.support import SimControl, cli_env, rewards_bot


def test_another_xoxoday_account_is_refused_until_the_old_ones_orders_are_finished(
    xo: SimControl, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    db = tmp_path / "rewards.db"  # the default data/rewards.db, kept across the switch
    trial = build_runtime(settings_for(xo, db))  # first start: the account is recorded
    trial.catalog.refresh()
    queued = trial.rewards.create(REQUESTER, [gift()])
    trial.rewards.approve(queued.request.id, APPROVER)
    waiting = trial.rewards.create(REQUESTER, [gift("ben@example.com")])
    trial.close()  # stopped with one order queued and one awaiting approval

    production = start(SimConfig(delivery_delay_s=-1))
    try:
        prod = SimControl(production)
        with pytest.raises(ConfigError) as info:
            build_runtime(settings_for(prod, db))
        assert str(info.value) == (
            f"XOXODAY_BASE_URL: {db} holds unfinished orders (1 pending_approval, 1 queued) "
            f"of another Xoxoday account ({xo.base_url}, client demo-client); finish or cancel "
            "them against that account first, or set REWARDS_DB to a new file for this one"
        )
        worker = rewards_bot(cli_env(prod.base_url, db), "worker", "--until-idle")
        assert worker.returncode == 2
        assert worker.stderr.strip().splitlines() == [
            f"rewards-bot: configuration error: {info.value}"
        ]
        assert prod.orders() == []

        # Finished against the trial account: one delivered, one cancelled.
        again = build_runtime(settings_for(xo, db))
        again.worker.run(until_settled=True)
        again.rewards.cancel(waiting.request.id, REQUESTER)
        assert states(again, queued.request.id) == ["delivered"]
        again.close()

        caplog.set_level(logging.WARNING, logger="bot.account")
        switched = build_runtime(settings_for(prod, db))
        try:
            switched.worker.run(until_idle=True)
            [moved] = switched.database.query(
                "SELECT reason FROM events WHERE kind = 'system.account_changed'"
            )
        finally:
            switched.close()
        assert f"from {xo.base_url}, client demo-client to {prod.base_url}" in moved["reason"]
        assert "Xoxoday account changed (XOXODAY_BASE_URL)" in caplog.text
        assert prod.orders() == [] and len(xo.orders()) == 1
    finally:
        production.stop()
