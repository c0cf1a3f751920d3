"""Crash points for tests: the process kills itself with SIGKILL at a named point.

Set REWARDS_FAILPOINT=<name> to have the worker die exactly there, as a power cut or an OOM
kill would; the crash tests then restart it and check that no order is lost or doubled.
Unset (always, outside tests), `hit` does nothing.
"""

from __future__ import annotations

import os
import signal

BEFORE_PLACE = "before_place"  # claimed (placing), placeOrder not sent
AFTER_PLACE = "after_place"  # Xoxoday has the order, our record does not
AFTER_STORE = "after_store"  # the answer is stored
DURING_RELEASE = "during_release"  # a withdrawn order's release row written, not committed


def hit(name: str) -> None:
    if os.environ.get("REWARDS_FAILPOINT") == name:
        os.kill(os.getpid(), signal.SIGKILL)
