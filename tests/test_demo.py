"""`rewards-bot demo` runs the whole flow and exits 0 (what `make demo` promises)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path


def test_demo_runs_the_whole_flow() -> None:
    env = {
        k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "XOXODAY_", "REWARDS_"))
    }
    result = subprocess.run(
        [sys.executable, "-m", "bot.cli", "--env-file", "/dev/null", "demo"],
        env={**env, "PYTHONPATH": str(Path.cwd())},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    out = result.stdout
    for seen in (
        "[modal] 'Send a reward' opens",
        "[#reward-approvals] 🎁 R-1 needs approval",
        "✅ Approved by @Alex",
        "[DM to Ana] 🎁 You've received a reward from @Riya!",
        "Code: `DEMO-",
        "credited to loyalty member `EK-324523423`",
        "Approved automatically",
        "[workflow] the step completed: {'request_ref': 'R-4', 'state': 'pending_approval'",
        "[workflow] the step completed: {'state': 'delivered'}",
        "[workflow] the step failed: Requester: a reward is paid from the budget",
        "[only Olu (not an approver) sees] Only the configured approvers can approve or reject rewards.",
        "[Home tab of Alex (approver)] 🎁 Rewards",
        "Waiting for you",
        "The balance is under 10,000 USD",
        "Your budget this month: 500 USD",
        "💰 500 USD left of your 500 USD budget this month",
        "⚠️ @Cho was already rewarded in R-4",
        "⏰ Reminder: 1 reward request waits for your decision",
        "⏰ Reminder 1 of 3: R-6 · ",
        "[DM to Hana (head of people, asked when a request is overdue)] ⏫ Escalated",
        "so you are asked too",
        "⌛ Your reward request R-6 expired: nobody decided within 6 seconds",
        "[only Alex (approver) sees] R-6 is already expired.",
        # Their choice: Ana in the UK chooses in pounds, the change goes back; Ben's expires.
        "gave you 50 USD to spend on a gift card you choose",
        "[modal] ✅ You chose Tesco Gift Card (25 GBP) with the 50 USD from @Riya.",
        "🎁 @Ana chose Tesco Gift Card (25 GBP, about 32 USD); 18 USD went back to the budget",
        "[DM to Ben] ⏰ Reminder: you have 50 USD from @Riya",
        "⌛ @Ben did not choose their reward (R-7) in time: the 50 USD went back to your budget.",
        "appeared only in their recipients' own DMs",
        "Slack's rules held",
        "every step worked",
    ):
        assert seen in out, seen
    assert "Traceback" not in out + result.stderr
