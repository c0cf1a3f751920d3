"""Xoxoday's three error body shapes (reference §6.1), raised as exceptions by the handlers."""

from __future__ import annotations

from typing import Any


class SimError(Exception):
    """An HTTP error answer: status plus the exact JSON body Xoxoday would send."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"{status} {body}")
        self.status = status
        self.body = body


class ApiError(SimError):
    """Application error: {"code", "errorId": "PLE1xxxx", "errorInfo", "error"}."""

    def __init__(self, status: int, error_id: str, info: str, error: str) -> None:
        super().__init__(
            status, {"code": status, "errorId": error_id, "errorInfo": info, "error": error}
        )
        self.error_id = error_id


class OAuthError(SimError):
    """OAuth error: {"error", "error_description"}."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(status, {"error": error, "error_description": description})


def missing_auth() -> OAuthError:
    return OAuthError(401, "invalid_request", "missing/invalid parameters authorization header")


def invalid_token() -> OAuthError:
    return OAuthError(401, "invalid_token", "invalid/expired token")


def token_error() -> SimError:
    """An expired or revoked token, as the refresh-token page shows it (no status given; 401
    like invalid_token)."""
    return SimError(401, {"success": 0, "error_message_id": "auth.token_error"})


def refresh_limited(status: int = 429) -> SimError:
    """Too many refreshes: the refresh-token page's body, documented without a status."""
    return SimError(status, {"message": "auth.request_limit_exceeded"})


def rate_limited(penalty_seconds: int) -> SimError:
    return SimError(
        429,
        {"errors": [{"message": "auth.request_limit_exceeded", "penaltySeconds": penalty_seconds}]},
    )


def order_invalid(error: str) -> ApiError:
    return ApiError(400, "PLE10001", "Validation error in place order", error)


def bad_request(error: str) -> ApiError:
    """An envelope Xoxoday cannot read at all (no documented code; PLE10033 is the closest)."""
    return ApiError(400, "PLE10033", "Failed to validate request", error)
