"""The finance export's per-requester totals are keyed by member id: Slack names are not
unique and anyone can change theirs, so two people called "Riya Kapoor" get a total each.
Found by an outside review."""

from __future__ import annotations

from collections.abc import Callable

from bot.local import LocalStack
from services.finance import month_export
from simulator.slack.users import make_user
from tests.support import wait_for


def test_two_requesters_with_one_name_get_a_total_each(
    make_stack: Callable[..., LocalStack],
) -> None:
    stack = make_stack(rewards_auto_approve_max="100", rewards_monthly_budget="500")
    stack.slack.add_user(make_user("UIMPOSTOR", "Riya Kapoor", "riya.k2@example.com"))
    assert stack.request("UREQUESTER", ["UANA"], amount="25").text == ""
    assert stack.request("UIMPOSTOR", ["UBEN"], amount="100").text == ""
    database = stack.bot.runtime.database
    wait_for(lambda: database.scalar("SELECT COUNT(*) FROM orders WHERE state='delivered'") == 2)
    month = database.scalar("SELECT substr(created_at, 1, 7) FROM requests WHERE id = 1")
    export = month_export(database, month)
    ids = {row["requester_id"] for row in export.rows}
    by_requester = [t for t in export.totals if t["by"] == "requester"]
    assert ids == {"UREQUESTER", "UIMPOSTOR"}
    assert len(by_requester) == 2, (
        f"two requesters {sorted(ids)}, one total: "
        f"{[(t['key'], t['orders'], str(t['net'])) for t in by_requester]}"
    )
