"""One exception hierarchy for everything the Plum Pro API can answer.

Xoxoday has two error body shapes (OAuth: ``error``/``error_description``; application:
``code``/``errorId``/``errorInfo``/``error``) plus a rate-limit shape. Callers should never
parse bodies: they catch these classes. No message here ever carries a token or secret.
"""

from __future__ import annotations


class XoxodayError(Exception):
    """Base class. ``retryable`` says whether trying the same call later may succeed."""

    retryable: bool = False

    def __init__(
        self,
        message: str,
        *,
        op: str | None = None,
        http_status: int | None = None,
        error_id: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.op = op
        self.http_status = http_status
        self.error_id = error_id

    def __str__(self) -> str:
        parts = [self.message]
        if self.error_id:
            parts.append(f"[{self.error_id}]")
        if self.op:
            parts.append(
                f"({self.op}, HTTP {self.http_status})" if self.http_status else f"({self.op})"
            )
        return " ".join(parts)


class InvalidOrder(XoxodayError, ValueError):
    """Refused before anything was sent: the order does not fit the product or its type."""

    def __init__(self, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.field = field


class TransportError(XoxodayError):
    """The request never reached Xoxoday (connection refused, DNS, connect timeout)."""

    retryable = True


class AnswerLost(XoxodayError):
    """A call other than placeOrder was sent but its answer was lost (a timeout, a broken
    connection): Xoxoday may have done the work. Reading again is safe."""

    retryable = True


class OutcomeUnknown(XoxodayError):
    """placeOrder was sent but its answer was lost (5xx, timeout, broken body).

    The order may or may not exist. Never place it again blindly: look it up with
    getOrderDetails(poNumber) first, as Xoxoday asks.
    """

    retryable = False


class MalformedResponse(XoxodayError):
    """Xoxoday answered something that is not the documented envelope."""

    retryable = True


class ServerError(XoxodayError):
    """A 5xx on an operation that is safe to repeat (everything but placeOrder)."""

    retryable = True


class AuthError(XoxodayError):
    """Credentials were refused: bad header, expired token, disabled user, IP not allowed."""


class RefreshTokenRejected(AuthError):
    """The refresh token no longer works; new tokens must be generated in the dashboard."""


class RateLimited(XoxodayError):
    """Over Xoxoday's per-minute limit; wait ``retry_after`` seconds (penaltySeconds)."""

    retryable = True

    def __init__(self, message: str, *, retry_after: float, op: str | None = None) -> None:
        super().__init__(message, op=op, http_status=429)
        self.retry_after = retry_after


class ApiError(XoxodayError):
    """An application error (``errorId`` PLE…/PIPE…) or a ``status: 0`` answer."""

    def __init__(
        self,
        message: str,
        *,
        op: str | None = None,
        http_status: int | None = None,
        error_id: str | None = None,
        detail: str | None = None,
    ) -> None:
        super().__init__(message, op=op, http_status=http_status, error_id=error_id)
        self.detail = detail


# Business refusals: the order cannot succeed as asked; a person must change something.


class InvalidDenomination(ApiError):
    pass


class QuantityLimitExceeded(ApiError):
    pass


class ProductUnavailable(ApiError):
    """Unknown product, or not activated for this account (KYB)."""


class KycNotApproved(ApiError):
    pass


class OrderValidationFailed(ApiError):
    """PLE10001 and friends: Xoxoday refused a field (phone, operator, email…)."""


class InternationalOrdersNotAllowed(ApiError):
    pass


class DuplicatePoNumber(ApiError):
    """The poNumber was used before: the order may already exist, so look it up."""


class DeliveryCanceled(ApiError):
    """PLE10036: the order with this poNumber exists and its delivery was cancelled."""


class OrderNotFound(ApiError):
    pass


class MobileLookupFailed(ApiError):
    """lookupMobileNumber answered `"status": "failure"`: no operator for that number."""


class NoVouchersFound(ApiError):
    pass


# Transient failures: the same call may succeed later.
class OutOfStock(ApiError):
    retryable = True


class UpstreamFailure(ApiError):
    """Xoxoday's own dependency failed (currency API, order processing): try later."""

    retryable = True


class AmbiguousRefusal(UpstreamFailure):
    """placeOrder refused in words that do not prove no order exists ("failed to add order",
    "failed to confirm order", "failed to place order", "failed to get order details to check
    status of order"). Xoxoday's action for PLE10010 is "Call the PlaceOrder API again"
    (error-handling table, reference §12 row 7): look the poNumber up, then place it again
    with the same poNumber after a backoff; never fail it at the first answer."""


class InsufficientBalance(AmbiguousRefusal):
    """PLE10010 "Failed to redeem points": most likely the wallet cannot pay, but the
    documented action is to call placeOrder again, so it is ambiguous until a fresh
    getBalance shows the wallet really cannot pay for the order."""


# errorId → class, from the error table of the reference (§6.2).
ERROR_CLASSES: dict[str, type[ApiError]] = {
    "PLE10001": OrderValidationFailed,
    "PLE10004": DuplicatePoNumber,
    "PLE10005": UpstreamFailure,
    "PLE10006": UpstreamFailure,
    "PLE10007": AmbiguousRefusal,
    "PLE10008": UpstreamFailure,
    "PLE10009": UpstreamFailure,
    "PLE10010": InsufficientBalance,
    "PLE10011": AmbiguousRefusal,
    "PLE10012": OutOfStock,
    "PLE10013": UpstreamFailure,
    "PLE10015": KycNotApproved,
    "PLE10016": OrderNotFound,
    "PLE10017": ProductUnavailable,
    "PLE10018": InvalidDenomination,
    "PLE10019": InternationalOrdersNotAllowed,
    "PLE10021": UpstreamFailure,  # "…while fulfilling order": not a plain "no such order"
    "PLE10022": OrderNotFound,
    "PLE10023": UpstreamFailure,
    "PLE10024": OutOfStock,
    "PLE10025": AmbiguousRefusal,
    "PLE10027": OrderNotFound,
    "PLE10030": NoVouchersFound,
    "PLE10035": AmbiguousRefusal,
    "PLE10036": DeliveryCanceled,
    "PLE10041": QuantityLimitExceeded,
    "PLE10042": ProductUnavailable,
}

# What a person reads when an order fails for a business reason.
PLAIN_REASONS: dict[type[XoxodayError], str] = {
    InsufficientBalance: "the Xoxoday wallet does not have enough balance",
    InvalidDenomination: "this amount is not offered for the product",
    QuantityLimitExceeded: "the quantity is over the product's limit",
    ProductUnavailable: "the product is not available for this account",
    KycNotApproved: "the account's KYC for this brand is not approved",
    OrderValidationFailed: "Xoxoday refused the order details",
    InternationalOrdersNotAllowed: "the account may not place international orders",
    DeliveryCanceled: "an earlier delivery with this order number was cancelled",
    OutOfStock: "the product is out of stock",
    AmbiguousRefusal: "Xoxoday could not place the order",
    MobileLookupFailed: "Xoxoday does not know the phone number's operator",
    AuthError: "Xoxoday refused the bot's credentials",
}


def plain_reason(error: BaseException) -> str:
    """A sentence for people, without codes or secrets."""
    for cls in type(error).__mro__:
        if cls in PLAIN_REASONS:
            reason = PLAIN_REASONS[cls]
            detail = getattr(error, "detail", None)
            if cls is OrderValidationFailed and detail:
                return f"{reason}: {detail}"
            return reason
    return "Xoxoday could not complete the order"


def said_not_done(error: XoxodayError) -> bool:
    """Whether the answer shows Xoxoday did not do the work asked (so doing it again cannot do
    it twice): the call never reached it, was refused at the door (credentials, rate limit),
    or its application refused it (an errorId such as PLE10034 "Failed to process
    resendVoucher", or status 0). A bare 5xx, an unreadable answer or a lost one may come
    after the work."""
    if isinstance(error, OutcomeUnknown | AnswerLost | MalformedResponse | ServerError):
        return False
    return isinstance(error, TransportError | AuthError | RateLimited | ApiError | InvalidOrder)
