"""Injected failures: the next N calls of an operation fail in a chosen way."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

# Kinds that let the operation run (and commit an order) before the answer fails.
AFTER_COMMIT = frozenset({"http_500_after_commit", "timeout_after_commit", "malformed_json"})
BEFORE_COMMIT = frozenset(
    {
        "http_500_before_commit",
        "rate_limit",
        "invalid_token",
        "out_of_stock",
        "http_502",
        "status_zero",
    }
)
KINDS = AFTER_COMMIT | BEFORE_COMMIT


@dataclass
class Fault:
    op: str  # a canonical operation name or "*"
    kind: str
    times: int
    delay_s: float = 130.0  # timeout_after_commit: how long the answer is held
    penalty_seconds: int = 60  # rate_limit

    def to_json(self) -> dict[str, Any]:
        return {
            "op": self.op,
            "kind": self.kind,
            "remaining": self.times,
            "delay_s": self.delay_s,
            "penalty_seconds": self.penalty_seconds,
        }


class FaultPlan:
    """Not thread-safe on its own; the app calls it under its state lock."""

    def __init__(self) -> None:
        self.faults: list[Fault] = []

    def add(self, fault: Fault) -> None:
        self.faults.append(fault)

    def take(self, op: str) -> Fault | None:
        """Consume one use of the first fault that matches `op`, in the order they were added."""
        for fault in self.faults:
            if fault.op in (op, "*") and fault.times > 0:
                fault.times -= 1
                if fault.times == 0:
                    self.faults.remove(fault)
                return fault
        return None
