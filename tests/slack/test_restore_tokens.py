"""A restore keeps the newer Xoxoday token pair of the database it replaces: Xoxoday rotates
the refresh token at every refresh and honours the old one for 6 hours at most (none, per its
auth spec), so the backup's pair may be dead. Found by an outside review."""

from __future__ import annotations

from pathlib import Path

from bot.backup import backup, restore
from bot.local import start_local_stack
from simulator.slack.fake import RunningFakeSlack
from tests.support import SimControl


def test_a_restored_database_still_reaches_xoxoday_after_a_token_rotation(
    xo: SimControl, fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    fake_slack.reset()
    xo.config(token_grace_s=0)  # as the auth spec says (the real account: 6 h)
    db, copy = tmp_path / "rewards.db", tmp_path / "nightly.db"
    options = dict(sim=xo.running, slack=fake_slack, xoxoday_rate_scale=0)
    first = start_local_stack(db, **options)
    try:
        backup(db, copy)  # last night's backup
        xo.expire_tokens()  # the access token runs out: the bot refreshes (and rotates)
        first.bot.runtime.client.get_balance()
    finally:
        first.stop()

    restored = restore(copy, db)
    assert restored.aside is not None  # the replaced database, with the live pair, kept aside
    try:
        second = start_local_stack(db, **options)
    except Exception as exc:
        raise AssertionError(f"after restore the bot cannot reach Xoxoday: {exc}") from exc
    finally:
        xo.config(token_grace_s=6 * 3600)  # the simulator's default, for the tests that follow
    second.stop()
