"""A new kind of reward is one registry entry, extra fields included.

Airport lounge access (Xoxoday sells it: xoxoday-api.md §3 row 14, getVouchers categoryType
"lounge") needs the traveller's first name, last name and departure date. Registered for this
test only, as one `RewardKind`, it is found in the /reward modal (an input per field, errors
under them), in the CSV import (a column per field, errors by line), in the order placed at
the simulator (userMeta), in the recipient's message and in the Workflow Builder step (an input per field, named in its
refusals), and the catalog keeps its product, whose productMeta requires those fields: nothing
else was told about it.
"""

from __future__ import annotations

from datetime import date

import pytest

from bot.local import LocalStack
from handlers import dm_messages
from handlers.workflow_steps import StepRefused, send_reward
from services import bulk, reward_types
from services.reward_types import KINDS, Detail, Registry, RewardKind
from services.xoxoday.models import GiftCardOrder
from simulator.xoxoday.catalog import DXB_LOUNGE
from storage import orders as order_store
from tests.support import SimControl, wait_for


def _iso_date(text: str) -> str:
    try:
        return date.fromisoformat(text).isoformat()
    except ValueError:
        raise ValueError("write the date like 2026-12-24") from None


def _name(order_key: str, label: str, column: str) -> Detail:
    return Detail(
        field=f"{column[0].lower()}{column[1:]}".replace("Name", "_name"),
        label=label,
        hint="As on the boarding pass.",
        placeholder="",
        missing=f"Enter the traveller's {label.lower()}.",
        csv_columns=(column,),
        order_key=order_key,
        max_length=60,
    )


LOUNGE = RewardKind(
    key="lounge",
    label="Airport lounge",
    summary="Access to an airport lounge (one traveller).",
    product_label="Lounge",
    category_type="lounge",
    order_model=GiftCardOrder,
    one_recipient=True,
    details=(
        _name("firstName", "First name", "firstName"),
        _name("lastName", "Last name", "lastName"),
        Detail(
            field="departure_date",
            label="Departure date",
            hint="The day of the flight (YYYY-MM-DD).",
            placeholder="2026-12-24",
            missing="Enter the departure date.",
            csv_columns=("departureDate",),
            order_key="departureDate",
            parse=_iso_date,
        ),
    ),
    codes=True,
    delivered="Lounge access for {first_name} {last_name} on {departure_date}: {reward}.",
)
TRAVELLER = {"first_name": "Ben", "last_name": "Okafor", "departure_date": "2026-12-24"}
USER_META = {"firstName": "Ben", "lastName": "Okafor", "departureDate": "2026-12-24"}


@pytest.fixture
def lounge(monkeypatch: pytest.MonkeyPatch) -> RewardKind:
    monkeypatch.setattr(reward_types, "REGISTRY", Registry((*KINDS, LOUNGE)))
    return LOUNGE


def test_the_fields_are_named_as_the_entry_says() -> None:
    assert [d.field for d in LOUNGE.details] == ["first_name", "last_name", "departure_date"]


def _placed_at_the_simulator(xo: SimControl, po_number: str) -> dict:
    wait_for(lambda: any(o["poNumber"] == po_number for o in xo.orders()))
    return next(o for o in xo.orders() if o["poNumber"] == po_number)


def test_a_lounge_kind_is_one_entry_everywhere(
    lounge: RewardKind, stack: LocalStack, xo: SimControl
) -> None:
    runtime = stack.bot.runtime
    # Its category, asked of Xoxoday; the lounge's productMeta requires the traveller's
    # firstName, lastName and departureDate, which the entry's details give: it is offered.
    assert runtime.catalog.refresh()["lounge"] == 1

    # The modal: an input per field, an error under the one typed wrong, then a request.
    view_id = stack.open_form("UREQUESTER")
    stack.choose("UREQUESTER", view_id, "lounge", DXB_LOUNGE)
    blocks = {b.get("block_id"): b for b in stack.slack.view(view_id)["blocks"]}
    for detail in lounge.details:
        assert blocks[detail.field]["label"]["text"] == detail.label
    assert blocks["product"]["label"]["text"] == "Lounge"
    stack.driver.fill(view_id, "denomination_choice", "denomination_choice", "35")
    stack.driver.fill(view_id, "recipients", "recipients", ["UBEN"])
    stack.driver.fill(view_id, "first_name", "first_name", "Ben")
    stack.driver.fill(view_id, "last_name", "last_name", "Okafor")
    stack.driver.fill(view_id, "departure_date", "departure_date", "24/12/2026")
    refused = stack.driver.submit("UREQUESTER", view_id).json()
    assert refused["errors"] == {"departure_date": "write the date like 2026-12-24"}
    stack.driver.fill(view_id, "departure_date", "departure_date", "2026-12-24")
    assert stack.driver.submit("UREQUESTER", view_id).status_code == 200
    wait_for(lambda: runtime.rewards.recorded(f"slack:view:{view_id}") is not None)
    decision = runtime.rewards.recorded(f"slack:view:{view_id}")
    assert decision is not None
    [order] = decision.orders
    assert (order.reward_type, order.details) == ("lounge", TRAVELLER)

    # The recipient reads the entry's sentence, with the fields filled in.
    [(_, message)] = dm_messages.recipient_delivered(order, decision.request, [])
    assert "Lounge access for Ben Okafor on 2026-12-24: " in message[0]["text"]["text"]

    # The order placed at the simulator carries them as userMeta.
    runtime.rewards.approve(decision.request.id, "UAPPROVER")
    placed = _placed_at_the_simulator(xo, order.po_number)
    assert placed["userMeta"] == USER_META

    # The CSV import: a column per field, a missing one named by line.
    assert {"firstName", "lastName", "departureDate"} <= set(bulk.optional_columns())
    header = "productId,denomination,email,firstName,lastName,departureDate\n"
    with pytest.raises(bulk.BulkImportError) as bad:
        bulk.import_csv(runtime.rewards, header + f"{DXB_LOUNGE},35,ana@example.com,Ana,,\n", "ops")
    assert [str(e) for e in bad.value.errors] == [
        "line 2: Enter the traveller's last name.",
        "line 2: Enter the departure date.",
    ]
    row = f"{DXB_LOUNGE},60,ana@example.com,Ana,Silva,2027-01-05\n"
    imported = bulk.import_csv(runtime.rewards, header + row, "ops")
    [csv_order] = imported.orders
    assert csv_order.details == {
        "first_name": "Ana",
        "last_name": "Silva",
        "departure_date": "2027-01-05",
    }
    placed = _placed_at_the_simulator(xo, csv_order.po_number)
    assert placed["userMeta"] == {
        "firstName": "Ana",
        "lastName": "Silva",
        "departureDate": "2027-01-05",
    }

    # The Workflow Builder step: an input per field, named in its refusal.
    inputs = {
        "recipient": "UBEN",
        "reward_type": "lounge",
        "product_id": DXB_LOUNGE,
        "amount": 35,
        "runner": {"id": "UREQUESTER"},
        "first_name": "Ben",
        "departure_date": "2026-12-24",
    }
    with pytest.raises(StepRefused, match=r"^Last name: Enter the traveller's last name\.$"):
        send_reward(stack.bot.deps, "Fx-lounge-1", inputs)
    outputs = send_reward(stack.bot.deps, "Fx-lounge-2", {**inputs, "last_name": "Okafor"})
    assert outputs["state"] == "pending_approval"
    [step_order] = order_store.for_request(runtime.database, int(outputs["request_ref"][2:]))
    assert step_order.details == TRAVELLER
