"""The controls that make Xoxoday's books disagree with the bot's record, for the audit:
an order placed by hand (orphan), a charge Xoxoday changed, a top-up, an order it lost."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from plumbing.jsonutil import loads
from simulator.xoxoday import catalog
from tests.simulator.conftest import Api


def today() -> date:
    return datetime.now(UTC).date()  # the simulator dates orders in UTC


def history(api: Api, day: date | None = None) -> list[dict]:
    day = day or today()
    return api.ok("getOrderHistory", {"startDate": str(day), "endDate": str(day), "limit": 50})


def payments(api: Api, day: date | None = None) -> list[dict]:
    day = day or today()
    body = {
        "query": "plumProAPI.mutation.paymentHistory",
        "tag": "plumProAPI",
        "data": {"data": {"startDate": str(day), "endDate": str(day)}},
    }
    response = api.post("/chef/v1/oauth/api", body)
    assert response.status_code == 200, response.text
    return loads(response.content)["data"]["getPaymentReport"]["data"]


def test_an_orphan_placed_by_hand_on_a_given_day_is_charged_and_listed(api: Api) -> None:
    yesterday = today() - timedelta(days=1)
    made = api.sim_post(
        "orphan",
        {
            "productId": catalog.AMAZON_US,
            "denomination": 50,
            "poNumber": "BY-HAND-1",
            "orderDate": f"{yesterday} 10:00:00",
        },
    )["order"]
    assert made["createdAt"] == f"{yesterday} 10:00:00"
    [listed] = history(api, yesterday)
    assert (listed["poNumber"], listed["amountCharged"]) == ("BY-HAND-1", 49)
    empty = {"startDate": str(today()), "endDate": str(today())}
    api.error("getOrderHistory", empty, 404, "PLE10022")  # nothing today
    issued = [r for r in payments(api, yesterday) if r["reason"] == "Brand Voucher(s) Issued"]
    assert [r["adjusted_amount"] for r in issued] == [49]
    assert api.balance() == 9951


def test_an_orphan_is_refused_as_placeOrder_would_refuse_it(api: Api) -> None:
    body = api.sim_post(
        "orphan", {"productId": catalog.AMAZON_US, "denomination": 11, "poNumber": "X"}, 400
    )
    assert body["errorId"] == "PLE10018"
    api.sim_post(
        "orphan", {"productId": catalog.AMAZON_US, "denomination": 10, "orderDate": "x"}, 400
    )


def test_a_changed_charge_shows_in_history_details_and_the_payment_report(api: Api) -> None:
    api.order(poNumber="C-1")  # 10 USD, 2 % off: 9.80
    api.order(poNumber="C-2")
    api.sim_post("charge", {"poNumber": "C-1", "amountCharged": "12.30"})
    charged = {h["poNumber"]: h["amountCharged"] for h in history(api)}
    assert charged == {"C-1": Decimal("12.3"), "C-2": Decimal("9.8")}
    assert api.ok("getOrderDetails", {"poNumber": "C-1"})["amountCharged"] == Decimal("12.3")
    rows = payments(api)  # newest first; the opening funds are 30 days old
    assert [r["adjusted_amount"] for r in rows] == [Decimal("9.8"), Decimal("12.3")]
    assert [r["closing_balance"] for r in rows] == [Decimal("9977.9"), Decimal("9987.7")]
    assert api.balance() == Decimal("9977.9")
    api.sim_post("charge", {"poNumber": "NOPE", "amountCharged": 1}, 404)
    api.sim_post("charge", {"poNumber": "C-1", "amountCharged": -1}, 400)


def test_a_topup_is_funds_added(api: Api) -> None:
    assert api.sim_post("topup", {"amount": 5000})["balance"] == 15000
    rows = payments(api)
    assert (rows[0]["reason"], rows[0]["adjusted_amount"], rows[0]["closing_balance"]) == (
        "Funds added",
        5000,
        15000,
    )
    api.sim_post("topup", {"amount": 0}, 400)


def test_a_forgotten_order_is_gone_from_details_and_history(api: Api) -> None:
    api.order(poNumber="F-1")
    api.order(poNumber="F-2")
    api.sim_post("forget", {"poNumber": "F-1"})
    api.error("getOrderDetails", {"poNumber": "F-1"}, 404, "PLE10016")
    assert [h["poNumber"] for h in history(api)] == ["F-2"]
    assert len(payments(api)) == 2  # the charge stays in the payment report
