"""Injected failures: the next N calls of an operation fail in a chosen way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Kinds that let the operation run (and commit an order) before the answer fails.
AFTER_COMMIT = frozenset(
    {
        "http_500_after_commit",
        "timeout_after_commit",
        "malformed_json",
        # The answer under another operation's key, one object instead of a list: the
        # workflow guide's getOrderHistory example, keyed getOrderDetails (§12 row 9).
        "wrong_key",
    }
)
BEFORE_COMMIT = frozenset(
    {
        "http_500_before_commit",
        "rate_limit",
        "invalid_token",
        "token_error",  # 401 {"success":0,"error_message_id":"auth.token_error"}
        "out_of_stock",
        "http_502",
        "status_zero",
        "redeem_failed",  # 422 PLE10010 "Failed to redeem points"; nothing is created
    }
)
# A gateway answers 504 (an HTML page) after delay_s (default 0) while the order commits
# commit_after_s later (default: the late_commit_s setting), unseen by getOrderDetails until;
# or, with commit_after_lookups N, right after the Nth getOrderDetails that did not find it, or
# with commit_after_placed_again, right after the same poNumber is placed again (tests that must
# not depend on how fast a loaded machine looks it up or places it again).
LATE_COMMIT = "late_commit"
KINDS = AFTER_COMMIT | BEFORE_COMMIT | {LATE_COMMIT}
# The token endpoint takes one kind: {"message": "auth.request_limit_exceeded"}, answered
# with http_status (default 429; Xoxoday documents no status for it).
REFRESH_OP = "refreshToken"
REFRESH_KINDS = frozenset({"rate_limit"})


@dataclass
class Fault:
    op: str  # a canonical operation name or "*"
    kind: str
    times: int
    delay_s: float = 130.0  # timeout_after_commit, late_commit: how long the answer is held
    penalty_seconds: int = 60  # rate_limit
    commit_after_s: float | None = None  # late_commit: None means config.late_commit_s
    commit_after_lookups: int | None = None  # late_commit: commit after N "not found" instead
    commit_after_placed_again: bool = False  # late_commit: commit once it is placed again
    http_status: int | None = None  # refreshToken rate_limit: the status it answers with

    def to_json(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "kind": self.kind,
            "remaining": self.times,
            "delay_s": self.delay_s,
            "penalty_seconds": self.penalty_seconds,
            "commit_after_s": self.commit_after_s,
            "commit_after_lookups": self.commit_after_lookups,
            "commit_after_placed_again": self.commit_after_placed_again,
            "http_status": self.http_status,
        }


class FaultPlan:
    """Not thread-safe on its own; the app calls it under its state lock."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def take(self, op: str, wildcard: bool = True) -> Fault | None:
        """Consume one use of the first fault that matches `op`, in the order they were added
        ("*" matches every API operation, not the token endpoint)."""
        for fault in self.faults:
            if (fault.op == op or (wildcard and fault.op == "*")) and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None
