"""Token refresh (POST /chef/v1/oauth/token/user) and validation (GET /chef/v1/oauth/token)."""

from __future__ import annotations

import base64
import binascii
import json
import time
from typing import Any
from urllib.parse import unquote_plus

from plumbing.wsgi import Request
from simulator.xoxoday.config import SimConfig
from simulator.xoxoday.errors import OAuthError, invalid_token, missing_auth
from simulator.xoxoday.tokens import TokenPair, TokenStore

TOKEN_TYPES = ("", "user", "company")


def bearer_token(req: Request) -> str:
    """The token of `Authorization: Bearer <token>`; raises invalid_request when malformed."""
    scheme, _, token = req.headers.get("authorization", "").strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token or " " in token:
        raise missing_auth()
    return token


def _params(req: Request) -> dict[str, str]:
    """JSON per the docs, form-encoded as golang.org/x/oauth2 sends it."""
    params: dict[str, Any] = {}
    if "application/x-www-form-urlencoded" not in req.headers.get("content-type", ""):
        try:
            parsed = req.json()
            params = parsed if isinstance(parsed, dict) else {}
        except (ValueError, UnicodeDecodeError):
            params = {}
    if not params:
        try:
            params = req.form()
        except UnicodeDecodeError:
            params = {}
    # x/oauth2 may also put the client credentials in an HTTP Basic header.
    scheme, _, encoded = req.headers.get("authorization", "").partition(" ")
    if scheme.lower() == "basic" and not params.get("client_id"):
        try:
            user, _, secret = base64.b64decode(encoded.strip()).decode().partition(":")
            params["client_id"], params["client_secret"] = unquote_plus(user), unquote_plus(secret)
        except (binascii.Error, UnicodeDecodeError):
            pass
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in params.items()}


def _ms(epoch_s: float) -> int:
    return int(epoch_s * 1000)


# The auth spec's own example expiries (2024), past while expires_in says 15 days (§13 row 2).
SPEC_EXAMPLE_EXPIRIES = ("1718000000000", "1720000000000")


def token_response(pair: TokenPair, config: SimConfig) -> dict[str, Any]:
    # Real responses carry expires_in and both expiries as strings (reference §2.2).
    access, refresh = str(_ms(pair.access_expiry)), str(_ms(pair.refresh_expiry))
    if config.token_expiry_in_past:
        access, refresh = SPEC_EXAMPLE_EXPIRIES
    return {
        "access_token": pair.access_token,
        "token_type": "bearer",
        "expires_in": str(int(config.access_token_ttl_s)),
        "refresh_token": pair.refresh_token,
        "access_token_expiry": access,
        "refresh_token_expiry": refresh,
    }


def issue_token(req: Request, segment: str, store: TokenStore, config: SimConfig) -> dict[str, Any]:
    """Handle the token endpoint; call under the state lock. Raises OAuthError."""
    if segment not in TOKEN_TYPES:
        raise OAuthError(400, "invalid_request", f"unsupported token type {segment!r}")
    params = _params(req)
    grant = params.get("grant_type", "")
    if not grant:
        raise OAuthError(400, "invalid_request", "missing parameter: grant_type")
    if not store.client_ok(params.get("client_id", ""), params.get("client_secret", "")):
        raise OAuthError(401, "invalid_client", "client authentication failed")
    if grant == "authorization_code":
        raise OAuthError(400, "invalid_grant", "invalid authorization code")
    if grant != "refresh_token":
        raise OAuthError(400, "unsupported_grant_type", f"grant type {grant!r} is not supported")
    refresh_token = params.get("refresh_token", "")
    if not refresh_token:
        raise OAuthError(400, "invalid_request", "missing parameter: refresh_token")
    pair = store.refresh(
        params["client_id"],
        refresh_token,
        time.time(),
        config.access_token_ttl_s,
        config.refresh_token_ttl_s,
        config.token_grace_s,
    )
    if pair is None:
        raise OAuthError(400, "invalid_grant", "invalid/expired refresh token")
    return token_response(pair, config)


def validate_token(req: Request, store: TokenStore) -> dict[str, Any]:
    """GET /v1/oauth/token: expires_in is the seconds remaining (reference §2.4)."""
    token = bearer_token(req)
    now = time.time()
    pair = store.access_pair(token, now)
    if pair is None:
        raise invalid_token()
    return {
        "access_token": pair.access_token,
        "token_type": "bearer",
        "expires_in": int(pair.access_expiry - now),
        "access_token_expiry": _ms(pair.access_expiry),
        "refresh_token_expiry": _ms(pair.refresh_expiry),
    }
