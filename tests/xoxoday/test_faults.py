"""Every simulator fault kind, and every business refusal, as the typed error the client raises."""

from __future__ import annotations

import socket
from decimal import Decimal

import pytest

from services.reward_types import build_order
from services.xoxoday import XoxodayClient
from services.xoxoday import errors as E
from services.xoxoday.models import Product
from tests.support import SimControl, make_client


@pytest.fixture
def amazon(client: XoxodayClient) -> Product:
    return client.get_vouchers(include_products=[27222])[0]


def gift(po: str, denomination: str = "10", **extra: object):
    return build_order(
        "gift_card",
        product_id=27222,
        denomination=denomination,
        po_number=po,
        email="x@example.com",
        **extra,
    )


def test_http_500_after_commit_is_outcome_unknown_and_the_order_exists(
    client: XoxodayClient, xo: SimControl, amazon: Product
) -> None:
    xo.fault("placeOrder", "http_500_after_commit")
    with pytest.raises(E.OutcomeUnknown) as info:
        client.place_order(gift("PO-500A"), amazon)
    assert info.value.http_status == 500
    assert client.get_order_details(po_number="PO-500A").delivery == "delivered"
    assert xo.calls("placeOrder") == 1  # the client did not retry by itself


def test_http_500_before_commit_is_outcome_unknown_and_no_order_exists(
    client: XoxodayClient, xo: SimControl, amazon: Product
) -> None:
    xo.fault("placeOrder", "http_500_before_commit")
    with pytest.raises(E.OutcomeUnknown):
        client.place_order(gift("PO-500B"), amazon)
    with pytest.raises(E.OrderNotFound):
        client.get_order_details(po_number="PO-500B")
    assert xo.orders() == []


def test_timeout_after_commit_is_outcome_unknown(xo: SimControl, amazon: Product) -> None:
    xo.fault("placeOrder", "timeout_after_commit", delay_s=3)
    with make_client(xo.base_url, place_order_timeout_s=1.0) as client:
        with pytest.raises(E.OutcomeUnknown, match="no answer in time"):
            client.place_order(gift("PO-TIMEOUT"), amazon)
        assert client.get_order_details(
            po_number="PO-TIMEOUT"
        ).order_id  # committed before the wait


def test_rate_limit_carries_penalty_seconds_and_pauses_the_operation(
    client: XoxodayClient, xo: SimControl, amazon: Product
) -> None:
    xo.fault("placeOrder", "rate_limit", penalty_seconds=7)
    with pytest.raises(E.RateLimited) as info:
        client.place_order(gift("PO-RL"), amazon)
    assert info.value.retry_after == 7
    with pytest.raises(E.RateLimited):  # the client itself now holds placeOrder back
        client.limiter.acquire("placeOrder", max_wait=1)
    assert xo.orders() == []


def test_invalid_token_refreshes_once_and_retries(xo: SimControl, amazon: Product) -> None:
    with make_client(xo.base_url) as client:
        first = client.tokens.current()
        xo.fault("placeOrder", "invalid_token")
        order = client.place_order(gift("PO-TOKEN"), amazon)
        assert order.order_id
        assert client.tokens.current().refresh_token != first.refresh_token
        assert [o["poNumber"] for o in xo.orders()] == ["PO-TOKEN"]


def test_invalid_token_twice_is_an_auth_error(xo: SimControl, amazon: Product) -> None:
    xo.fault("getBalance", "invalid_token", times=2)
    with make_client(xo.base_url) as client, pytest.raises(E.AuthError):
        client.get_balance()


def test_malformed_json_on_place_order_is_outcome_unknown(
    client: XoxodayClient, xo: SimControl, amazon: Product
) -> None:
    xo.fault("placeOrder", "malformed_json")
    with pytest.raises(E.OutcomeUnknown, match="unreadable"):
        client.place_order(gift("PO-MALFORMED"), amazon)
    assert client.get_order_details(po_number="PO-MALFORMED").order_id


def test_malformed_json_elsewhere_is_a_retryable_malformed_response(
    client: XoxodayClient, xo: SimControl
) -> None:
    xo.fault("getBalance", "malformed_json")
    with pytest.raises(E.MalformedResponse) as info:
        client.get_balance()
    assert info.value.retryable


def test_out_of_stock_on_place_order_is_unknown_with_its_cause(
    client: XoxodayClient, xo: SimControl, amazon: Product
) -> None:
    xo.fault("placeOrder", "out_of_stock")
    with pytest.raises(E.OutcomeUnknown) as info:
        client.place_order(gift("PO-OOS"), amazon)
    assert isinstance(info.value.__cause__, E.OutOfStock)
    assert info.value.__cause__.retryable


def test_http_502_on_a_read_is_a_retryable_upstream_failure(
    client: XoxodayClient, xo: SimControl
) -> None:
    xo.fault("getVouchers", "http_502")
    with pytest.raises(E.UpstreamFailure) as info:
        client.get_vouchers()
    assert info.value.retryable and info.value.error_id == "PLE10025"


def test_status_zero(client: XoxodayClient, xo: SimControl, amazon: Product) -> None:
    xo.fault("placeOrder", "status_zero")
    with pytest.raises(E.OutcomeUnknown):
        client.place_order(gift("PO-STATUS0"), amazon)
    xo.fault("getBalance", "status_zero")
    with pytest.raises(E.ApiError):
        client.get_balance()


def test_connection_refused_is_a_transport_error_even_for_place_order(amazon: Product) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        make_client(f"http://127.0.0.1:{port}/chef") as client,
        pytest.raises(E.TransportError) as info,
    ):
        client.place_order(gift("PO-NOWHERE"), amazon)
    assert not isinstance(info.value, E.OutcomeUnknown)  # nothing was sent: safe to retry


# --- business refusals, as Xoxoday checks them ------------------------------------------------


def test_duplicate_po_number(client: XoxodayClient, amazon: Product) -> None:
    client.place_order(gift("PO-DUP"), amazon)
    with pytest.raises(E.DuplicatePoNumber) as info:
        client.place_order(gift("PO-DUP"), amazon)
    assert info.value.error_id == "PLE10004"


def test_insufficient_balance(client: XoxodayClient, xo: SimControl, amazon: Product) -> None:
    xo.config(balance="5")
    with pytest.raises(E.InsufficientBalance) as info:
        client.place_order(gift("PO-POOR"), amazon)
    assert E.plain_reason(info.value) == "the Xoxoday wallet does not have enough balance"


def test_product_not_activated(client: XoxodayClient) -> None:
    legacy = client.get_vouchers(include_products=[31007])[0]
    order = build_order(
        "gift_card", product_id=31007, denomination="10", po_number="PO-KYB", email="x@example.com"
    )
    with pytest.raises(E.ProductUnavailable) as info:
        client.place_order(order, legacy)
    assert info.value.error_id == "PLE10042"


def test_kyc_not_approved(client: XoxodayClient) -> None:
    amazon_in = client.get_vouchers(include_products=[31006])[0]
    order = build_order(
        "gift_card", product_id=31006, denomination="500", po_number="PO-KYC", email="x@example.com"
    )
    with pytest.raises(E.KycNotApproved):
        client.place_order(order, amazon_in)


def test_server_side_denomination_check_when_the_catalog_was_stale(
    client: XoxodayClient, amazon: Product
) -> None:
    # Our cached product says 30 is fine; Xoxoday's current catalog does not.
    stale = amazon.model_copy(update={"value_denominations": [Decimal(30)]})
    with pytest.raises(E.InvalidDenomination) as info:
        client.place_order(gift("PO-STALE", "30"), stale)
    assert info.value.error_id == "PLE10018"


def test_server_side_quantity_check(client: XoxodayClient, amazon: Product) -> None:
    stale = amazon.model_copy(update={"order_quantity_limit": 50})
    with pytest.raises(E.QuantityLimitExceeded) as info:
        client.place_order(gift("PO-QTY", quantity=11), stale)
    assert info.value.http_status == 409


def test_operator_validation_refusal(client: XoxodayClient) -> None:
    [plan] = [
        p
        for p in client.get_vouchers(category_type="topup", parent_product_id=55140)
        if p.product_id == 55141
    ]
    order = build_order(
        "topup", product_id=55141, denomination="15", po_number="PO-OP", phone="+919857535678"
    )
    with pytest.raises(E.OrderValidationFailed):
        client.place_order(order, plan)
