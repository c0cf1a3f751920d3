"""Token refresh, rotation, grace and validation (reference §2)."""

from __future__ import annotations

import time
from typing import Any

from simulator.xoxoday import DEMO_CREDENTIALS
from tests.simulator.conftest import Api

TOKEN_URL = "/chef/v1/oauth/token/user"


def refresh(api: Api, refresh_token: str, path: str = TOKEN_URL, **extra: Any):
    body = {
        "grant_type": "refresh_token",
        "refresh_token": refresh_token,
        "client_id": DEMO_CREDENTIALS["client_id"],
        "client_secret": DEMO_CREDENTIALS["client_secret"],
        **extra,
    }
    return api.http.post(path, json=body)


def balance_status(api: Api, token: str) -> int:
    return api.call("getBalance", {}, verb="query", token=token).status_code


def test_refresh_rotates_both_tokens_with_string_lifetimes(api: Api) -> None:
    before_ms = int(time.time() * 1000)
    response = refresh(api, DEMO_CREDENTIALS["refresh_token"])
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == "1296000"
    assert body["access_token"] != DEMO_CREDENTIALS["access_token"]
    assert body["refresh_token"] != DEMO_CREDENTIALS["refresh_token"]
    access_ms, refresh_ms = int(body["access_token_expiry"]), int(body["refresh_token_expiry"])
    assert abs(access_ms - (before_ms + 1_296_000_000)) < 5_000
    assert abs(refresh_ms - (before_ms + 30 * 86_400_000)) < 5_000
    # The new access token works, and so does the old one until its own expiry.
    assert balance_status(api, body["access_token"]) == 200
    assert balance_status(api, DEMO_CREDENTIALS["access_token"]) == 200


def test_old_refresh_token_works_during_the_grace_period_only(api: Api) -> None:
    first = refresh(api, DEMO_CREDENTIALS["refresh_token"]).json()
    # Within the 6 h grace the rotated-out token still refreshes.
    assert refresh(api, DEMO_CREDENTIALS["refresh_token"]).status_code == 200
    api.sim_post("config", {"token_grace_s": 0})
    second = refresh(api, first["refresh_token"])
    assert second.status_code == 200
    stale = refresh(api, first["refresh_token"])
    assert stale.status_code == 400
    assert stale.json()["error"] == "invalid_grant"
    assert refresh(api, second.json()["refresh_token"]).status_code == 200


def test_unknown_refresh_token_is_invalid_grant(api: Api) -> None:
    response = refresh(api, "no-such-token")
    assert response.status_code == 400
    assert response.json() == {
        "error": "invalid_grant",
        "error_description": "invalid/expired refresh token",
    }


def test_client_credentials_grant_is_refused(api: Api) -> None:
    response = refresh(api, "", grant_type="client_credentials")
    assert response.status_code == 400
    assert response.json()["error"] == "unsupported_grant_type"


def test_wrong_client_secret_is_invalid_client(api: Api) -> None:
    response = refresh(api, DEMO_CREDENTIALS["refresh_token"], client_secret="wrong")
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_form_encoded_refresh_and_token_path_variants(api: Api) -> None:
    form = {
        "grant_type": "refresh_token",
        "refresh_token": DEMO_CREDENTIALS["refresh_token"],
        "client_id": DEMO_CREDENTIALS["client_id"],
        "client_secret": DEMO_CREDENTIALS["client_secret"],
    }
    for path in (
        "/chef/v1/oauth/token/user",
        "/chef/v1/oauth/token/company",
        "/chef/v1/oauth/token",
    ):
        response = api.http.post(path, data=form)
        assert response.status_code == 200, (path, response.text)
        assert response.json()["expires_in"] == "1296000"
    bad = api.http.post("/chef/v1/oauth/token/access_token", data=form)
    assert bad.status_code == 400
    assert bad.json()["error"] == "invalid_request"


def test_validate_token_reports_seconds_remaining(api: Api) -> None:
    fresh = refresh(api, DEMO_CREDENTIALS["refresh_token"]).json()
    response = api.http.get(
        "/chef/v1/oauth/token", headers={"Authorization": f"Bearer {fresh['access_token']}"}
    )
    assert response.status_code == 200
    body = response.json()
    assert body["access_token"] == fresh["access_token"]
    assert 1_295_990 <= body["expires_in"] <= 1_296_000
    assert body["access_token_expiry"] == int(fresh["access_token_expiry"])
    invalid = api.http.get("/chef/v1/oauth/token", headers={"Authorization": "Bearer nope"})
    assert invalid.status_code == 401
    assert invalid.json()["error"] == "invalid_token"


def test_expired_access_token_then_refresh_recovers(api: Api) -> None:
    assert api.sim_post("tokens/expire")["expired"] == 1
    assert balance_status(api, DEMO_CREDENTIALS["access_token"]) == 401
    fresh = refresh(api, DEMO_CREDENTIALS["refresh_token"]).json()
    assert balance_status(api, fresh["access_token"]) == 200
    api.sim_post("reset")  # the demo pair is valid again after a reset
    assert balance_status(api, DEMO_CREDENTIALS["access_token"]) == 200


def test_at_most_ten_active_pairs_per_client(api: Api) -> None:
    issued = [refresh(api, DEMO_CREDENTIALS["refresh_token"]).json() for _ in range(10)]
    # Eleven pairs now: the oldest (the demo pair) has been invalidated.
    assert balance_status(api, DEMO_CREDENTIALS["access_token"]) == 401
    assert refresh(api, DEMO_CREDENTIALS["refresh_token"]).status_code == 400
    assert all(balance_status(api, pair["access_token"]) == 200 for pair in issued)
