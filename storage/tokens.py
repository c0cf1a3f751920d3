"""The Xoxoday token pair in SQLite, so a rotated refresh token survives any restart.

TokenSet is the pair as it is kept (here, in a file, in memory); it lives with its storage so
that storage imports nothing from services (services/xoxoday/tokens.py decides when to refresh).
"""

from __future__ import annotations

import hashlib
import json
import threading
from contextlib import AbstractContextManager
from dataclasses import asdict, dataclass

from storage import filelock
from storage.db import Database, utcnow


def fingerprint(secret: str) -> str:
    """A short, non-reversible id for a token, safe to log and to compare."""
    return hashlib.sha256(secret.encode()).hexdigest()[:12]


@dataclass(frozen=True)
class TokenSet:
    access_token: str
    refresh_token: str
    access_expires_at: float | None = None  # epoch seconds
    refresh_expires_at: float | None = None
    obtained_at: float = 0.0
    # fingerprint of the configured refresh token these were derived from: when the operator
    # puts freshly generated tokens in the environment, those win over the stored chain.
    seed: str = ""

    def __repr__(self) -> str:
        return (
            f"TokenSet(access={fingerprint(self.access_token)}, "
            f"refresh={fingerprint(self.refresh_token)}, expires_at={self.access_expires_at})"
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> TokenSet:
        return cls(**json.loads(text))


class SqliteTokenStore:
    """TokenStore backed by the `tokens` table (one row per named credential)."""

    def __init__(self, database: Database, name: str = "xoxoday") -> None:
        self.database = database
        self.name = name
        self._memory_lock = threading.Lock()  # a ":memory:" database has no file to lock

    def exclusive(self, wait_s: float) -> AbstractContextManager[None]:
        """One refresh at a time across every process on this database: a lock file beside
        it (`rewards.db.xoxoday-tokens.lock`), not SQLite's write lock, which would stall every
        writer for as long as Xoxoday takes to answer the refresh."""
        if str(self.database.path) == ":memory:":
            return filelock.within_process(self._memory_lock, wait_s=wait_s)
        lock = self.database.path.with_name(f"{self.database.path.name}.{self.name}-tokens.lock")
        return filelock.exclusive(lock, wait_s=wait_s)

    def load(self) -> TokenSet | None:
        row = self.database.one("SELECT * FROM tokens WHERE name = ?", [self.name])
        if row is None:
            return None
        return TokenSet(
            access_token=row["access_token"] or "",
            refresh_token=row["refresh_token"] or "",
            access_expires_at=row["access_expires_at"],
            refresh_expires_at=row["refresh_expires_at"],
            obtained_at=row["obtained_at"] or 0.0,
            seed=row["seed"] or "",
        )

    def save(self, tokens: TokenSet) -> None:
        with self.database.tx() as db:
            db.table("tokens").upsert(
                {
                    "name": self.name,
                    "access_token": tokens.access_token,
                    "refresh_token": tokens.refresh_token,
                    "access_expires_at": tokens.access_expires_at,
                    "refresh_expires_at": tokens.refresh_expires_at,
                    "obtained_at": tokens.obtained_at,
                    "seed": tokens.seed,
                    "updated_at": utcnow(),
                },
                pk="name",
            )
