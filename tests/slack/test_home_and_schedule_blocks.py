"""The App Home, the reminder and escalation asks, delegation lines, the modal's budget and
earlier-reward notes: pure builders, tested as data with hostile text, and held to Slack's
rules by the stand-in's own validator."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

from handlers import dm_messages, replies
from handlers import messages as msg
from handlers.digest_messages import Entry, digest
from handlers.form_notes import FormNotes, budget_line
from handlers.home_view import home_view
from handlers.ids import Action
from handlers.messages import block_text_length
from handlers.metadata import RequestRef, RewardModalMeta
from handlers.views import reward_modal
from services.budget import BudgetView
from services.delegation import Delegation
from services.duplicates import EarlierReward
from services.home import HomeData, Received, Waiting
from services.wallet import WalletView
from simulator.slack.blocks import plain_text
from simulator.slack.validate import message_problems, view_problems
from tests.hostile import HOSTILE
from tests.slack.test_blocks import NOW, request
from tests.slack.test_escaping import assert_inert, hostile_order, hostile_request

DELEGATION = Delegation("UAPP", "U0001", date(2026, 12, 24))
BUDGET = BudgetView(Decimal(500), Decimal("149.00"), Decimal("49.00"), "USD")


def hostile_home(**extra: Any) -> HomeData:
    waiting_request = hostile_request("pending_approval", decided_by=None, decision_reason=None)
    values: dict[str, Any] = {
        "user_id": "UREQ",
        "budget": BudgetView(Decimal(500), Decimal(10), Decimal(5), HOSTILE),
        "requests": [
            (hostile_request(state, id=n), [hostile_order(n)])
            for n, state in enumerate(
                ["pending_approval", "approved", "rejected", "cancelled", "expired"], start=1
            )
        ],
        "received": [
            Received(hostile_order(n, state), hostile_request())
            for n, state in enumerate(["placed", "delivered", "canceled"], start=1)
        ],
        "decides": True,
        "waiting": [Waiting(waiting_request, [hostile_order(1, "pending_approval")], "UAPP")],
        "waiting_total": 3,
        "wallet": WalletView(Decimal(40), HOSTILE, Decimal(5), 1_800_000_000.0),
        "low_balance": Decimal(50),
        "spend": {"gift_card": Decimal(10), HOSTILE: Decimal(2)},
        "delegate": DELEGATION,
        "standing_in_for": [Delegation("U0002", "UREQ", date(2026, 12, 31))],
    }
    values.update(extra)
    return HomeData(**values)


def test_the_home_tab_is_inert_and_valid_for_slack() -> None:
    view = home_view(hostile_home())
    assert_inert(view["blocks"])
    assert view_problems(view, surfaces=("home",)) == []
    text = plain_text(view["blocks"])
    for words in ("Waiting for you", "Your requests", "Rewards you received", "under"):
        assert words in text, words
    assert "… and 2 more" in text


def test_the_home_tab_buttons_are_the_channels_own() -> None:
    data = hostile_home()
    view = home_view(data)
    by_id = {b.get("block_id"): b for b in view["blocks"]}
    decision = by_id[f"decision:{data.waiting[0].request.id}"]
    assert [e["action_id"] for e in decision["elements"]] == [Action.APPROVE, Action.REJECT]
    assert RequestRef.load(decision["elements"][0]["value"]) == RequestRef.of(
        data.waiting[0].request
    )
    cancel = [b for b in view["blocks"] if b.get("accessory", {}).get("action_id") == Action.CANCEL]
    assert [b["block_id"] for b in cancel] == ["request:1"]  # only the waiting one
    assert "confirm" in cancel[0]["accessory"]


def test_a_full_home_stays_within_slacks_100_blocks() -> None:
    many = [
        Waiting(request("pending_approval", id=n), [hostile_order(n)], None) for n in range(1, 16)
    ]
    data = hostile_home(waiting=many, waiting_total=500)
    view = home_view(data)
    assert len(view["blocks"]) <= 100
    assert view_problems(view, surfaces=("home",)) == []


def test_a_requesters_home_has_no_approver_part_and_never_a_code() -> None:
    delivered = hostile_order(1, "delivered", po_number="RB-1")
    data = HomeData(
        user_id="U0001",
        budget=BudgetView(None, Decimal(0), Decimal(0), "USD"),
        requests=[],
        received=[Received(delivered, request("approved"))],
    )
    view = home_view(data)
    text = plain_text(view["blocks"])
    assert "Waiting for you" not in text and "wallet" not in text.lower()
    assert "no limit" in text and "No requests yet" in text
    assert "delivered" in text and "Code:" not in text and "RB-1" not in text
    assert view_problems(view, surfaces=("home",)) == []


def test_budget_lines() -> None:
    assert budget_line(BUDGET) == (
        "💰 *351 USD left* of your 500 USD budget this month "
        "(49 USD of it held by requests waiting for approval)"
    )
    none = BudgetView(None, Decimal(20), Decimal(0), "USD")
    assert budget_line(none) == "💰 No monthly limit; you have committed 20 USD"
    over = BudgetView(Decimal(10), Decimal(20), Decimal(0), "USD")
    assert over.left == 0


def test_reminder_and_escalation_digests_are_inert_and_keep_the_buttons() -> None:
    waiting = hostile_request(
        "pending_approval",
        decided_by=None,
        expires_at=1_800_000_000.0,
        waiting_since=NOW,
    )
    entries = [Entry(waiting, [hostile_order(1)], "UAPP", round=2, of=3)]
    text, blocks = digest("remind", entries, 1)
    assert_inert(text, blocks)
    assert message_problems({"blocks": blocks}) == []
    shown = plain_text(blocks)
    assert "Reminder 2 of 3" in shown and "You stand in for <@UAPP>" in shown
    assert any(b["type"] == "actions" for b in blocks)
    escalated = digest("escalate", [Entry(waiting, [hostile_order(1)])], 1)
    assert "asked too" in escalated[0] and "Reminder" not in plain_text(escalated[1])
    # Decided (or expired): the buttons give way to the decision, in place.
    expired = hostile_request("expired", decided_by=None)
    _text, decided = digest("remind", [Entry(expired, [hostile_order(1)], round=2, of=3)], 1)
    assert all(b["type"] != "actions" for b in decided)
    assert "Expired" in plain_text(decided)


def test_a_digest_holds_what_a_message_can_and_counts_the_rest() -> None:
    many = [
        Entry(hostile_request("pending_approval", decided_by=None, id=n), [hostile_order(n)])
        for n in range(1, 31)
    ]
    text, blocks = digest("remind", many, 30)
    assert len(blocks) <= 50 and sum(b["type"] == "actions" for b in blocks) == 24
    assert len({b.get("block_id") for b in blocks if b.get("block_id")}) == 24  # unique ids
    assert "and 6 more on your Home tab" in plain_text(blocks)
    assert "30 reward requests wait" in text
    assert block_text_length(blocks) < 11_000 and message_problems({"blocks": blocks}) == []


def test_decisions_name_the_delegate_and_whom_they_stood_in_for() -> None:
    approved = request("approved", decided_by="U0001", decided_for="UAPP", decided_at=NOW)
    assert msg.approval_line(approved).startswith(
        "✅ Approved by <@U0001> (standing in for <@UAPP>)"
    )
    assert "by <@U0001> (standing in for <@UAPP>)" in (
        dm_messages.requester_update("request.approved", approved, None, None) or ""
    )
    rejected = request("rejected", decided_by="U0001", decided_for="UAPP", decided_at=NOW)
    assert msg.event_line("request.rejected", None, rejected, "no") == (
        "🚫 Rejected by <@U0001> (standing in for <@UAPP>)"
    )
    expired = hostile_request("expired", decided_by=None)
    assert_inert(
        msg.event_line("request.expired", None, expired, HOSTILE),
        dm_messages.requester_update("request.expired", expired, None, HOSTILE),
        msg.status_message(expired, [hostile_order(1, "withdrawn")]),
        dm_messages.delegation_text("delegation.set", HOSTILE, date(2026, 1, 2)),
        dm_messages.delegation_text("delegation.ended", "UAPP", date(2026, 1, 2)),
        replies.delegate_reply(DELEGATION),
    )
    assert msg.request_status(expired, []) == "⌛ Expired: nobody decided in time"


def test_the_modal_shows_the_budget_on_top_and_earlier_rewards_under_the_recipients() -> None:
    earlier = [EarlierReward("U0003", hostile_order(3, "delivered"), hostile_request())]
    # Shown to someone who may see R-12 (its requester, an approver): what it was.
    seen = frozenset({earlier[0].request.id})
    view = reward_modal(RewardModalMeta(), notes=FormNotes(BUDGET, tuple(earlier), seen))
    assert view_problems(view) == []
    assert_inert(view["blocks"])
    kinds = [b.get("block_id") or b["type"] for b in view["blocks"]]
    assert kinds[0] == "context" and "351 USD left" in plain_text(view["blocks"][:1])
    after = kinds[kinds.index("recipients") + 1]
    assert after == "section"
    assert "was already rewarded in R-12" in plain_text(view["blocks"])
    recipients = next(b for b in view["blocks"] if b.get("block_id") == "recipients")
    assert recipients["dispatch_action"] is True  # each choice is sent: the warning follows
    # Anyone else reads that there was one, and nothing of what, for how much or by whom.
    other = plain_text(
        reward_modal(RewardModalMeta(), notes=FormNotes(BUDGET, tuple(earlier)))["blocks"]
    )
    assert "was already rewarded recently (R-12)" in other
    assert "asked by" not in other and "USD (" not in other
