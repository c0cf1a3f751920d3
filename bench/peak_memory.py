"""Runs one `rewards-bot` command and reports its own peak resident memory.

The peak a parent reads from wait4() is no use here: Linux keeps the largest resident size a
process ever had across exec, and a child forked from the bench (hundreds of MB) starts with
the bench's. VmHWM in /proc/self/status belongs to the address space exec created, so it is
the command's own.

    python -m bench.peak_memory REPORT_FILE <rewards-bot arguments>
"""

from __future__ import annotations

import sys
from pathlib import Path

from bot.cli import main as rewards_bot


def peak_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM in /proc/self/status (Linux only)")


def main() -> int:
    report, arguments = Path(sys.argv[1]), sys.argv[2:]
    code = rewards_bot(arguments)
    report.write_text(f"{peak_mb():.1f}\n")
    return code


if __name__ == "__main__":
    sys.exit(main())
