"""Durations as people write them in settings: `90s`, `30m`, `4h`, `7d`.

One parser for every duration setting (REWARDS_REMIND_AFTER, REWARDS_ESCALATE_AFTER,
REWARDS_EXPIRE_AFTER, REWARDS_DUPLICATE_WINDOW), so they all read and fail the same way.
"""

from __future__ import annotations

import re
from datetime import timedelta

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_FORM = re.compile(r"(\d{1,9})([smhd])")
EXPECTED = "write a whole number and a unit, like 90s, 30m, 4h or 7d"
# Ten years: longer than anything the bot schedules or looks back on, and far inside what date
# arithmetic can hold ("now minus 999999 days" overflows, and a warning or a reminder with it).
LONGEST = timedelta(days=3650)


class DurationError(ValueError):
    """The text is not a duration; the message says what is expected."""


def parse_duration(text: str) -> timedelta:
    """`90s`, `30m`, `4h`, `7d` (surrounding spaces allowed) as a timedelta; more than 0."""
    found = _FORM.fullmatch(text.strip())
    if found is None:
        raise DurationError(EXPECTED)
    value = int(found.group(1)) * UNITS[found.group(2)]
    if value <= 0:
        raise DurationError(f"must be more than 0; {EXPECTED}")
    if value > LONGEST.total_seconds():
        raise DurationError(f"must be at most {format_duration(LONGEST)}")
    return timedelta(seconds=value)


def format_duration(value: timedelta) -> str:
    """The largest unit that writes `value` exactly: 86400 s is `1d`, 5400 s is `90m`."""
    seconds = int(value.total_seconds())
    for unit, size in sorted(UNITS.items(), key=lambda item: -item[1]):
        if seconds and seconds % size == 0:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def in_words(value: timedelta) -> str:
    """For people: `7 days`, `1 hour`, `90 seconds`."""
    seconds = int(value.total_seconds())
    for name, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0:
            count = seconds // size
            return f"{count} {name}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"
