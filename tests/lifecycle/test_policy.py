"""Requests and policy: limits at their edges, who may decide, budgets given back."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal

import pytest

from bot.runtime import Runtime
from services import errors as domain
from storage import events, ledger
from storage import orders as order_store
from tests.lifecycle.conftest import APPROVER, OTHER, REQUESTER, charity, gift, miles, states, topup
from tests.support import SimControl


def month(runtime: Runtime) -> str:
    return runtime.rewards._month()


def spent(runtime: Runtime, who: str = REQUESTER) -> Decimal:
    return ledger.spent(runtime.database, who, month(runtime))


def test_request_is_recorded_with_orders_po_numbers_and_a_reservation(runtime: Runtime) -> None:
    decision = runtime.rewards.create(
        REQUESTER, [gift(), miles(), charity(), topup()], message="Q4 launch"
    )
    request = decision.request
    assert request.state == "pending_approval"
    # 25 with 2% off, 50 miles, 20 charity, 199 INR at 0.012
    assert request.total_cost == Decimal("24.50") + Decimal("50.00") + Decimal("20.00") + Decimal(
        "2.39"
    )
    assert request.currency == "USD"
    assert [o.reward_type for o in decision.orders] == ["gift_card", "airmiles", "charity", "topup"]
    assert len({o.po_number for o in decision.orders}) == 4
    assert all(o.state == "pending_approval" for o in decision.orders)
    assert spent(runtime) == request.total_cost
    assert [e.kind for e in events.for_request(runtime.database, request.id)] == ["request.created"]


def test_auto_approve_exactly_at_the_limit(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime(
        rewards_auto_approve_max=Decimal("24.50"), rewards_monthly_budget=Decimal(500)
    )
    created = runtime.rewards.create(REQUESTER, [gift(amount="25")])  # costs 24.50
    assert created.auto_approvable and created.request.state == "pending_approval"
    decision = runtime.rewards.auto_approve(created.request.id)  # checks the wallet first
    assert decision.request.state == "approved"
    assert decision.request.auto_approved
    assert decision.request.decided_by == "policy"
    assert states(runtime, decision.request.id) == ["queued"]


def test_one_cent_over_the_auto_approve_limit_needs_an_approver(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(
        rewards_auto_approve_max=Decimal("24.49"), rewards_monthly_budget=Decimal(500)
    )
    decision = runtime.rewards.create(REQUESTER, [gift(amount="25")])
    assert decision.request.state == "pending_approval"
    assert not decision.auto_approvable
    with pytest.raises(domain.InvalidReward, match="over the auto-approve limit"):
        runtime.rewards.auto_approve(decision.request.id)


def test_auto_approval_with_a_wallet_shortfall_goes_to_the_approvers(
    make_runtime: Callable[..., Runtime], xo: SimControl
) -> None:
    runtime = make_runtime(
        rewards_auto_approve_max=Decimal("100"), rewards_monthly_budget=Decimal(500)
    )
    xo.config(balance="10")
    created = runtime.rewards.create(REQUESTER, [gift(amount="25")])
    with pytest.raises(domain.InsufficientFunds):
        runtime.rewards.auto_approve(created.request.id)
    assert states(runtime, created.request.id) == ["pending_approval"]
    history = [e.kind for e in events.for_request(runtime.database, created.request.id)]
    assert history == ["request.created", "request.needs_approval"]


def test_no_auto_approval_without_a_monthly_budget(runtime: Runtime) -> None:
    # Without a budget, requests split under the limit would be approved without end.
    unbounded = runtime.policy.__class__(auto_approve_max=Decimal(100))
    assert not unbounded.auto_approves(Decimal(1))
    runtime.rewards.policy = unbounded
    created = runtime.rewards.create(REQUESTER, [gift(amount="10")])
    assert not created.auto_approvable
    with pytest.raises(domain.InvalidReward, match="over the auto-approve limit"):
        runtime.rewards.auto_approve(created.request.id)
    assert states(runtime, created.request.id) == ["pending_approval"]


def test_max_order_exactly_at_the_limit_and_one_cent_over(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(rewards_max_order=Decimal("49.00"))
    assert (
        runtime.rewards.create(REQUESTER, [gift(amount="50")]).request.state == "pending_approval"
    )
    with pytest.raises(domain.OverOrderLimit, match=r"49\.01 USD, over the 49 USD limit"):
        runtime.rewards.create(REQUESTER, [charity(amount="49.01")])


def test_monthly_budget_exactly_at_the_limit_then_one_cent_over(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(rewards_monthly_budget=Decimal("70"))
    runtime.rewards.create(REQUESTER, [charity(amount="50")])
    with pytest.raises(
        domain.OverBudget, match=r"costs 20\.01 USD but only 20 USD of your 70 USD monthly budget"
    ):
        runtime.rewards.create(REQUESTER, [charity(amount="20.01")])  # one cent over
    runtime.rewards.create(REQUESTER, [charity(amount="20")])  # exactly 70
    assert spent(runtime) == Decimal(70)
    # The budget is per requester.
    assert runtime.rewards.create(OTHER, [charity(amount="70")]).request.state == "pending_approval"


def test_budget_is_checked_again_at_approval(make_runtime: Callable[..., Runtime]) -> None:
    generous = make_runtime(rewards_monthly_budget=Decimal("100"))
    decision = generous.rewards.create(REQUESTER, [charity(amount="60")])
    strict = make_runtime(rewards_monthly_budget=Decimal("59.99"))  # the budget was lowered
    with pytest.raises(domain.OverBudget):
        strict.rewards.approve(decision.request.id, APPROVER)
    assert states(strict, decision.request.id) == ["pending_approval"]


def test_self_approval_is_refused(make_runtime: Callable[..., Runtime]) -> None:
    runtime = make_runtime()
    decision = runtime.rewards.create(APPROVER, [gift()])
    with pytest.raises(domain.SelfApproval):
        runtime.rewards.approve(decision.request.id, APPROVER)
    with pytest.raises(domain.SelfApproval):
        runtime.rewards.reject(decision.request.id, APPROVER, "no")
    assert runtime.rewards.approve(decision.request.id, "UAPPROVER2").request.state == "approved"


def test_approval_by_a_non_approver_is_refused(runtime: Runtime) -> None:
    decision = runtime.rewards.create(REQUESTER, [gift()])
    with pytest.raises(domain.NotAnApprover):
        runtime.rewards.approve(decision.request.id, OTHER)
    assert states(runtime, decision.request.id) == ["pending_approval"]


def test_rejection_needs_a_reason_and_gives_the_budget_back(runtime: Runtime) -> None:
    decision = runtime.rewards.create(REQUESTER, [gift(), charity()])
    with pytest.raises(domain.InvalidReward, match="say why"):
        runtime.rewards.reject(decision.request.id, APPROVER, "  ")
    rejected = runtime.rewards.reject(decision.request.id, APPROVER, "not in this quarter's plan")
    assert rejected.request.state == "rejected"
    assert rejected.request.decision_reason == "not in this quarter's plan"
    assert states(runtime, decision.request.id) == ["withdrawn", "withdrawn"]
    assert spent(runtime) == 0
    with pytest.raises(domain.RequestNotPending, match="already rejected"):
        runtime.rewards.approve(decision.request.id, APPROVER)


def test_requester_can_cancel_while_pending_and_only_then(runtime: Runtime) -> None:
    first = runtime.rewards.create(REQUESTER, [gift()])
    with pytest.raises(domain.NotRequester):
        runtime.rewards.cancel(first.request.id, OTHER)
    cancelled = runtime.rewards.cancel(first.request.id, REQUESTER)
    assert cancelled.request.state == "cancelled"
    assert spent(runtime) == 0
    second = runtime.rewards.create(REQUESTER, [gift()])
    runtime.rewards.approve(second.request.id, APPROVER)
    with pytest.raises(domain.RequestNotPending, match="already approved"):
        runtime.rewards.cancel(second.request.id, REQUESTER)


def test_wallet_shortfall_is_a_clear_refusal_not_a_failed_order(
    runtime: Runtime, xo: SimControl
) -> None:
    decision = runtime.rewards.create(REQUESTER, [gift(amount="100")])  # 98.00
    xo.config(balance="97.99")
    runtime.wallet.invalidate()
    with pytest.raises(
        domain.InsufficientFunds, match=r"97\.99 USD available.*needs 98 USD"
    ) as info:
        runtime.rewards.approve(decision.request.id, APPROVER)
    assert info.value.available == Decimal("97.99")
    assert states(runtime, decision.request.id) == ["pending_approval"]
    assert xo.calls("placeOrder") == 0


def test_wallet_counts_what_is_already_committed(runtime: Runtime, xo: SimControl) -> None:
    xo.config(balance="100")
    runtime.wallet.invalidate()
    first = runtime.rewards.create(REQUESTER, [charity(amount="60")])
    second = runtime.rewards.create(REQUESTER, [charity(amount="60")])
    runtime.rewards.approve(first.request.id, APPROVER)  # 60 committed, not yet placed
    with pytest.raises(domain.InsufficientFunds, match="60 USD already committed"):
        runtime.rewards.approve(second.request.id, APPROVER)


@pytest.mark.parametrize(
    ("spec", "field", "words"),
    [
        (gift(product=99999), "product", "not in the Xoxoday catalog"),
        (gift(amount="30"), "amount", "comes in 10, 25, 50, 100 USD, not 30"),
        (gift(product=31003, amount="15"), "contact", "phone number"),  # the modal's phone box
        (miles(member=None), "loyalty_member_id", "loyalty member ID"),
        (topup(phone="12345"), "phone", "international form"),
        (gift(email="not-an-email"), "email", "valid email"),
        (gift(email=None), "email", "recipient email"),
    ],
)
def test_a_reward_that_cannot_be_ordered_is_refused_before_it_is_recorded(
    runtime: Runtime, spec: object, field: str, words: str
) -> None:
    with pytest.raises(domain.InvalidReward) as info:
        runtime.rewards.create(REQUESTER, [gift(), spec])  # type: ignore[list-item]
    assert info.value.field == field
    assert words in info.value.message
    assert order_store.count_by_state(runtime.database) == {}
    assert spent(runtime) == 0


def test_the_same_submission_is_recorded_once(runtime: Runtime) -> None:
    first = runtime.rewards.create(REQUESTER, [gift()], idempotency_key="slack:view:V123")
    again = runtime.rewards.create(REQUESTER, [gift()], idempotency_key="slack:view:V123")
    assert again.request.id == first.request.id
    assert sum(order_store.count_by_state(runtime.database).values()) == 1


# --- who may decide, and who may see what --------------------------------------------------------


class Directory:
    """A PeopleDirectory from a dict, as the Slack side answers it (None: no email)."""

    def __init__(self, emails: dict[str, str | None]) -> None:
        self.emails = emails
        self.asked: list[str] = []

    def email_of(self, user_id: str) -> str | None:
        self.asked.append(user_id)
        if user_id not in self.emails:
            raise domain.DeciderUnknown("the directory did not answer")
        return self.emails[user_id]

    def is_active(self, user_id: str, *, fresh: bool = False) -> bool | None:
        return True if user_id in self.emails else None


def test_an_approver_cannot_decide_a_reward_paid_to_themselves(runtime: Runtime) -> None:
    # Anyone asks for a gift card for an approver; that approver must not be the one to say yes.
    to_approver = gift(email="alex@example.com", recipient_id=APPROVER)
    decision = runtime.rewards.create(REQUESTER, [gift(), to_approver])
    with pytest.raises(domain.SelfApproval, match="a request that rewards you"):
        runtime.rewards.approve(decision.request.id, APPROVER)
    with pytest.raises(domain.SelfApproval, match="a request that rewards you"):
        runtime.rewards.reject(decision.request.id, APPROVER, "mine, but no thanks")
    assert states(runtime, decision.request.id) == ["pending_approval", "pending_approval"]
    assert runtime.rewards.approve(decision.request.id, "UAPPROVER2").request.state == "approved"


def test_a_csv_recipient_is_matched_by_the_approvers_own_email(runtime: Runtime) -> None:
    directory = Directory({APPROVER: "Alex@Example.com ", "UAPPROVER2": "sam@example.com"})
    runtime.rewards.people = directory
    decision = runtime.rewards.create("ops", [gift(email="alex@example.com")])  # a CSV row
    with pytest.raises(domain.SelfApproval):
        runtime.rewards.approve(decision.request.id, APPROVER)
    with pytest.raises(domain.SelfApproval):
        runtime.rewards.check_decider(decision.request.id, APPROVER)
    assert directory.asked == [APPROVER, APPROVER]
    assert runtime.rewards.approve(decision.request.id, "UAPPROVER2").request.state == "approved"


@pytest.mark.parametrize("emails", [{APPROVER: None}, {}], ids=["no email", "no answer"])
def test_an_approver_who_cannot_be_checked_is_refused(
    runtime: Runtime, emails: dict[str, str | None]
) -> None:
    runtime.rewards.people = Directory(emails)
    decision = runtime.rewards.create("ops", [gift(email="someone@example.com")])
    with pytest.raises(domain.DeciderUnknown):
        runtime.rewards.approve(decision.request.id, APPROVER)
    assert states(runtime, decision.request.id) == ["pending_approval"]


def test_slack_recipients_need_no_directory_lookup(runtime: Runtime) -> None:
    directory = Directory({})  # would refuse anyone it is asked about
    runtime.rewards.people = directory
    decision = runtime.rewards.create(REQUESTER, [gift(recipient_id="UANA")])
    assert runtime.rewards.approve(decision.request.id, APPROVER).request.state == "approved"
    assert directory.asked == []


def test_status_shows_each_person_only_what_is_theirs(runtime: Runtime) -> None:
    runtime.rewards.people = Directory(
        {"UCSV": "cho@example.com", OTHER: "olu@example.com", APPROVER: "alex@example.com"}
    )
    ana = gift(email="ana@example.com", recipient_id="UANA")
    ben = gift(email="ben@example.com", recipient_id="UBEN")
    by_email = gift(email="cho@example.com")
    decision = runtime.rewards.create(REQUESTER, [ana, ben, by_email])
    request_id = decision.request.id
    runtime.rewards.reject(request_id, APPROVER, "not in this quarter's plan")
    po = {o.recipient_id or o.email: o.po_number for o in decision.orders}

    for whole in (REQUESTER, APPROVER):
        view = runtime.rewards.view_for(whole, f"R-{request_id}")
        assert view is not None and view.whole and len(view.orders) == 3
        assert view.request.decision_reason == "not in this quarter's plan"

    view = runtime.rewards.view_for("UANA", f"R-{request_id}")
    assert view is not None and not view.whole
    assert [o.po_number for o in view.orders] == [po["UANA"]]
    assert view.request.decision_reason is None  # the reason is the requester's
    assert runtime.rewards.view_for("UANA", po["UANA"]) is not None
    assert runtime.rewards.view_for("UANA", po["UBEN"]) is None  # another recipient's order
    csv_view = runtime.rewards.view_for("UCSV", str(request_id))
    assert csv_view is not None and [o.email for o in csv_view.orders] == ["cho@example.com"]
    assert runtime.rewards.view_for(OTHER, f"R-{request_id}") is None
    assert runtime.rewards.view_for(REQUESTER, "R-999") is None
    assert runtime.rewards.view_for(REQUESTER, "RB-NOT-A-PO") is None
