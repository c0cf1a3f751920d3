"""A delegation counts while the approver who made it may still approve: once that approver
leaves REWARDS_APPROVERS, their delegate neither decides (services/delegation.py) nor keeps the
approvers' Home tab with the wallet balance and the company's spend. Found by an outside
review."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from simulator.slack.fake import RunningFakeSlack
from tests.slack.conftest import stack_on
from tests.slack.test_e2e_commands import reply
from tests.slack.test_e2e_home import open_home, text_of
from tests.support import SimControl


def test_a_removed_approvers_delegate_loses_the_wallet_and_company_spend(
    xo: SimControl, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    fake_slack.reset()
    db = tmp_path / "rewards.db"
    until = (datetime.now(UTC).date() + timedelta(days=30)).isoformat()
    before = stack_on(db, xo, fake_slack, rewards_approvers=["UAPPROVER", "UAPPROVER2"])
    try:
        assert reply(before, "UAPPROVER", f"delegate @ben until {until}").startswith("🔁 <@UBEN>")
    finally:
        before.stop()

    # UAPPROVER leaves; the operator removes them from REWARDS_APPROVERS and restarts.
    after = stack_on(db, xo, fake_slack, rewards_approvers=["UAPPROVER2"])
    try:
        assert reply(after, "UBEN", "balance") == "Only approvers can see the wallet balance."
        open_home(after, "UBEN")
        home = text_of(after, "UBEN")
        shown = [s for s in ("Xoxoday wallet", "Spent this month", "Waiting for you") if s in home]
        assert shown == [], f"UBEN (no longer anyone's stand-in in effect) sees {shown}:\n{home}"
    finally:
        after.stop()
