"""Token rotation: saved before use, surviving a restart, refreshed ahead of expiry, never logged."""

from __future__ import annotations

import json
import logging
import os
import stat
import time
from dataclasses import replace
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


# --- several processes on one database (the bot and an operator's command) ----------------------


def week_old_pair(xo: SimControl, db: Path) -> None:
    """A database whose stored pair is 8 days old: Xoxoday's weekly rotation is due."""
    from bot.runtime import build_runtime
    from tests.lifecycle.conftest import settings_for

    seed = build_runtime(settings_for(xo, db))
    seed.client.tokens.current()  # first start: the configured pair is stored
    seed.database.execute("UPDATE tokens SET obtained_at = ?", [time.time() - 8 * 86400])
    seed.close()


def test_the_bot_adopts_a_pair_another_process_rotated_instead_of_refreshing_again(
    xo: SimControl, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The review's case: `catalog refresh` rotates the tokens while the bot holds the old pair
    in memory; with no grace for the old refresh token, refreshing from that copy locked the
    bot out and told the operator to generate new tokens."""
    from bot.runtime import build_runtime
    from tests.lifecycle.conftest import settings_for
    from tests.support import cli_env, rewards_bot

    caplog.set_level(logging.INFO, logger="services.xoxoday.tokens")
    xo.config(token_grace_s=0)  # the auth spec: a rotated refresh token dies at once
    db = tmp_path / "rewards.db"
    week_old_pair(xo, db)
    bot = build_runtime(settings_for(xo, db))
    try:
        held = bot.client.tokens.current()  # `rewards-bot run`, up for a week
        other = rewards_bot(cli_env(xo.base_url, db), "catalog", "refresh")
        assert other.returncode == 0, other.stderr  # a process of its own rotated the pair
        stored = bot.database.one("SELECT refresh_token FROM tokens")
        assert stored is not None and stored["refresh_token"] != held.refresh_token
        assert bot.client.get_balance().amount > 0  # due by its copy: adopts the stored pair
        assert bot.client.get_balance().amount > 0
        assert bot.client.tokens.current().refresh_token == stored["refresh_token"]
    finally:
        bot.close()
    assert "refreshed by another process" in caplog.text
    assert "Xoxoday tokens refreshed (" not in caplog.text  # this process never refreshed


def test_two_processes_due_at_once_refresh_once(
    xo: SimControl, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Both due at the same moment: one refreshes, the other waits for it and adopts its pair
    (each runtime has its own connections and lock-file descriptor, as a process would)."""
    import threading

    from bot.runtime import build_runtime
    from tests.lifecycle.conftest import settings_for

    caplog.set_level(logging.INFO, logger="services.xoxoday.tokens")
    xo.config(token_grace_s=0, latency_ms=300)  # both refreshes would be in flight together
    db = tmp_path / "rewards.db"
    week_old_pair(xo, db)
    runtimes = [build_runtime(settings_for(xo, db)) for _ in range(2)]
    barrier = threading.Barrier(2)
    errors: list[Exception] = []

    def call(runtime: object) -> None:
        barrier.wait()
        try:
            runtime.client.get_balance()  # type: ignore[attr-defined]
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=call, args=(r,)) for r in runtimes]
    try:
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=30)
        assert errors == []
        pairs = {r.client.tokens.current().refresh_token for r in runtimes}
        stored = runtimes[0].database.one("SELECT refresh_token FROM tokens")
        assert stored is not None and pairs == {stored["refresh_token"]}
    finally:
        for runtime in runtimes:
            runtime.close()
    assert caplog.text.count("Xoxoday tokens refreshed (") == 1
    assert caplog.text.count("refreshed by another process") == 1


def test_a_refused_refresh_token_adopts_a_good_pair_another_process_stored(
    xo: SimControl, tmp_path: Path
) -> None:
    """A process that rotates without the lock (an older release, mid-upgrade) spends the
    refresh token between our read and our refresh: before telling the operator to generate
    new tokens, the store is read again, and its good pair is used."""
    from services.xoxoday.tokens import TokenManager
    from storage.db import Database
    from storage.migrations import migrate
    from storage.tokens import SqliteTokenStore

    xo.config(token_grace_s=0)
    database = Database(tmp_path / "rewards.db")
    migrate(database)
    store = SqliteTokenStore(database)
    rotated: list[TokenSet] = []
    with make_client(xo.base_url, store) as client:

        def rotated_elsewhere_first(refresh_token: str) -> TokenSet:
            answer = refresh_raw(xo, refresh_token).json()  # the lock-less process
            rotated.append(TokenSet(answer["access_token"], answer["refresh_token"]))
            store.save(replace(rotated[0], seed=store.load().seed))  # type: ignore[union-attr]
            return client._refresh_tokens(refresh_token)  # ours, with the spent token

        manager = TokenManager(store, rotated_elsewhere_first, DEMO_TOKENS)
        assert manager.refresh() == rotated[0].access_token
    assert manager.current().refresh_token == rotated[0].refresh_token
    database.close()


# --- §13 row 2: an expiry in the past is not trusted ---------------------------------------------


def test_an_expiry_in_the_past_is_not_trusted_expires_in_is(
    xo: SimControl, caplog: pytest.LogCaptureFixture
) -> None:
    """The auth spec's own example answers access_token_expiry 1718000000000 (2024) with
    expires_in 1296000: trusting the expiry refreshed before every call, until Xoxoday's
    refresh limit refused them all while the access token still worked."""
    caplog.set_level(logging.WARNING, logger="services.xoxoday.client")
    xo.config(token_expiry_in_past=True, refresh_limit_per_min=2)
    with make_client(xo.base_url) as client:
        xo.expire_tokens()
        client.get_balance()  # refused, refreshed once, retried
        first = client.tokens.current()
        for _ in range(5):
            client.get_balance()  # no refresh: the token is good for 15 days
        current = client.tokens.current()
    assert current.access_token == first.access_token != DEMO_CREDENTIALS["access_token"]
    assert current.access_expires_at is not None
    assert abs(current.access_expires_at - (time.time() + 1_296_000)) < 600
    assert current.refresh_expires_at is None  # also past: not trusted, not made up
    assert "access_token_expiry" in caplog.text and "expires_in" in caplog.text


@pytest.mark.parametrize(
    ("expiry_ms_from_now", "trusted"),
    [(1_296_000_000, True), (1_296_000_000 + 3_600_000, True), (90 * 86_400_000, False)],
)
def test_an_expiry_far_from_expires_in_is_not_trusted(
    expiry_ms_from_now: int, trusted: bool
) -> None:
    from services.xoxoday.client import token_expiry

    now = 1_800_000_000.0
    expiry = str(int(now * 1000) + expiry_ms_from_now)
    at, why = token_expiry(expiry, "1296000", now)
    if trusted:
        assert at == pytest.approx(now + expiry_ms_from_now / 1000) and why is None
    else:
        assert at == now + 1_296_000 and why is not None and "expires_in" in why
    assert token_expiry(None, "1296000", now) == (now + 1_296_000, None)
    assert token_expiry("1718000000000", None, now)[0] is None  # past, nothing to go by
