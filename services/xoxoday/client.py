"""A client for Xoxoday's Plum Pro API as it really behaves.

One RPC endpoint (``POST /v1/oauth/api``, dispatched on ``query``), OAuth tokens that rotate on
every refresh, two error body shapes, numbers as strings, per-minute limits. The rule that
matters most: placeOrder is never retried here. A 5xx, a timeout or a broken answer raises
OutcomeUnknown and the caller looks the order up by poNumber before placing it again.

Real answers differ from the documented happy path (reference §12); each difference is
handled here: the balance is `points`, both token-error shapes refresh once, the rate-limit
answer may come at any status, a word `status` is read, and an answer under another
operation's key is an error, never a made-up result.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel, ValidationError

from plumbing.jsonutil import dumps, loads
from services.xoxoday import errors as E
from services.xoxoday.models import (
    Balance,
    FilterGroup,
    HistoryOrder,
    MobileOperator,
    Order,
    OrderRequest,
    PaymentRow,
    Product,
    e164,
    history_dates,
    status_ok,
)
from services.xoxoday.ratelimit import RateLimiter
from services.xoxoday.redact import redact
from services.xoxoday.tokens import TokenManager, TokenSet, TokenStore

log = logging.getLogger(__name__)

SANDBOX_URL = "https://stagingstores.xoxoday.com/chef"
PLACE_ORDER_TIMEOUT_S = 130.0  # Xoxoday may take up to 120 s for a realtime order
DEFAULT_TIMEOUT_S = 30.0
CONNECT_TIMEOUT_S = 10.0
# How long to hold an operation when a rate-limit answer gives no penaltySeconds (the
# refresh-abuse body has none); 60 s is the documented penalty of the other shape.
DEFAULT_PENALTY_S = 60.0
# Xoxoday: "If a 4xx error occurs, generate new tokens using the Refresh Token API"
# (refresh-token-access-token.md). These OAuth keywords mark an auth answer at any 4xx.
_OAUTH_ERRORS = {
    "invalid_token",
    "invalid_request",
    "invalid_client",
    "unauthorized",
    "unauthorized_client",
    "access_denied",
}
# The refresh-abuse answer: {"message": "auth.request_limit_exceeded"}, at any status.
_LIMIT_MESSAGE = "auth.request_limit_exceeded"


@dataclass(frozen=True)
class Exchange:
    """One HTTP round trip, redacted, for the request log."""

    op: str
    po_number: str | None
    request: dict[str, Any]
    status: int | None
    response: Any
    error: str | None
    started_at: float
    duration_ms: int


ExchangeHook = Callable[[Exchange], None]
M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class TokenInfo:
    expires_in_s: float | None
    access_expires_at: float | None


class XoxodayClient:
    def __init__(
        self,
        base_url: str,
        client_id: str,
        client_secret: str,
        token_store: TokenStore,
        *,
        initial_tokens: TokenSet | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        place_order_timeout_s: float = PLACE_ORDER_TIMEOUT_S,
        limiter: RateLimiter | None = None,
        on_exchange: ExchangeHook | None = None,
        transport: httpx.BaseTransport | None = None,
        default_penalty_s: float = DEFAULT_PENALTY_S,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.default_penalty_s = default_penalty_s
        self._client_id = client_id
        self._client_secret = client_secret
        self._timeout = httpx.Timeout(timeout_s, connect=CONNECT_TIMEOUT_S)
        self._place_timeout = httpx.Timeout(
            timeout_s, connect=CONNECT_TIMEOUT_S, read=place_order_timeout_s
        )
        self.limiter = limiter or RateLimiter()
        self._on_exchange = on_exchange
        self._clock = clock
        self._http = httpx.Client(
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": "rewards-bot/0.1"},
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=16),
        )
        self.tokens = TokenManager(token_store, self._refresh_tokens, initial_tokens, clock=clock)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> XoxodayClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- operations -------------------------------------------------------------------------

    def get_filters(
        self, filter_group_code: str = "", include: str = "", exclude: str = ""
    ) -> list[FilterGroup]:
        data = {
            "filterGroupCode": filter_group_code,
            "includeFilters": include,
            "excludeFilters": exclude,
        }
        result = self._data(self._call("getFilters", data))
        return _parse_list("getFilters", FilterGroup, result)

    def get_vouchers(
        self,
        *,
        category_type: str | None = None,
        parent_product_id: int | None = None,
        filters: dict[str, str] | None = None,
        include_products: list[int] | None = None,
        exclude_products: list[int] | None = None,
        limit: int = 100,
        page: int = 1,
        sort: tuple[str, str] = ("name", "ASC"),
    ) -> list[Product]:
        """One page of the catalog; an empty catalog is an empty list (not PLE10030)."""
        data: dict[str, Any] = {
            "limit": limit,
            "page": page,
            "includeProducts": ",".join(map(str, include_products or [])),
            "excludeProducts": ",".join(map(str, exclude_products or [])),
            "exchangeRate": 1,
            "sort": {"field": sort[0], "order": sort[1]},
            "filters": [{"key": k, "value": v} for k, v in (filters or {}).items()],
        }
        if category_type:
            data["categoryType"] = category_type
        if parent_product_id is not None:
            data["parentProductId"] = parent_product_id
        try:
            result = self._data(self._call("getVouchers", data))
        except E.NoVouchersFound:
            return []
        return _parse_list("getVouchers", Product, result)

    def all_vouchers(
        self,
        page_size: int = 100,
        on_page: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> list[Product]:
        """Every page of the catalog for the given filters; `on_page` is told before each page
        is asked for (a long refresh keeps its lease, and may end there by raising). The
        limiter paces the pages: 50 a minute."""
        products: list[Product] = []
        for page in range(1, 10_000):
            if on_page is not None:
                on_page()
            batch = self.get_vouchers(limit=page_size, page=page, **kwargs)
            products.extend(batch)
            if len(batch) < page_size:
                break
        return products

    def lookup_mobile_number(self, phone: str) -> MobileOperator:
        """The operator of a number; MobileLookupFailed when Xoxoday answers "failure"."""
        try:
            number = e164(phone)
        except ValueError as exc:
            raise E.InvalidOrder(str(exc), field="phone") from None
        return MobileOperator.from_payload(
            self._call("lookupMobileNumber", {"mobile_number": number})
        )

    def get_balance(self) -> Balance:
        """The wallet balance: `Balance.amount` is `points` (value only when points is absent)."""
        result = self._data(self._call("getBalance", {}, query_kind="query"))
        return _parse("getBalance", Balance, result)

    def place_order(
        self,
        order: OrderRequest,
        product: Product,
        *,
        on_send: Callable[[], None] | None = None,
    ) -> Order:
        """Place one order. OutcomeUnknown when the answer is lost: reconcile, never retry.

        `on_send` runs right before each HTTP request leaves (after rate limiting and token
        refresh), so the caller can record when the attempt was sent: the in-flight window
        counts from then.
        """
        product.check(order)
        payload = self._call(
            "placeOrder", order.payload(), po_number=order.po_number, on_send=on_send
        )
        try:
            return _parse("getOrderDetails", Order, self._data(payload))
        except (ValidationError, E.MalformedResponse) as exc:
            raise E.OutcomeUnknown(
                f"placeOrder answered without a readable order ({_first_error(exc)})",
                op="placeOrder",
            ) from None

    def get_order_details(
        self,
        *,
        po_number: str | None = None,
        order_id: int | None = None,
        email_voucher: bool = False,
    ) -> Order:
        """Look an order up by poNumber or orderId; OrderNotFound when Xoxoday has none.

        `email_voucher` asks Xoxoday to email the voucher to the order's address again
        (`sendMailToReceiver: 1`, reference §3.7; PLE10034 when it cannot)."""
        if po_number:
            data: dict[str, Any] = {"poNumber": po_number, "orderId": 0}
        elif order_id:
            data = {"poNumber": "", "orderId": int(order_id)}
        else:
            raise ValueError("get_order_details needs a po_number or an order_id")
        data["sendMailToReceiver"] = int(email_voucher)
        payload = self._call("getOrderDetails", data, po_number=po_number)
        return _parse("getOrderDetails", Order, self._data(payload))

    def get_order_history(
        self, start: date, end: date, *, limit: int = 100, page: int = 1, tag: str | None = None
    ) -> list[HistoryOrder]:
        data: dict[str, Any] = {**history_dates(start, end), "limit": limit, "page": page}
        if tag:
            data["tag"] = tag
        try:
            result = self._data(self._call("getOrderHistory", data))
        except E.OrderNotFound:
            return []
        return _parse_list("getOrderHistory", HistoryOrder, result)

    def payment_history(
        self, start: date, end: date, *, limit: int = 100, page: int = 1
    ) -> list[PaymentRow]:
        data = {**history_dates(start, end), "limit": limit, "page": page}
        # Documented quirk: arguments under a top-level data.data, not under variables.
        body = {
            "query": "plumProAPI.mutation.paymentHistory",
            "tag": "plumProAPI",
            "data": {"data": data},
        }
        try:
            result = self._data(self._call("paymentHistory", data, body=body))
        except E.OrderNotFound:
            return []
        return _parse_list("paymentHistory", PaymentRow, result)

    def validate_token(self) -> TokenInfo:
        """GET /v1/oauth/token: is the current access token accepted, and for how long."""
        token = self.tokens.access_token()
        response = self._send("validateToken", "GET", "/v1/oauth/token", None, token=token)
        body = self._json_or_raise("validateToken", response)
        self._raise_for_error("validateToken", response, body)
        expires_in = _number(body.get("expires_in"))
        expiry_ms = _number(body.get("access_token_expiry"))
        if expires_in is not None and expires_in > 10**9:  # some docs send an epoch here
            return TokenInfo(None, float(expires_in))
        return TokenInfo(
            float(expires_in) if expires_in is not None else None,
            float(expiry_ms) / 1000 if expiry_ms is not None else None,
        )

    # --- tokens -----------------------------------------------------------------------------

    def _refresh_tokens(self, refresh_token: str) -> TokenSet:
        body = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": self._client_id,
            "client_secret": self._client_secret,
        }
        self.limiter.acquire("refreshToken", max_wait=0)  # a penalty from Xoxoday holds it
        response = self._send("refreshToken", "POST", "/v1/oauth/token/user", body, token=None)
        payload = self._json_or_raise("refreshToken", response)
        penalty = _rate_limit_penalty(response.status_code, payload, self.default_penalty_s)
        if penalty is not None:
            # "Unusual number of requests on Refresh Token API": wait; not the credentials.
            self.limiter.penalize("refreshToken", penalty)
            raise E.RateLimited(
                "token refresh is rate limited by Xoxoday", retry_after=penalty, op="refreshToken"
            )
        if (
            response.status_code >= 400
            or not isinstance(payload, dict)
            or "access_token" not in payload
        ):
            error = payload.get("error") if isinstance(payload, dict) else None
            if response.status_code >= 500:
                raise E.ServerError(
                    "token refresh failed", op="refreshToken", http_status=response.status_code
                )
            if error in ("invalid_grant", "invalid_token", "invalid_request"):
                raise E.RefreshTokenRejected(
                    "Xoxoday refused the refresh token: generate new tokens in the Xoxoday "
                    "dashboard (Settings > API) and set XOXODAY_REFRESH_TOKEN",
                    op="refreshToken",
                    http_status=response.status_code,
                )
            raise E.AuthError(
                f"token refresh refused ({error or 'no reason given'}): check XOXODAY_CLIENT_ID "
                "and XOXODAY_CLIENT_SECRET",
                op="refreshToken",
                http_status=response.status_code,
            )
        now = self._clock()
        access_at, why = token_expiry(
            payload.get("access_token_expiry"), payload.get("expires_in"), now
        )
        if why:
            log.warning("token refresh: %s", why)
        refresh_at, why = token_expiry(
            payload.get("refresh_token_expiry"), None, now, name="refresh_token_expiry"
        )
        if why:
            log.warning("token refresh: %s", why)
        return TokenSet(
            access_token=str(payload["access_token"]),
            refresh_token=str(payload.get("refresh_token") or refresh_token),
            access_expires_at=access_at,
            refresh_expires_at=refresh_at,
            obtained_at=now,
        )

    # --- the one RPC core -------------------------------------------------------------------

    def _call(
        self,
        op: str,
        data: dict[str, Any],
        *,
        query_kind: str = "mutation",
        po_number: str | None = None,
        body: dict[str, Any] | None = None,
        on_send: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """POST one operation; returns the ``data.<op>`` object of a successful answer."""
        if body is None:
            body = {
                "query": f"plumProAPI.{query_kind}.{op}",
                "tag": "plumProAPI",
                "variables": {"data": data},
            }
        self.limiter.acquire(op)
        token = self.tokens.access_token()
        response = self._send(
            op, "POST", "/v1/oauth/api", body, token=token, po_number=po_number, on_send=on_send
        )
        if _is_token_refusal(response):
            # Refused at the door, before any work: repeating it, even placeOrder, is safe.
            # Refresh once and retry once; a second refusal is an AuthError.
            token = self.tokens.refresh(rejected_access_token=token)
            self.limiter.acquire(op)
            response = self._send(
                op, "POST", "/v1/oauth/api", body, token=token, po_number=po_number, on_send=on_send
            )
        return self._parse(op, response)

    def _send(
        self,
        op: str,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        *,
        token: str | None,
        po_number: str | None = None,
        on_send: Callable[[], None] | None = None,
    ) -> httpx.Response:
        headers = {"Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        timeout = self._place_timeout if op == "placeOrder" else self._timeout
        started = self._clock()
        begun = time.monotonic()
        response: httpx.Response | None = None
        error: E.XoxodayError | None = None
        if on_send is not None:
            on_send()
        try:
            response = self._http.request(
                method,
                self.base_url + path,
                content=dumps(body) if body is not None else None,
                headers=headers,
                timeout=timeout,
            )
        except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
            # Nothing reached Xoxoday: safe to try again, even for placeOrder.
            error = E.TransportError(f"could not reach Xoxoday: {type(exc).__name__}", op=op)
        except httpx.TimeoutException as exc:
            error = self._lost(op, f"no answer in time ({type(exc).__name__})")
        except httpx.TransportError as exc:
            error = self._lost(op, f"connection broke ({type(exc).__name__})")
        duration_ms = int((time.monotonic() - begun) * 1000)
        self._record(op, po_number, body, response, error, started, duration_ms)
        if error is not None:
            log.warning("xoxoday %s failed after %d ms: %s", op, duration_ms, error)
            raise error
        assert response is not None
        log.debug("xoxoday %s -> HTTP %s in %d ms", op, response.status_code, duration_ms)
        return response

    @staticmethod
    def _lost(op: str, why: str) -> E.XoxodayError:
        if op == "placeOrder":
            return E.OutcomeUnknown(f"placeOrder outcome unknown: {why}", op=op)
        return E.AnswerLost(why, op=op)

    def _record(
        self,
        op: str,
        po_number: str | None,
        body: dict[str, Any] | None,
        response: httpx.Response | None,
        error: E.XoxodayError | None,
        started: float,
        duration_ms: int,
    ) -> None:
        if self._on_exchange is None:
            return
        answer: Any = None
        if response is not None:
            try:
                answer = redact(loads(response.content))
            except ValueError:
                answer = {"unparsed": response.text[:200]}
        exchange = Exchange(
            op=op,
            po_number=po_number,
            request=redact(body or {}),
            status=response.status_code if response is not None else None,
            response=answer,
            error=str(error) if error else None,
            started_at=started,
            duration_ms=duration_ms,
        )
        try:
            self._on_exchange(exchange)
        except Exception:  # the request log must never break a call
            log.exception("could not record the %s exchange", op)

    def _json_or_raise(self, op: str, response: httpx.Response) -> Any:
        try:
            return loads(response.content)
        except ValueError:
            status = response.status_code
            if op == "placeOrder" and (status < 400 or status >= 500):
                raise E.OutcomeUnknown(
                    f"placeOrder outcome unknown: unreadable answer (HTTP {status})",
                    op=op,
                    http_status=status,
                ) from None
            if status >= 500:
                raise E.ServerError(
                    f"Xoxoday error (HTTP {status})", op=op, http_status=status
                ) from None
            raise E.MalformedResponse(
                f"Xoxoday answered something that is not JSON (HTTP {status})",
                op=op,
                http_status=status,
            ) from None

    def _parse(self, op: str, response: httpx.Response) -> dict[str, Any]:
        body = self._json_or_raise(op, response)
        self._raise_for_error(op, response, body)
        result = _unwrap(op, body)
        if result is None:
            raise self._broken(op, response.status_code, "no result in the answer")
        status = result.get("status")
        if op == "lookupMobileNumber" and status_ok(status) is not None:
            return result  # its shapes (a word status, "failure") are read by MobileOperator
        if status_ok(status) is not True:
            message = str(result.get("message") or result.get("msg") or f"status {status}")
            if op == "placeOrder":
                # A refusal without an errorId does not say the order was not taken: reconcile.
                raise E.OutcomeUnknown(
                    f"placeOrder outcome unknown: answered status {status} ({message})",
                    op=op,
                    http_status=response.status_code,
                )
            raise E.ApiError(
                f"Xoxoday refused {op}: {message}", op=op, http_status=response.status_code
            )
        return result

    def _broken(self, op: str, status: int, why: str) -> E.XoxodayError:
        if op == "placeOrder":
            return E.OutcomeUnknown(f"placeOrder outcome unknown: {why}", op=op, http_status=status)
        return E.MalformedResponse(f"{op}: {why}", op=op, http_status=status)

    def _raise_for_error(self, op: str, response: httpx.Response, body: Any) -> None:
        status = response.status_code
        penalty = _rate_limit_penalty(status, body, self.default_penalty_s)
        if penalty is not None:
            self.limiter.penalize(op, penalty)
            raise E.RateLimited(f"{op} rate limited by Xoxoday", retry_after=penalty, op=op)
        if isinstance(body, dict) and isinstance(body.get("errors"), list) and body["errors"]:
            first = body["errors"][0] if isinstance(body["errors"][0], dict) else {}
            if status < 400:
                message = str(first.get("message", ""))
                raise self._broken(op, status, f"error in a {status} answer: {message}")
        if isinstance(body, dict) and str(body.get("error_message_id") or "").startswith("auth."):
            # {"success": 0, "error_message_id": "auth.token_error"}: revoked or expired token.
            raise E.AuthError(
                f"Xoxoday refused the credentials ({body['error_message_id']})",
                op=op,
                http_status=status,
            )
        if status < 400:
            return
        info = body if isinstance(body, dict) else {}
        error_id = str(info.get("errorId") or "") or None
        detail = str(info.get("error") or info.get("errorInfo") or info.get("message") or "")
        if op == "placeOrder" and status >= 500:
            cause = _api_error(op, status, error_id, info)
            unknown = E.OutcomeUnknown(
                f"placeOrder outcome unknown: HTTP {status}",
                op=op,
                http_status=status,
                error_id=error_id,
            )
            unknown.__cause__ = cause
            raise unknown
        if "error_description" in info or (status == 401 and not error_id):
            keyword = str(info.get("error") or "unauthorized")
            raise E.AuthError(
                f"Xoxoday refused the credentials ({keyword})", op=op, http_status=status
            )
        if error_id and error_id.startswith("PIPE"):
            raise E.AuthError(
                f"Xoxoday refused access: {info.get('errorInfo') or error_id}",
                op=op,
                http_status=status,
                error_id=error_id,
            )
        if error_id:
            raise _api_error(op, status, error_id, info)
        if status >= 500:
            raise E.ServerError(
                f"Xoxoday error (HTTP {status}): {detail}".rstrip(": "), op=op, http_status=status
            )
        raise E.ApiError(
            f"Xoxoday refused {op} (HTTP {status}): {detail}",
            op=op,
            http_status=status,
            detail=detail,
        )

    @staticmethod
    def _data(result: dict[str, Any]) -> Any:
        return result.get("data")


def _parse(op: str, model: type[M], value: Any) -> M:
    """A typed answer, or MalformedResponse (retryable) when Xoxoday sent something else."""
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        raise E.MalformedResponse(f"{op}: unexpected answer ({_first_error(exc)})", op=op) from None


def _parse_list(op: str, model: type[M], value: Any) -> list[M]:
    return [_parse(op, model, item) for item in _as_list(value)]


def _api_error(op: str, status: int, error_id: str | None, info: dict[str, Any]) -> E.ApiError:
    cls = E.ERROR_CLASSES.get(error_id or "", E.ApiError)
    if cls is E.ApiError and status >= 500:
        cls = E.UpstreamFailure
    summary = str(info.get("errorInfo") or info.get("error") or f"HTTP {status}")
    detail = str(info.get("error") or "") or None
    return cls(summary, op=op, http_status=status, error_id=error_id, detail=detail)


# The only operation documented to answer under another name (reference §3.8).
_ANSWER_KEYS = {"paymentHistory": ("paymentHistory", "getPaymentReport")}


def _unwrap(op: str, body: Any) -> dict[str, Any] | None:
    """``data.<op>``. Only paymentHistory may answer under another key (getPaymentReport):
    an answer under any other name, such as the workflow guide's getOrderHistory example
    keyed `getOrderDetails`, is malformed, never read as if it were ours."""
    data = body.get("data") if isinstance(body, dict) else None
    if not isinstance(data, dict):
        return None
    for key in _ANSWER_KEYS.get(op, (op,)):
        result = data.get(key)
        if isinstance(result, dict):
            return result
    return None


def token_expiry(
    expiry_ms: Any, expires_in: Any, now: float, *, name: str = "access_token_expiry"
) -> tuple[float | None, str | None]:
    """When a refreshed token expires (epoch seconds), and why the stated expiry was not
    trusted (None when it was).

    The auth spec's own example answers `access_token_expiry` "1718000000000" (2024) with
    `expires_in` 1296000 (reference §13 row 2): an expiry in the past, or far from
    `now + expires_in`, would make the client refresh before every call until Xoxoday's
    refresh limit refuses them all. `expires_in` wins then; with neither, nothing is made up.
    """
    stated = _number(expiry_ms)
    lifetime = _number(expires_in)
    by_lifetime = now + float(lifetime) if lifetime is not None and lifetime > 0 else None
    if stated is None:
        return by_lifetime, None
    at = float(stated) / 1000
    if at <= now:
        why = f"{name} {stated} is in the past"
    elif by_lifetime is not None and abs(at - by_lifetime) > max(3600.0, (by_lifetime - now) / 10):
        why = f"{name} {stated} is far from expires_in {lifetime} s"
    else:
        return at, None
    if by_lifetime is None:
        return None, f"{why}: not trusted, and no expires_in to go by"
    return by_lifetime, f"{why}: using expires_in ({lifetime} s) instead"


def _rate_limit_penalty(status: int, body: Any, default: float = DEFAULT_PENALTY_S) -> float | None:
    """Seconds to wait when the answer is a rate limit, else None.

    Three shapes: HTTP 429; `{"errors": [{"message": "auth.request_limit_exceeded",
    "penaltySeconds": 60}]}`; and the refresh-abuse answer `{"message":
    "auth.request_limit_exceeded"}`, which Xoxoday documents without a status, so it is
    read at any status (refresh-token-access-token.md).
    """
    if not isinstance(body, dict):
        return default if status == 429 else None
    errors = body.get("errors")
    first = errors[0] if isinstance(errors, list) and errors else None
    if isinstance(first, dict) and (status == 429 or "limit" in str(first.get("message", ""))):
        return float(_number(first.get("penaltySeconds")) or default)
    if str(body.get("message") or "") == _LIMIT_MESSAGE:
        return float(_number(body.get("penaltySeconds")) or default)
    return default if status == 429 else None


def _is_token_refusal(response: httpx.Response) -> bool:
    """An answer that says "the access token is not accepted": refresh once and retry.

    Xoxoday: "If a 4xx error occurs, generate new tokens using the Refresh Token API". Both
    documented token shapes count, `{"error": "invalid_token", ...}` and `{"success": 0,
    "error_message_id": "auth.token_error"}`, as does any 401/403 and any 4xx in the OAuth
    or PIPE (access) shape. A rate limit or a PLE application error is never a token problem.
    """
    status = response.status_code
    if status >= 500 or status == 429:
        return False
    try:
        body = json.loads(response.content)
    except ValueError:
        return status in (401, 403)
    if _rate_limit_penalty(status, body) is not None:
        return False
    if not isinstance(body, dict):
        return status in (401, 403)
    if str(body.get("error_message_id") or "").startswith("auth."):
        return True  # documented without a status: read at any status below 500
    if status < 400:
        return False
    error_id = str(body.get("errorId") or "")
    if error_id.startswith("PLE"):
        return False  # an application refusal, even at 401 (PLE10019): not the token
    if status in (401, 403):
        return True
    return body.get("error") in _OAUTH_ERRORS or error_id.startswith("PIPE")


def _as_list(value: Any) -> list[Any]:
    """A list answer; null is an empty list; anything else (one object) is malformed."""
    if value is None:
        return []
    if isinstance(value, list):
        return value
    raise E.MalformedResponse("expected a list in the answer")


def _number(value: Any) -> Decimal | None:
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except ArithmeticError:
        return None


def _first_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        first = exc.errors()[0]
        return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"
    return str(exc)
