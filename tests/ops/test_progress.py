"""Progress of `orders import` and `worker --until-idle` when the output is not a terminal:
one line per tenth; and the bar a terminal gets."""

from __future__ import annotations

import io
import logging
import re
from pathlib import Path

from bot.progress import BarReporter, LineReporter, reporter
from tests.support import SimControl, cli_env, rewards_bot

LINE = re.compile(r"(?P<label>[a-z ]+): (?P<pct>\d+)% \((?P<done>\d+)/(?P<total>\d+)\)(?P<rest>.*)")


def progress_lines(stderr: str, label: str) -> list[re.Match[str]]:
    found = [LINE.fullmatch(line) for line in stderr.splitlines()]
    return [m for m in found if m is not None and m["label"] == label]


def test_import_and_worker_report_a_line_per_tenth_when_not_a_terminal(
    xo: SimControl, tmp_path: Path
) -> None:
    rows = ["productId,denomination,email"] + [f"27222,25,p{i}@example.com" for i in range(40)]
    path = tmp_path / "forty.csv"
    path.write_text("\n".join(rows) + "\n")
    env = cli_env(xo.base_url, tmp_path / "progress.db")

    imported = rewards_bot(env, "orders", "import", str(path), "--requester", "ops")
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.startswith("R-1: 40 order(s)")  # stdout keeps the result alone
    checked = progress_lines(imported.stderr, "checking rows")
    assert [int(m["pct"]) for m in checked] == list(range(10, 101, 10))  # 40 rows, 4 a line
    assert [int(m["done"]) for m in checked] == list(range(4, 41, 4))
    assert all(m["total"] == "40" for m in checked)

    xo.config(latency_ms=150)  # 40 orders, 4 at a time: a couple of seconds of placing
    worker = rewards_bot(env, "worker", "--until-idle")
    assert worker.returncode == 0, worker.stderr
    placing = progress_lines(worker.stderr, "placing orders")
    percents = [int(m["pct"]) for m in placing]
    assert len(placing) >= 3, worker.stderr  # several tenths, not only the end
    assert percents == sorted(set(percents)) and percents[-1] == 100
    assert all(p % 10 == 0 for p in percents)
    assert all(m["total"] == "40" for m in placing)
    assert placing[-1]["done"] == "40" and re.search(r"/(s|min)$", placing[-1]["rest"])
    assert "left" in placing[0]["rest"]  # time left while it works
    assert "\x1b[" not in worker.stderr  # no terminal codes in a pipe
    assert "{'delivered': 40}" in worker.stdout


def test_line_reporter_says_rate_and_time_left() -> None:
    now = [0.0]
    out = io.StringIO()
    line = LineReporter("placing orders", out, clock=lambda: now[0])
    for done in range(0, 2001, 50):  # 2,000 orders at 100 a minute
        now[0] = done * 0.6
        line.update(done, 2000)
    line.close()
    lines = out.getvalue().splitlines()
    assert len(lines) == 10
    assert lines[0] == "placing orders: 10% (200/2000), 100.0/min, about 18 min 00 s left"
    assert lines[-1] == "placing orders: 100% (2000/2000), 100.0/min"


def test_a_terminal_gets_a_bar() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    log = logging.StreamHandler(screen)
    root = logging.getLogger()
    root.addHandler(log)
    try:
        bar = reporter("placing orders", screen)
        assert isinstance(bar, BarReporter)
        bar.update(30, 120)
        logging.getLogger("rewards").warning("a line logged while the bar shows")
        bar.update(120, 120)
        bar.close()
    finally:
        root.removeHandler(log)
    assert log.stream is screen  # given back when the bar is gone
    shown = screen.getvalue()
    assert "placing orders" in shown and "120/120" in shown and "100%" in shown
    assert shown.count("a line logged while the bar shows") == 1
    assert isinstance(reporter("placing orders", io.StringIO()), LineReporter)
