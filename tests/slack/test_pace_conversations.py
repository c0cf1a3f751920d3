"""The pacer counts posts per conversation, as Slack does: a DM posted to a person's user id
and one posted to the D… channel of that DM (a thread reply under a status message shown
there, a note) are one conversation, so one lane (slack-platform.md §7; the stand-in counts
them as one too, simulator/slack/pace.py).

The pacer's clock stands still in these tests: its window never passes, so no call is let
through or held back by how fast the machine runs.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from handlers.app import delivery_client
from handlers.paced_client import NotYet
from services.pacing import Pacer
from simulator.slack.fake import DEMO_BOT_TOKEN, RunningFakeSlack
from storage import digests
from storage.db import Database
from storage.migrations import migrate, open_database


def test_a_dm_by_user_id_and_by_its_channel_share_one_lane_in_every_process(
    fake_slack: RunningFakeSlack, tmp_path: Path
) -> None:
    fake_slack.reset()
    database = open_database(str(tmp_path / "pace.db"))
    now = time.time()
    client = delivery_client(DEMO_BOT_TOKEN, fake_slack.api_url, Pacer(database, clock=lambda: now))

    dm = client.chat_postMessage(channel="UANA", text="0")["channel"]  # the answer names it
    assert dm.startswith("D")
    for i in range(1, 4):  # the pacer's burst: four posts to one conversation in 4 s
        client.chat_postMessage(channel="UANA", text=str(i))
    with pytest.raises(NotYet) as held:
        client.chat_postMessage(channel=dm, text="a thread reply in the same DM")
    assert held.value.lane == "post:UANA"

    # Another process on the database knows the DM is Ana's: it learned nothing itself.
    other = delivery_client(DEMO_BOT_TOKEN, fake_slack.api_url, Pacer(database, clock=lambda: now))
    with pytest.raises(NotYet) as also:
        other.chat_postMessage(channel=dm, text="from another process")
    assert also.value.lane == "post:UANA"
    assert other.chat_postMessage(channel="UBEN", text="another conversation")["ok"]
    assert not [c for c in fake_slack.calls("chat.postMessage") if c.status == 429]


def test_the_dms_recorded_before_the_upgrade_are_known_after_it(tmp_path: Path) -> None:
    """A database from before the pairs were kept learns them from the DMs it recorded."""
    database = Database(str(tmp_path / "old.db"))
    migrate(database, 15)
    digests.save(database, "D0ANA", "1.0001", "UANA", "remind", [])  # a digest in Ana's DM
    digests.save(database, "CREWARDS", "1.0002", "CREWARDS", "remind", [])
    migrate(database)
    pacer = Pacer(database)
    assert (pacer.conversation("D0ANA"), pacer.conversation("CREWARDS")) == ("UANA", "CREWARDS")
    assert pacer.conversation("D0UNKNOWN") == "D0UNKNOWN"  # not learned: its own lane
