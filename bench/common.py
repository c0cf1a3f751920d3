"""Shared bits of the benchmarks: percentiles, the machine, a results table."""

from __future__ import annotations

import os
import platform
import resource
import statistics
from dataclasses import dataclass, field
from pathlib import Path

OUT = Path(__file__).parent / "out"


def percentile(values: list[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty list."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f} ms"


def machine() -> str:
    cpu = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    system = f"{platform.system()} {platform.machine()}"
    return f"{system}, {os.cpu_count()} cores ({cpu}), Python {platform.python_version()}"


def rss_mb() -> float:
    """Resident memory of this process now (Linux), in MB."""
    try:
        pages = int(Path("/proc/self/statm").read_text().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 1_048_576
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *cells: object) -> None:
        self.rows.append([str(c) for c in cells])

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.header) + " |"]
        lines.append("|" + "---|" * len(self.header))
        lines += ["| " + " | ".join(row) + " |" for row in self.rows]
        lines += ["", *self.notes]
        return "\n".join(lines)

    def show(self) -> None:
        widths = [max(len(h), *(len(r[i]) for r in self.rows)) for i, h in enumerate(self.header)]
        print(f"\n{self.title}")
        print("  ".join(h.ljust(w) for h, w in zip(self.header, widths, strict=True)))
        for row in self.rows:
            print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))
        for note in self.notes:
            print(note)


def save(name: str, tables: list[Table], command: str) -> Path:
    OUT.mkdir(exist_ok=True)
    path = OUT / f"{name}.md"
    body = [f"Command: `{command}`", f"Machine: {machine()}", ""]
    body += [t.markdown() + "\n" for t in tables]
    path.write_text("\n".join(body))
    return path


def mean(values: list[float]) -> float:
    return statistics.fmean(values)
