"""Token rotation: saved before use, surviving a restart, refreshed ahead of expiry, never logged."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from pathlib import Path

import httpx
import pytest

from services.xoxoday import FileTokenStore, MemoryTokenStore, TokenSet
from services.xoxoday import errors as E
from simulator.xoxoday import DEMO_CREDENTIALS
from tests.support import DEMO_TOKENS, SimControl, make_client


def refresh_raw(xo: SimControl, refresh_token: str) -> httpx.Response:
    return xo.http.post(
        "/chef/v1/oauth/token/user",
        json={
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": DEMO_CREDENTIALS["client_id"],
            "client_secret": DEMO_CREDENTIALS["client_secret"],
        },
    )


def test_rotated_tokens_survive_a_restart_of_the_client(xo: SimControl, tmp_path: Path) -> None:
    path = tmp_path / "tokens.json"
    with make_client(xo.base_url, FileTokenStore(path)) as client:
        client.get_balance()
        xo.expire_tokens()  # Xoxoday invalidates the access token
        client.get_balance()  # refreshes once, saves, retries
        rotated = client.tokens.current()
    assert rotated.refresh_token != DEMO_CREDENTIALS["refresh_token"]
    saved = json.loads(path.read_text())
    assert saved["refresh_token"] == rotated.refresh_token
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600

    # A new process with the same environment: the stored chain wins over the env tokens.
    with make_client(xo.base_url, FileTokenStore(path)) as restarted:
        assert restarted.tokens.current().access_token == rotated.access_token
        assert restarted.get_balance().value > 0
        assert xo.calls("getBalance") == 3


def test_refreshed_pair_is_saved_before_it_is_used(xo: SimControl) -> None:
    seen: list[str] = []

    class RecordingStore(MemoryTokenStore):
        def save(self, tokens: TokenSet) -> None:
            seen.append(tokens.access_token)
            super().save(tokens)

    store = RecordingStore()
    with make_client(xo.base_url, store) as client:
        xo.expire_tokens()
        client.get_balance()
        assert client.tokens.current().access_token == seen[-1]
        assert seen[-1] != DEMO_CREDENTIALS["access_token"]


def test_refresh_ahead_of_expiry(xo: SimControl) -> None:
    soon = TokenSet(
        DEMO_CREDENTIALS["access_token"],
        DEMO_CREDENTIALS["refresh_token"],
        access_expires_at=time.time() + 60,  # under the one-day margin
    )
    with make_client(xo.base_url, initial=soon) as client:
        client.get_balance()
        current = client.tokens.current()
    assert current.access_token != soon.access_token
    assert current.access_expires_at and current.access_expires_at > time.time() + 14 * 86400


def test_old_refresh_token_still_works_within_the_grace_period(xo: SimControl) -> None:
    first = refresh_raw(xo, DEMO_CREDENTIALS["refresh_token"]).json()
    second = refresh_raw(xo, first["refresh_token"]).json()
    assert second["refresh_token"] != first["refresh_token"]
    again = refresh_raw(xo, first["refresh_token"])  # rotated out, still inside 6 h
    assert again.status_code == 200
    assert isinstance(first["expires_in"], str)  # Xoxoday sends it as a string; we parse both


def test_refresh_token_rejected_is_a_clear_error_without_the_token(xo: SimControl) -> None:
    bad = TokenSet("not-a-token", "not-a-refresh-token-either")
    with (
        make_client(xo.base_url, initial=bad) as client,
        pytest.raises(E.RefreshTokenRejected) as info,
    ):
        client.get_balance()
    message = str(info.value)
    assert "dashboard" in message and "not-a-refresh-token-either" not in message


def test_new_tokens_from_the_operator_replace_a_stored_chain(xo: SimControl) -> None:
    store = MemoryTokenStore(TokenSet("stale-access", "stale-refresh", seed="an-old-seed"))
    with make_client(xo.base_url, store) as client:
        assert client.get_balance().value > 0
        assert client.tokens.current().access_token == DEMO_TOKENS.access_token


def test_no_token_or_secret_in_log_lines(xo: SimControl, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    with make_client(xo.base_url) as client:
        xo.expire_tokens()
        client.get_balance()
        current = client.tokens.current()
    text = caplog.text
    assert "refreshed" in text  # the refresh itself is logged…
    for secret in (
        current.access_token,
        current.refresh_token,
        DEMO_CREDENTIALS["refresh_token"],
        DEMO_CREDENTIALS["client_secret"],
    ):
        assert secret not in text  # …by fingerprint only
