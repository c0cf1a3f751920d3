"""Plum Pro OAuth tokens: where they are kept and when they are refreshed.

Every refresh rotates the refresh token and Xoxoday accepts the old one for only 6 more hours
(the auth spec says not at all), so the new pair is saved through a TokenStore *before* it is
used: a restart never loses it.

Several processes share one store (the bot, and `orders import` or `catalog refresh` run by an
operator). So a refresh happens inside the store's `exclusive()` section, which is held across
processes: it re-reads the stored pair first and adopts it when another process has already
rotated it, instead of refreshing with a refresh token that no longer works (review of
issues 8/9, finding 2).
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Protocol

from services.xoxoday import errors as E
from storage import filelock
from storage.tokens import TokenSet, fingerprint

log = logging.getLogger(__name__)

REFRESH_MARGIN_S = 24 * 3600  # refresh when the access token has less than a day left
ROTATE_EVERY_S = 7 * 24 * 3600  # Xoxoday suggests refreshing weekly, keeping the 30-day RT alive
# How long to wait for another process's refresh: longer than one refresh call can take
# (connect and read timeouts), so a waiter gives up only when the holder is stuck.
REFRESH_LOCK_WAIT_S = 120.0


class TokenStore(Protocol):
    def load(self) -> TokenSet | None: ...

    def save(self, tokens: TokenSet) -> None: ...

    def exclusive(self, wait_s: float) -> AbstractContextManager[None]:
        """Held around read-refresh-save, so one holder (thread or process) refreshes at a
        time; raises TimeoutError after waiting `wait_s` seconds."""
        ...


class MemoryTokenStore:
    def __init__(self, tokens: TokenSet | None = None) -> None:
        self._tokens = tokens
        self._lock = threading.Lock()

    def load(self) -> TokenSet | None:
        return self._tokens

    def save(self, tokens: TokenSet) -> None:
        self._tokens = tokens

    def exclusive(self, wait_s: float) -> AbstractContextManager[None]:
        return filelock.within_process(self._lock, wait_s=wait_s)


class FileTokenStore:
    """Tokens in a JSON file readable by its owner only, replaced atomically."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def exclusive(self, wait_s: float) -> AbstractContextManager[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        return filelock.exclusive(self.path.with_name(self.path.name + ".lock"), wait_s=wait_s)

    def load(self) -> TokenSet | None:
        try:
            return TokenSet.from_json(self.path.read_text())
        except FileNotFoundError:
            return None
        except (ValueError, TypeError):
            log.warning("token file %s is unreadable; ignoring it", self.path)
            return None

    def save(self, tokens: TokenSet) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=".tokens-")
        try:
            os.fchmod(fd, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(tokens.to_json())
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise


Refresher = Callable[[str], TokenSet]


class TokenManager:
    """Hands out a valid access token, refreshing ahead of expiry and after a rejection."""

    def __init__(
        self,
        store: TokenStore,
        refresher: Refresher,
        initial: TokenSet | None = None,
        *,
        clock: Callable[[], float] = time.time,
        refresh_margin_s: float = REFRESH_MARGIN_S,
        lock_wait_s: float = REFRESH_LOCK_WAIT_S,
    ) -> None:
        self._store = store
        self._refresher = refresher
        self._initial = (
            replace(initial, seed=fingerprint(initial.refresh_token)) if initial else None
        )
        self._clock = clock
        self._margin = refresh_margin_s
        self._lock_wait_s = lock_wait_s
        self._lock = threading.RLock()
        self._current: TokenSet | None = None

    def _load(self) -> TokenSet | None:
        stored = self._store.load()
        initial = self._initial
        if initial and (stored is None or stored.seed != initial.seed):
            # First start, or the operator configured new tokens: they replace the stored chain.
            seeded = replace(initial, obtained_at=initial.obtained_at or self._clock())
            self._store.save(seeded)
            return seeded
        return stored

    def current(self) -> TokenSet:
        with self._lock:
            if self._current is None:
                self._current = self._load()
            if self._current is None:
                raise E.AuthError(
                    "no Xoxoday tokens: set XOXODAY_REFRESH_TOKEN (and XOXODAY_ACCESS_TOKEN)"
                )
            return self._current

    def _due(self, tokens: TokenSet) -> bool:
        now = self._clock()
        if not tokens.access_token:
            return True
        if tokens.access_expires_at is not None and tokens.access_expires_at - now < self._margin:
            return True
        return bool(tokens.obtained_at) and now - tokens.obtained_at > ROTATE_EVERY_S

    def access_token(self) -> str:
        with self._lock:
            tokens = self.current()
            if self._due(tokens):
                # Due by this process's copy; the store may hold a pair another process
                # obtained since, and then our refresh token is already spent.
                with self._exclusive():
                    stored = self._store.load() or tokens
                    tokens = self._refresh(stored) if self._due(stored) else self._adopt(stored)
            return tokens.access_token

    def refresh(self, rejected_access_token: str | None = None) -> str:
        """Refresh after a rejection; if another thread or process already did, reuse theirs."""
        with self._lock, self._exclusive():
            stored = self._store.load()
            if stored and rejected_access_token and stored.access_token != rejected_access_token:
                return self._adopt(stored).access_token
            return self._refresh(stored or self.current()).access_token

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        try:
            with self._store.exclusive(self._lock_wait_s):
                yield
        except TimeoutError:
            raise E.TransportError(
                f"another process has been refreshing the Xoxoday tokens for over "
                f"{self._lock_wait_s:g} s; will try again",
                op="refreshToken",
            ) from None

    def _adopt(self, stored: TokenSet) -> TokenSet:
        if self._current is None or stored.refresh_token != self._current.refresh_token:
            log.info(
                "Xoxoday tokens were refreshed by another process; using them (refresh token %s)",
                fingerprint(stored.refresh_token),
            )
        self._current = stored
        return stored

    def _refresh(self, tokens: TokenSet) -> TokenSet:
        try:
            fresh = self._refresher(tokens.refresh_token)
        except E.RefreshTokenRejected:
            # Before telling the operator to generate new tokens: a process that refreshes
            # without the lock (an older release, mid-upgrade) may have stored a good pair.
            stored = self._store.load()
            if stored is not None and stored.refresh_token != tokens.refresh_token:
                return self._adopt(stored)
            raise
        fresh = replace(fresh, seed=tokens.seed, obtained_at=fresh.obtained_at or self._clock())
        self._store.save(fresh)  # persist the rotated refresh token before anything uses it
        self._current = fresh
        log.info(
            "Xoxoday tokens refreshed (refresh token %s -> %s)",
            fingerprint(tokens.refresh_token),
            fingerprint(fresh.refresh_token),
        )
        return fresh
