"""Progress of long operator commands: `orders import` and `worker --until-idle`.

In a terminal, a rich progress bar with counts, rate and time left; otherwise (a pipe, a
log file, cron) one plain line each time another tenth is done, so a 20-minute run of 2,000
orders at Xoxoday's 100 a minute says where it stands without flooding the log. Progress
goes to standard error, beside the log; standard output keeps the command's result.
"""

from __future__ import annotations

import logging
import sqlite3
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, Protocol, TextIO

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskProgressColumn,
    TextColumn,
    TimeRemainingColumn,
)

from storage import orders as order_store
from storage.db import Database
from storage.models import IN_FLIGHT_STATES

# With LOG_FORMAT=json the lines go through the log, so standard error stays JSON throughout.
PROGRESS_LOG = logging.getLogger("rewards-bot.progress")

# Where a placement ends, for now or for good: it left queued / placing / unknown.
PLACED_OR_DONE = ("placed", "delivered", "canceled", "failed")


class Reporter(Protocol):
    def update(self, done: int, total: int) -> None: ...

    def close(self) -> None: ...


def _rate_and_left(done: int, total: int, elapsed: float) -> str:
    if done <= 0 or elapsed <= 0:
        return ""
    rate = done / elapsed
    left = (total - done) / rate
    # Per minute up to 10 a second: Xoxoday's limits are per minute (placeOrder 100).
    per = f"{rate:.1f}/s" if rate >= 10 else f"{rate * 60:.1f}/min"
    return f", {per}, about {_duration(left)} left" if done < total else f", {per}"


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    if seconds < 60:
        return f"{seconds} s"
    minutes, seconds = divmod(seconds, 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


class LineReporter:
    """`placing orders: 30% (60/200), 1.7/s, about 2 min 00 s left`: one line per tenth."""

    def __init__(
        self,
        label: str,
        stream: TextIO | None = None,
        *,
        emit: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.label = label
        self._emit = emit or self._write
        self.stream = stream if stream is not None else sys.stderr
        self._clock = clock
        self._started = clock()
        self._tenths = 0  # the last tenth a line was written for
        self._last: tuple[int, int] = (0, 0)

    def update(self, done: int, total: int) -> None:
        self._last = (done, total)
        if total <= 0:
            return
        tenths = min(done * 10 // total, 10)
        if tenths > self._tenths:
            self._tenths = tenths
            self._line(done, total, tenths * 10)

    def _line(self, done: int, total: int, percent: int) -> None:
        timing = _rate_and_left(done, total, self._clock() - self._started)
        self._emit(f"{self.label}: {percent}% ({done}/{total}){timing}")

    def _write(self, text: str) -> None:
        self.stream.write(text + "\n")
        self.stream.flush()

    def close(self) -> None:
        done, total = self._last
        if total > 0 and done >= total and self._tenths < 10:
            self._tenths = 10
            self._line(done, total, 100)


class BarReporter:
    """A rich progress bar: counts, percentage, rate and time left."""

    def __init__(self, label: str, stream: TextIO) -> None:
        self._progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TaskProgressColumn(),
            TextColumn("{task.fields[rate]}"),
            TimeRemainingColumn(),
            console=Console(file=stream),
            transient=False,
        )
        self._task = self._progress.add_task(label, total=None, rate="")
        self._stream = stream
        self._moved: list[tuple[logging.StreamHandler[Any], Any]] = []
        self._progress.start()
        self._route_logs()

    def _route_logs(self) -> None:
        """While the bar shows, rich puts a proxy in place of sys.stderr that prints above
        the bar; the log's handler still holds the stream itself, so its lines would cut
        through the bar. They go through the proxy until the bar is closed."""
        proxy = sys.stderr
        if proxy is self._stream:
            return  # not redirected (not a terminal after all)
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is self._stream:
                self._moved.append((handler, handler.setStream(proxy)))

    def update(self, done: int, total: int) -> None:
        task = self._progress.tasks[0]
        speed = task.speed
        rate = f"{speed:.1f}/s" if speed else ""
        self._progress.update(self._task, completed=done, total=total or None, rate=rate)

    def close(self) -> None:
        for handler, stream in self._moved:
            handler.setStream(stream)
        self._moved.clear()
        self._progress.stop()


def reporter(label: str, stream: TextIO | None = None, *, log_format: str = "text") -> Reporter:
    """A bar when `stream` is a terminal, plain lines otherwise (log records when the log is
    JSON). The default is standard error, as for the log: standard output keeps only a
    command's result, for scripts."""
    out = stream if stream is not None else sys.stderr
    if out.isatty():
        return BarReporter(label, out)
    if log_format == "json":
        PROGRESS_LOG.setLevel(logging.INFO)  # shown even when the command logs warnings only
        return LineReporter(label, emit=PROGRESS_LOG.info)
    return LineReporter(label, out)


def placement_progress(database: Database) -> Callable[[], tuple[int, int]]:
    """(done, total) of the placements since now: an order is done once it has left queued,
    placing and unknown; the total grows when more are approved meanwhile. Read from the
    database's per-state counts (nine rows), so any process can watch any worker."""
    start = order_store.count_by_state(database)
    baseline = sum(start.get(state, 0) for state in PLACED_OR_DONE)

    def read() -> tuple[int, int]:
        counts = order_store.count_by_state(database)
        done = sum(counts.get(state, 0) for state in PLACED_OR_DONE) - baseline
        waiting = sum(counts.get(state, 0) for state in IN_FLIGHT_STATES)
        return max(done, 0), max(done, 0) + waiting

    return read


class Watcher:
    """Calls `read` every `interval_s` on a thread of its own and reports what it says."""

    def __init__(
        self, read: Callable[[], tuple[int, int]], report: Reporter, interval_s: float = 0.25
    ) -> None:
        self._read = read
        self._report = report
        self._interval = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="progress", daemon=True)

    def __enter__(self) -> Watcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._report.update(*self._read())  # the final count
        self._report.close()

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._report.update(*self._read())
            except sqlite3.Error:  # busy for a moment: the next tick will tell
                continue
