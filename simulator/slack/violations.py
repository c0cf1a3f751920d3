"""What the stand-in saw the app do that Slack would refuse, cut or show as an error.

Every fake records its violations here as well as on itself, in one process-wide ledger, so a
test harness can fail any test during which an app broke one of Slack's rules, even with a
fake that was started and stopped inside the test:

    mark = ledger_mark()
    ...                                   # the test
    assert not unclaimed_since(mark)

A test that breaks a rule on purpose claims what it expected with `FakeSlack.take_violations()`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field


@dataclass
class Violation:
    method: str  # the Web API method, "response_url", or the kind of ack
    error: str  # what Slack answers (invalid_blocks, used_url…) or did (text_truncated)
    problems: list[str]
    at: float = field(default_factory=time.time)
    claimed: bool = False

    def __str__(self) -> str:
        return f"{self.method}: {self.error}: {'; '.join(self.problems)}"


_ledger: list[Violation] = []
_lock = threading.Lock()


def record(violation: Violation) -> None:
    with _lock:
        _ledger.append(violation)


def ledger_mark() -> int:
    with _lock:
        return len(_ledger)


def unclaimed_since(mark: int) -> list[Violation]:
    with _lock:
        return [v for v in _ledger[mark:] if not v.claimed]


def claim(found: list[Violation]) -> None:
    with _lock:
        for violation in found:
            violation.claimed = True
