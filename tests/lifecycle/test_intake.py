"""The one intake (services/intake.py), against the simulator's catalog and a real SQLite file:
errors come back by field name and line, the product is looked up once per line, and a
request is recorded once per idempotency key."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal

import pytest

from bot.runtime import Runtime
from services.intake import Ask, Field, FieldError, Intake, Line, Source
from storage import orders as order_store
from tests.lifecycle.conftest import REQUESTER


@dataclass(frozen=True)
class Person:
    id: str
    name: str
    email: str | None
    is_bot: bool = False
    deleted: bool = False


@dataclass
class Found:
    users: dict[str, Person]
    late: list[str] = field(default_factory=list)


class Directory:
    """The Members port over a fixed list of people (the Slack side is tested end to end in
    tests/slack/; here the intake's own rules are)."""

    def __init__(self, *people: Person, late: tuple[str, ...] = ()) -> None:
        self.people = {p.id: p for p in people}
        self.late = list(late)
        self.asked: list[list[str]] = []

    def lookup(self, user_ids: list[str]) -> Found:
        self.asked.append(list(user_ids))
        return Found({u: self.people[u] for u in user_ids if u in self.people}, self.late)

    def known(self, user_id: str) -> Person | None:
        return self.people.get(user_id)


PEOPLE = Directory(
    Person(REQUESTER, "Riya", "riya@example.com"),
    Person("UANA", "Ana", "ana@example.com"),
    Person("UBEN", "Ben", "ben@example.com"),
    Person("UNOMAIL", "Noor", None),
    Person("UBOT", "Helper", "bot@example.com", is_bot=True),
)


def ask(*lines: Line, **extra: object) -> Ask:
    values: dict[str, object] = {
        "requester_id": REQUESTER,
        "source": Source.SLACK,
        "idempotency_key": None,
        **extra,
    }
    return Ask(lines=list(lines), **values)  # type: ignore[arg-type]


def test_errors_are_named_by_field(runtime: Runtime) -> None:
    intake = Intake(runtime.rewards, members=PEOPLE)
    assert intake.check(ask(Line(product_id=None, amount="25", members=["UANA"]))) == (
        FieldError(Field.PRODUCT, "Choose what to send.", 0),
    )
    found = intake.check(
        ask(Line(product_id=15365, amount="1,5", reward_type="airmiles", members=["UANA", "UBEN"]))
    )
    assert {(e.field, e.line) for e in found} == {
        (Field.AMOUNT, 0),
        (Field.RECIPIENTS, 0),
        ("loyalty_member_id", 0),
    }
    assert intake.check(
        ask(Line(product_id=15365, amount="50", reward_type="gift_card", members=["UANA"]))
    ) == (
        FieldError(
            Field.PRODUCT,
            "Emirates Skywards Miles (15365) is listed under Airline miles, not Gift card.",
            0,
        ),
    )
    people = intake.check(
        ask(Line(product_id=27222, amount="25", members=["UNOMAIL", "UBOT", "UGONE"]))
    )
    assert [e.field for e in people] == [Field.RECIPIENTS]
    assert people[0].message == (
        "Noor has no email the bot can see (it is needed for the order); Helper is a bot; "
        "<@UGONE> is not an active member of this workspace"
    )
    priced = intake.check(ask(Line(product_id=27222, amount="30", members=["UANA"])))
    assert priced == (
        FieldError(Field.AMOUNT, "Amazon.com eGift Card comes in 10, 25, 50, 100 USD, not 30", 0),
    )
    phone = intake.check(
        ask(Line(product_id=27222, amount="25", reward_type="topup", members=["UANA"]))
    )
    assert Field.PRODUCT in {e.field for e in phone}  # a gift card is not a top-up plan


def test_each_line_is_checked_on_its_own_and_errors_keep_their_line(runtime: Runtime) -> None:
    intake = Intake(runtime.rewards)
    lines = [
        Line(product_id=27222, amount=Decimal(25), email="ana@example.com"),
        Line(product_id=27222, amount=Decimal(30), email="ben@example.com"),
        Line(product_id=15365, amount=Decimal(50), email="cy@example.com"),
        Line(product_id=999999, amount=Decimal(5), email="dee@example.com"),
    ]
    found = intake.check(ask(*lines, source=Source.CSV, may_wait=True))
    assert [(e.line, e.field) for e in found] == [
        (1, Field.AMOUNT),
        (2, "loyalty_member_id"),
        (3, Field.PRODUCT),
    ]


def test_the_product_is_looked_up_once_per_line(
    runtime: Runtime, monkeypatch: pytest.MonkeyPatch
) -> None:
    looked_up: list[int] = []
    product = runtime.catalog.product

    def counted(product_id: int, **kwargs: object) -> object:
        looked_up.append(product_id)
        return product(product_id, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(runtime.catalog, "product", counted)
    intake = Intake(runtime.rewards, members=PEOPLE)
    line = Line(product_id=27222, amount="25", reward_type="gift_card", members=["UANA", "UBEN"])
    submitted = intake.submit(ask(line, idempotency_key="test:once"))
    assert submitted.errors == () and submitted.decision is not None
    assert looked_up == [27222]  # two recipients, one line: one lookup, checks and record
    assert len(submitted.decision.orders) == 2
    assert submitted.decision.request.requester_name == "Riya"


def test_a_repeated_key_is_the_request_recorded_first(runtime: Runtime) -> None:
    intake = Intake(runtime.rewards, members=PEOPLE)
    line = Line(product_id=27222, amount="25", members=["UANA"])
    first = intake.submit(ask(line, idempotency_key="test:repeat"))
    again = intake.submit(ask(line, idempotency_key="test:repeat"))
    assert first.decision is not None and again.decision is not None
    assert again.decision.request.id == first.decision.request.id
    assert len(order_store.for_request(runtime.database, first.decision.request.id)) == 1


def test_slack_slow_to_answer_records_nothing(runtime: Runtime) -> None:
    slow = Directory(*PEOPLE.people.values(), late=("UANA",))
    submitted = Intake(runtime.rewards, members=slow).submit(
        ask(Line(product_id=27222, amount="25", members=["UANA"]), idempotency_key="test:slow")
    )
    assert submitted.decision is None
    assert submitted.errors[0].field == Field.RECIPIENTS
    assert "Slack was slow to tell me about 1 of the recipients" in submitted.errors[0].message
    assert runtime.rewards.recorded("test:slow") is None


def test_the_policy_refuses_by_field(make_runtime: object) -> None:
    runtime = make_runtime(rewards_max_order="20")  # type: ignore[operator]
    submitted = Intake(runtime.rewards, members=PEOPLE).submit(
        ask(Line(product_id=27222, amount="25", members=["UANA"]), idempotency_key="test:max")
    )
    assert submitted.decision is None
    assert [(e.field, e.line) for e in submitted.errors] == [(Field.AMOUNT, None)]
