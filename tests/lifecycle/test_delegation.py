"""Delegation through the one decider check: who may name a delegate, what a delegate may
decide, and that every decision records both names."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import timedelta

import pytest

from bot.runtime import Runtime
from services import errors as domain
from services.delegation import Deciders, Delegations
from storage import events
from tests.lifecycle.conftest import APPROVER, OTHER, REQUESTER, gift

DELEGATE = "UBEN"


def test_who_may_delegate_to_whom_and_until_when(runtime: Runtime) -> None:
    today = runtime.delegations.today()
    with pytest.raises(domain.NotAnApprover, match="only approvers"):
        runtime.delegations.set(OTHER, DELEGATE, today)
    with pytest.raises(domain.InvalidDelegation, match="someone else"):
        runtime.delegations.set(APPROVER, APPROVER, today)
    with pytest.raises(domain.InvalidDelegation, match="has passed"):
        runtime.delegations.set(APPROVER, DELEGATE, today - timedelta(days=1))
    with pytest.raises(domain.InvalidDelegation, match="at most a year"):
        runtime.delegations.set(APPROVER, DELEGATE, today + timedelta(days=400))
    assert runtime.delegations.of(APPROVER) is None
    set_ = runtime.delegations.set(APPROVER, DELEGATE, today)  # through the end of today
    assert (set_.delegate_id, set_.until) == (DELEGATE, today)
    assert runtime.delegations.standing_in_for(DELEGATE) == [set_]
    assert runtime.delegations.off(APPROVER) == set_
    assert runtime.delegations.off(APPROVER) is None
    logged = [
        (e.kind, e.actor, e.data["delegate"])
        for e in events.after(runtime.database, 0)
        if e.kind.startswith("delegation.")
    ]
    assert logged == [
        ("delegation.set", APPROVER, DELEGATE),
        ("delegation.ended", APPROVER, DELEGATE),
    ]


def test_a_delegate_decides_in_the_approvers_place_and_both_names_are_recorded(
    runtime: Runtime,
) -> None:
    approve_me = runtime.rewards.create(REQUESTER, [gift()]).request
    reject_me = runtime.rewards.create(REQUESTER, [gift("cho@example.com")]).request
    with pytest.raises(domain.NotAnApprover):
        runtime.rewards.check_decider(approve_me.id, DELEGATE)
    runtime.delegations.set(APPROVER, DELEGATE, runtime.delegations.today() + timedelta(days=3))
    approved = runtime.rewards.approve(approve_me.id, DELEGATE).request
    assert (approved.decided_by, approved.decided_for) == (DELEGATE, APPROVER)
    rejected = runtime.rewards.reject(reject_me.id, DELEGATE, "not this time").request
    assert (rejected.decided_by, rejected.decided_for) == (DELEGATE, APPROVER)
    for request_id, kind in (
        (approve_me.id, "request.approved"),
        (reject_me.id, "request.rejected"),
    ):
        [decided] = [e for e in events.for_request(runtime.database, request_id) if e.kind == kind]
        assert decided.actor == DELEGATE
        assert (decided.data["decided_by"], decided.data["decided_for"]) == (DELEGATE, APPROVER)
    # An approver deciding in their own right records no one stood in for.
    own = runtime.rewards.create(REQUESTER, [gift("dev@example.com")]).request
    decided = runtime.rewards.approve(own.id, "UAPPROVER2").request
    assert (decided.decided_by, decided.decided_for) == ("UAPPROVER2", None)


def test_a_delegate_keeps_every_rule_of_an_approver(runtime: Runtime) -> None:
    runtime.delegations.set(APPROVER, DELEGATE, runtime.delegations.today())
    theirs = runtime.rewards.create(DELEGATE, [gift()]).request
    with pytest.raises(domain.SelfApproval, match="your own request"):
        runtime.rewards.approve(theirs.id, DELEGATE)
    for_them = runtime.rewards.create(
        REQUESTER, [gift("ben@example.com", recipient_id=DELEGATE)]
    ).request
    with pytest.raises(domain.SelfApproval, match="rewards you"):
        runtime.rewards.approve(for_them.id, DELEGATE)
    # Not through the delegate either: the approver's own request, a reward to the approver.
    by_approver = runtime.rewards.create(APPROVER, [gift()]).request
    with pytest.raises(domain.SelfApproval, match="stand in for the person who asked"):
        runtime.rewards.approve(by_approver.id, DELEGATE)
    for_approver = runtime.rewards.create(
        REQUESTER, [gift("alex@example.com", recipient_id=APPROVER)]
    ).request
    with pytest.raises(domain.SelfApproval, match="stand in for someone this request rewards"):
        runtime.rewards.approve(for_approver.id, DELEGATE)
    assert runtime.rewards.approve(for_approver.id, "UAPPROVER2").request.state == "approved"
    # Ended: the delegate is nobody's stand-in any more.
    plain = runtime.rewards.create(REQUESTER, [gift("dev@example.com")]).request
    runtime.delegations.off(APPROVER)
    with pytest.raises(domain.NotAnApprover, match="only the configured approvers"):
        runtime.rewards.approve(plain.id, DELEGATE)


def test_a_delegation_ends_with_its_last_day(runtime: Runtime) -> None:
    runtime.delegations.set(APPROVER, DELEGATE, runtime.delegations.today())
    request = runtime.rewards.create(REQUESTER, [gift()]).request
    assert runtime.rewards.deciders.acting_for(DELEGATE, request) == APPROVER
    tomorrow = Delegations(runtime.database, runtime.policy, clock=lambda: time.time() + 86400)
    with pytest.raises(domain.NotAnApprover):
        Deciders(runtime.policy, tomorrow).acting_for(DELEGATE, request)


def test_an_escalation_approvers_delegate_decides_only_once_escalated(
    make_runtime: Callable[..., Runtime],
) -> None:
    runtime = make_runtime(rewards_escalation_approvers=["UBOSS"])
    runtime.delegations.set("UBOSS", DELEGATE, runtime.delegations.today())
    request = runtime.rewards.create(REQUESTER, [gift()]).request
    with pytest.raises(domain.NotAnApprover, match="has not been escalated"):
        runtime.rewards.check_decider(request.id, DELEGATE)
    runtime.database.execute(
        "UPDATE requests SET escalated_at = '2026-01-01T00:00:00+00:00' WHERE id = ?",
        [request.id],
    )
    decided = runtime.rewards.approve(request.id, DELEGATE).request
    assert (decided.decided_by, decided.decided_for) == (DELEGATE, "UBOSS")
    candidates = runtime.deciders.candidates(
        runtime.rewards.create(REQUESTER, [gift("x@example.com")]).request
    )
    assert candidates == [(APPROVER, None), ("UAPPROVER2", None)]  # not escalated yet
