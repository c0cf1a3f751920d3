"""OAuth token pairs: issue, rotate on refresh with a grace period, cap, validate.

Xoxoday's rules (reference §2.5): every refresh returns a new refresh token; the old one keeps
working for 6 hours, the old access token until its own expiry; at most 10 active pairs per
client, the oldest being invalidated beyond that.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

MAX_PAIRS = 10
NEVER = 4_102_444_800.0  # 2100-01-01: the demo pair outlives any simulator run

DEMO_CREDENTIALS: dict[str, str] = {
    "client_id": "demo-client",
    "client_secret": "demo-secret",
    "access_token": "demo-access-token",
    "refresh_token": "demo-refresh-token",
}


@dataclass
class TokenPair:
    client_id: str
    access_token: str
    refresh_token: str
    access_expiry: float  # epoch seconds
    refresh_expiry: float
    revoked: bool = False

    def active(self, now: float) -> bool:
        return not self.revoked and (self.access_expiry > now or self.refresh_expiry > now)


class TokenStore:
    """Not thread-safe on its own; the app calls it under its state lock."""

    def __init__(self, clients: dict[str, str]) -> None:
        self.clients = dict(clients)  # client_id -> secret
        self.pairs: list[TokenPair] = []
        self._by_access: dict[str, TokenPair] = {}
        self._by_refresh: dict[str, TokenPair] = {}

    @classmethod
    def with_demo_pair(cls) -> TokenStore:
        demo = DEMO_CREDENTIALS
        store = cls({demo["client_id"]: demo["client_secret"]})
        store._add(
            TokenPair(demo["client_id"], demo["access_token"], demo["refresh_token"], NEVER, NEVER)
        )
        return store

    def _add(self, pair: TokenPair) -> None:
        self.pairs.append(pair)
        self._by_access[pair.access_token] = pair
        self._by_refresh[pair.refresh_token] = pair

    def client_ok(self, client_id: str, secret: str) -> bool:
        expected = self.clients.get(client_id)
        return expected is not None and secrets.compare_digest(expected, secret)

    def access_pair(self, token: str, now: float) -> TokenPair | None:
        """The pair whose access token is `token`, if that token is still valid."""
        pair = self._by_access.get(token)
        if pair is None or pair.revoked or pair.access_expiry <= now:
            return None
        return pair

    def refresh(
        self,
        client_id: str,
        refresh_token: str,
        now: float,
        access_ttl: float,
        refresh_ttl: float,
        grace: float,
    ) -> TokenPair | None:
        """Rotate: a new pair, the old refresh token cut to the grace period; None if invalid."""
        old = self._by_refresh.get(refresh_token)
        if old is None or old.revoked or old.refresh_expiry <= now or old.client_id != client_id:
            return None
        old.refresh_expiry = min(old.refresh_expiry, now + grace)
        new = TokenPair(
            client_id,
            secrets.token_urlsafe(32),
            secrets.token_urlsafe(32),
            now + access_ttl,
            now + refresh_ttl,
        )
        self._add(new)
        active = [p for p in self.pairs if p.client_id == client_id and p.active(now)]
        for stale in active[: max(0, len(active) - MAX_PAIRS)]:
            stale.revoked = True
        return new

    def expire_access_tokens(self, now: float) -> int:
        """Make every valid access token expire now (refresh tokens keep working)."""
        count = 0
        for pair in self.pairs:
            if not pair.revoked and pair.access_expiry > now:
                pair.access_expiry = now
                count += 1
        return count
