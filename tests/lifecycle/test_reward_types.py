"""The reward-type registry is the one place that says what each kind of reward needs.

The modal, the services, the catalog, the CSV import and the recipient's message read it, so a
new kind (Xoxoday also sells lounge access, xoxoday-api.md §3 row 14) is one entry: the test
below adds one and finds it everywhere, against the simulator and a real SQLite file.
"""

from __future__ import annotations

import dataclasses
import re
from decimal import Decimal
from pathlib import Path

import pytest

from bot.runtime import Runtime
from handlers import dm_messages
from handlers.metadata import RewardModalMeta
from handlers.views import reward_modal
from services import bulk, reward_types
from services.reward_types import KINDS, Registry, RewardKind, kind
from services.rewards import RewardSpec, order_request
from services.xoxoday.models import GiftCardOrder
from tests.slack.test_blocks import order, request

ROOT = Path(__file__).resolve().parents[2]

LOUNGE = RewardKind(
    key="lounge",
    label="Airport lounge",
    summary="Access to an airport lounge (one recipient).",
    product_label="Lounge",
    category_type="lounge",
    order_model=GiftCardOrder,
    one_recipient=True,
    codes=True,
    delivered="Lounge access: {reward}.",
)


@pytest.fixture
def with_lounge(monkeypatch: pytest.MonkeyPatch) -> RewardKind:
    monkeypatch.setattr(reward_types, "REGISTRY", Registry((*KINDS, LOUNGE)))
    return LOUNGE


def test_every_kind_is_complete_and_distinct() -> None:
    assert len({k.key for k in KINDS}) == len(KINDS)
    fetched = [k for k in KINDS if k.has_catalog]  # a choice's products are another kind's
    assert len({k.category_type for k in fetched}) == len(fetched)
    for each in KINDS:
        assert each.chooses_from is None or kind(each.chooses_from).has_catalog
    assert len({k.label for k in KINDS}) == len(KINDS)
    for each in KINDS:
        assert len(each.label) <= 75  # a static_select option
        for detail in each.details:
            # Typed by the kind's order model, or sent as userMeta under its order key.
            assert detail.field in each.order_model.model_fields or detail.order_key
            assert detail.csv_columns and detail.label and detail.missing


def test_an_unknown_kind_is_refused_by_name_or_falls_back_where_a_client_sent_it() -> None:
    with pytest.raises(KeyError, match="unknown reward type 'lounge'"):
        kind("lounge")
    assert RewardModalMeta.load('{"reward_type": "<!channel>"}').reward_type == KINDS[0].key
    assert RewardModalMeta().reward_type == KINDS[0].key


def test_no_module_compares_reward_type_names_outside_the_registry() -> None:
    """One fact, one place: branching on a kind's name elsewhere is how the six copies began."""
    names = "|".join(re.escape(k.key) for k in KINDS)
    branching = re.compile(rf"""(==|!=|\bin\b)\s*\(?\s*["'](?:{names})["']""")
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("bot", "handlers", "services")
        for path in sorted((ROOT / folder).rglob("*.py"))
        if path.name != "reward_types.py"
        for number, line in enumerate(path.read_text().splitlines(), 1)
        if branching.search(line)
    ]
    assert offenders == []


def test_a_new_kind_is_one_entry(with_lounge: RewardKind, runtime: Runtime) -> None:
    # The modal offers it, and follows it once chosen.
    types = reward_modal(RewardModalMeta())["blocks"][0]["element"]["options"]
    assert "lounge" in [option["value"] for option in types]
    modal = reward_modal(RewardModalMeta(reward_type="lounge"))
    blocks = {block.get("block_id"): block for block in modal["blocks"]}
    assert blocks["reward_type"]["hint"]["text"] == LOUNGE.summary
    assert blocks["product"]["label"]["text"] == "Lounge"
    assert blocks["recipients"]["element"]["max_selected_items"] == 1
    assert "loyalty_member_id" not in blocks and "phone" not in blocks

    # The catalog asks Xoxoday for its category. The simulator's one lounge requires the
    # traveller's name and departure date, which this entry does not collect, so it is left
    # out (tests/slack/test_new_kind.py's entry collects them and keeps it).
    counts = runtime.catalog.refresh()
    assert counts["lounge"] == 0
    assert set(counts) == {k.key for k in reward_types.catalog_kinds()} >= {"lounge"}

    # Its orders take the shape the entry names, and no other kind's detail.
    spec = RewardSpec(
        product_id=27222,
        denomination=Decimal(25),
        email="ana@example.com",
        details={"loyalty_member_id": "EK-1", "phone": "+919857535678"},
    )
    order = order_request("lounge", spec, "RB-TEST-1")
    assert type(order) is GiftCardOrder
    assert "userMeta" not in order.payload()

    # The recipient reads the entry's sentence.
    assert "Lounge access: *" in _delivered_text("lounge")


def test_csv_columns_come_from_the_kinds_details(monkeypatch: pytest.MonkeyPatch) -> None:
    assert bulk.optional_columns()[1:4] == ("loyaltyMemberId", "topupPhoneCode", "topupPhoneNumber")
    member = dataclasses.replace(reward_types.LOYALTY_ID, csv_columns=("memberNumber",))
    airmiles = dataclasses.replace(kind("airmiles"), details=(member,))
    others = tuple(k for k in KINDS if k.key != "airmiles")
    monkeypatch.setattr(reward_types, "REGISTRY", Registry((airmiles, *others)))
    assert "memberNumber" in bulk.optional_columns()
    assert "loyaltyMemberId" not in bulk.optional_columns()


def _delivered_text(reward_type: str) -> str:
    _text, blocks = dm_messages.recipient_delivered(
        order(1, "delivered", reward_type=reward_type), request("approved"), []
    )[0]
    return blocks[0]["text"]["text"]
