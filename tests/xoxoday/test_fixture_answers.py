"""Xoxoday's captured and documented answers, served byte for byte, read by the real client.

Each file of tests/fixtures/xoxoday (sources in its README) is sent unchanged by a loopback
HTTP server standing in for Xoxoday; the client talks to it over HTTP exactly as it would to
stagingstores.xoxoday.com. The rows refer to xoxoday-api.md §12.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from plumbing.httpserver import ServerThread
from plumbing.jsonutil import loads
from plumbing.wsgi import Request, respond
from services.reward_types import build_order
from services.xoxoday import XoxodayClient
from services.xoxoday import errors as E
from services.xoxoday.models import Product
from tests.support import make_client

FIXTURES = Path(__file__).parent.parent / "fixtures" / "xoxoday"


def body(name: str) -> bytes:
    return (FIXTURES / name).read_bytes()


@dataclass
class FixtureServer:
    """Answers each request with the next queued (status, bytes) for its kind: "api" for
    /chef/v1/oauth/api, "token" for the token endpoint. Records what it was sent."""

    queues: dict[str, deque[tuple[int, bytes, str]]] = field(
        default_factory=lambda: {"api": deque(), "token": deque()}
    )
    seen: list[tuple[str, str, Any, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    url: str = ""

    def answer(self, kind: str, name: str, status: int = 200) -> None:
        content_type = "text/html" if name.endswith(".html") else "application/json"
        with self.lock:
            self.queues[kind].append((status, body(name), content_type))

    def requests(self, kind: str) -> list[tuple[str, str, Any, str]]:
        return [r for r in self.seen if r[0] == kind]

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        req = Request.from_environ(environ)
        kind = "token" if "/oauth/token" in req.path else "api"
        with self.lock:
            self.seen.append(
                (
                    kind,
                    req.path,
                    loads(req.body) if req.body else None,
                    req.headers.get("authorization", ""),
                )
            )
            queue = self.queues[kind]
            status, data, content_type = (
                queue.popleft() if queue else (500, b"{}", "application/json")
            )
        return respond(start_response, status, data, content_type)


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[ServerThread, FixtureServer]]:
    app = FixtureServer()
    thread = ServerThread(app, port=0, threads=2).start()
    app.url = thread.url + "/chef"
    yield thread, app
    thread.stop()


@pytest.fixture
def xoxoday(server: tuple[ServerThread, FixtureServer]) -> FixtureServer:
    _, app = server
    with app.lock:
        for queue in app.queues.values():
            queue.clear()
        app.seen.clear()
    return app


@pytest.fixture
def client(xoxoday: FixtureServer) -> Iterator[XoxodayClient]:
    with make_client(xoxoday.url, default_penalty_s=1.0) as c:
        yield c


def staging_products(client: XoxodayClient, xoxoday: FixtureServer) -> dict[int, Product]:
    xoxoday.answer("api", "staging_getVouchersResponse.json")
    return {p.product_id: p for p in client.get_vouchers()}


def amazon_order(po: str = "PO-FIXTURE", denomination: str = "25") -> Any:
    return build_order(
        "gift_card", product_id=27222, denomination=denomination, po_number=po, email="a@b.co"
    )


# --- row 1: exchangeRate null, exchangeRateRule an INR rate --------------------------------------


def test_row01_staging_catalog_has_no_rate_and_wallet_currency_products_cost_face_value(
    client: XoxodayClient, xoxoday: FixtureServer
) -> None:
    products = staging_products(client, xoxoday)
    assert len(products) == 10
    [request] = xoxoday.requests("api")
    # We ask; the fixture was captured by a client that did not yet (§13 row 1): a rate may
    # be missing, and the face-value rule covers it.
    assert request[2]["variables"]["data"]["exchangeRate"] == 1
    assert all(p.exchange_rate is None for p in products.values())
    lowes = products[27218]
    assert lowes.exchange_rate_rule == Decimal("0.014089")  # an INR rate: never used
    assert lowes.wallet_cost(Decimal(25), 2, "USD") == Decimal("50.00")
    assert lowes.wallet_cost(Decimal(25), 1, "EUR") is None  # no rate, other currency
    assert lowes.value_denominations == [Decimal(10), Decimal(25), Decimal(50)]


# --- row 2: the balance is points -------------------------------------------------------------


def test_row02_staging_balance_is_points_not_the_inr_value(
    client: XoxodayClient, xoxoday: FixtureServer
) -> None:
    xoxoday.answer("api", "staging_getBalanceResponse.json")
    balance = client.get_balance()
    assert (balance.amount, balance.currency) == (Decimal(9944), "USD")
    assert balance.value == Decimal(705798)  # documented as INR; 71× the real balance


def test_row02_documented_balance_without_points_reads_value(
    client: XoxodayClient, xoxoday: FixtureServer
) -> None:
    xoxoday.answer("api", "doc_getBalance_valueOnly.json")
    balance = client.get_balance()
    assert (balance.amount, balance.currency) == (Decimal("5870.02"), "INR")


# --- orders as captured and documented -------------------------------------------------------


def test_staging_place_order_answer(client: XoxodayClient, xoxoday: FixtureServer) -> None:
    amazon = staging_products(client, xoxoday)[27222]
    xoxoday.answer("api", "staging_placeOrderResponse.json")
    order = client.place_order(amazon_order(), amazon)
    assert (order.order_id, order.amount_charged, order.delivery) == (
        6214194,
        Decimal(25),
        "delivered",
    )
    assert order.order_discount is None and order.discount_percent is None  # "" in the answer
    assert order.vouchers[0].voucher_code.get_secret_value() == "DEMO-1623981634745-pvya7e"


def test_documented_place_order_answers(client: XoxodayClient, xoxoday: FixtureServer) -> None:
    amazon = staging_products(client, xoxoday)[27222]
    xoxoday.answer("api", "doc_placeOrder_workflow.json")
    xoxoday.answer("api", "doc_placeOrder_firstReward.json")
    workflow = client.place_order(amazon_order("PO-1"), amazon)
    first = client.place_order(amazon_order("PO-2"), amazon)
    assert (workflow.order_id, workflow.delivery, workflow.vouchers[0].type) == (
        6474256,
        "delivered",
        "codePin",
    )
    assert (first.amount_charged, first.discount_percent, first.vouchers[0].is_link) == (
        Decimal("8.79"),
        Decimal(0),
        True,
    )


def test_staging_order_details_with_a_url_voucher_and_a_pin(
    client: XoxodayClient, xoxoday: FixtureServer
) -> None:
    xoxoday.answer("api", "staging_getOrderDetailsResponse.json")
    order = client.get_order_details(order_id=555555)
    assert (order.delivery, order.amount_charged, order.order_discount) == (
        "delivered",
        Decimal("11.18"),
        Decimal("0.35"),
    )
    voucher = order.vouchers[0]
    assert voucher.is_link and voucher.pin.get_secret_value() == "727676"


def test_documented_order_details_complete_but_pending(
    client: XoxodayClient, xoxoday: FixtureServer
) -> None:
    xoxoday.answer("api", "doc_getOrderDetails_pending.json")
    order = client.get_order_details(po_number="PO123")
    assert order.order_status == "complete" and order.delivery == "pending"
    assert order.vouchers[0].amount == Decimal(10)  # "10" in the answer


def test_payment_report_answers_under_its_other_name(
    client: XoxodayClient, xoxoday: FixtureServer
) -> None:
    xoxoday.answer("api", "doc_paymentHistory_getPaymentReport.json")
    rows = client.payment_history(date(2023, 5, 1), date(2023, 6, 30))
    assert [r.closing_balance for r in rows] == [Decimal(97690), Decimal(100000)]


# --- row 9: an answer under another operation's key is an error ---------------------------------


def test_row09_history_example_keyed_get_order_details_is_malformed_not_a_row(
    client: XoxodayClient, xoxoday: FixtureServer
) -> None:
    xoxoday.answer("api", "doc_getOrderHistory_mislabelled.json")
    with pytest.raises(E.MalformedResponse):
        client.get_order_history(date(2012, 7, 25), date(2012, 7, 28))


def test_row09_a_list_operation_answering_one_object_is_malformed(
    client: XoxodayClient, xoxoday: FixtureServer
) -> None:
    # getOrderDetails' body under getVouchers' name would otherwise be read as vouchers.
    text = body("doc_getOrderHistory_mislabelled.json").replace(b"getOrderDetails", b"getVouchers")
    with xoxoday.lock:
        xoxoday.queues["api"].append((200, text, "application/json"))
    with pytest.raises(E.MalformedResponse):
        client.get_vouchers()


# --- row 4: both operator lookup shapes ----------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "operator", "product"),
    [
        ("doc_lookupMobileNumber_spec.json", "AT&T", 55132),
        ("doc_lookupMobileNumber_fieldTable.json", "Airtel", 55132),
    ],
)
def test_row04_operator_lookup_in_either_documented_shape(
    client: XoxodayClient, xoxoday: FixtureServer, name: str, operator: str, product: int
) -> None:
    xoxoday.answer("api", name)
    found = client.lookup_mobile_number("+919857535678")
    assert (found.operator, found.parent_product_id, found.is_active) == (operator, product, True)


def test_row04_operator_lookup_failure_is_a_typed_error(
    client: XoxodayClient, xoxoday: FixtureServer
) -> None:
    xoxoday.answer("api", "doc_lookupMobileNumber_fieldTable_failure.json")
    with pytest.raises(E.MobileLookupFailed, match="Operator not found"):
        client.lookup_mobile_number("+442071234567")


# --- row 5: both token-error shapes refresh once, then retry once ------------------------------


@pytest.mark.parametrize("refusal", ["doc_auth_tokenError.json", "doc_auth_invalidToken.json"])
def test_row05_token_refusal_refreshes_once_and_retries_once(
    client: XoxodayClient, xoxoday: FixtureServer, refusal: str
) -> None:
    xoxoday.answer("api", refusal, status=401)
    xoxoday.answer("token", "staging_accessTokenResponse.json")
    xoxoday.answer("api", "staging_getBalanceResponse.json")
    assert client.get_balance().amount == Decimal(9944)
    calls = xoxoday.requests("api")
    assert len(calls) == 2 and len(xoxoday.requests("token")) == 1
    assert calls[1][3] == "Bearer SOME-FAKE-ACCESS-TOKEN="  # the refreshed token was used
    tokens = client.tokens.current()
    assert tokens.refresh_token == "SOME-FAKE-REFRESH-TOKEN"
    assert tokens.access_expires_at is not None  # "expires_in": "1296000", a string


def test_row05_token_error_at_another_4xx_status_also_refreshes(
    client: XoxodayClient, xoxoday: FixtureServer
) -> None:
    xoxoday.answer("api", "doc_auth_tokenError.json", status=400)
    xoxoday.answer("token", "staging_accessTokenResponse.json")
    xoxoday.answer("api", "staging_getBalanceResponse.json")
    assert client.get_balance().amount == Decimal(9944)


def test_row05_refused_again_after_the_refresh_is_an_auth_error(
    client: XoxodayClient, xoxoday: FixtureServer
) -> None:
    xoxoday.answer("api", "doc_auth_tokenError.json", status=401)
    xoxoday.answer("token", "staging_accessTokenResponse.json")
    xoxoday.answer("api", "doc_auth_tokenError.json", status=401)
    with pytest.raises(E.AuthError, match=r"auth\.token_error"):
        client.get_balance()
    assert len(xoxoday.requests("token")) == 1  # once, not in a loop


# --- row 6: the refresh rate limit is a wait, at any status ------------------------------------


@pytest.mark.parametrize("status", [429, 400, 401, 200])
def test_row06_refresh_rate_limit_is_rate_limited_never_bad_credentials(
    client: XoxodayClient, xoxoday: FixtureServer, status: int
) -> None:
    xoxoday.answer("api", "doc_auth_invalidToken.json", status=401)
    xoxoday.answer("token", "doc_auth_requestLimitExceeded.json", status=status)
    with pytest.raises(E.RateLimited) as info:
        client.get_balance()
    assert not isinstance(info.value, E.AuthError)
    assert "CLIENT_ID" not in str(info.value) and info.value.retry_after == 1.0
    with pytest.raises(E.RateLimited):  # held back: no second refresh inside the penalty
        client.tokens.refresh()
    assert len(xoxoday.requests("token")) == 1


def test_row06_rate_limit_shapes_on_a_call(client: XoxodayClient, xoxoday: FixtureServer) -> None:
    xoxoday.answer("api", "doc_rateLimit_errors.json", status=429)
    with pytest.raises(E.RateLimited) as info:
        client.get_balance()
    assert info.value.retry_after == 60
    xoxoday.answer("api", "doc_auth_requestLimitExceeded.json", status=200)
    with pytest.raises(E.RateLimited):
        client.get_filters()


# --- row 7: PLE10010 is ambiguous, not a final refusal -----------------------------------------


def test_row07_ple10010_is_an_ambiguous_refusal(
    client: XoxodayClient, xoxoday: FixtureServer
) -> None:
    amazon = staging_products(client, xoxoday)[27222]
    xoxoday.answer("api", "doc_placeOrder_PLE10010.json", status=422)
    with pytest.raises(E.AmbiguousRefusal) as info:
        client.place_order(amazon_order(), amazon)
    assert isinstance(info.value, E.InsufficientBalance) and info.value.error_id == "PLE10010"


# --- row 8: a gateway's HTML 504 on placeOrder is an unknown outcome ---------------------------


def test_row08_gateway_504_html_on_place_order_is_outcome_unknown(
    client: XoxodayClient, xoxoday: FixtureServer
) -> None:
    amazon = staging_products(client, xoxoday)[27222]
    xoxoday.answer("api", "gateway_504.html", status=504)
    with pytest.raises(E.OutcomeUnknown) as info:
        client.place_order(amazon_order(), amazon)
    assert info.value.http_status == 504
    assert len(xoxoday.requests("api")) == 2  # the catalog, then one placeOrder: no retry


def test_row05_an_application_refusal_at_401_is_not_a_token_problem(
    client: XoxodayClient, xoxoday: FixtureServer
) -> None:
    amazon = staging_products(client, xoxoday)[27222]
    refusal = (  # the error table's PLE10019 row, in the application error shape
        b'{"code":401,"errorId":"PLE10019","errorInfo":"Clients are not allowed to place '
        b'international orders","error":"Clients are not allowed to place international orders"}'
    )
    with xoxoday.lock:
        xoxoday.queues["api"].append((401, refusal, "application/json"))
    with pytest.raises(E.InternationalOrdersNotAllowed):
        client.place_order(amazon_order(), amazon)
    assert xoxoday.requests("token") == []  # no refresh for it
