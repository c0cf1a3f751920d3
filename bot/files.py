"""Files the bot writes for the operator (exports), created so nobody else reads them and
nothing else is overwritten through them.

An export holds names, emails and amounts. Opening the operator's path with `O_TRUNC` kept an
existing file's mode (0644: every account on the machine could read it) and followed a
symlink, overwriting whatever it pointed at. Instead a new file is created beside the target
(`mkstemp`: `O_CREAT | O_EXCL | O_NOFOLLOW`, mode 0600), written whole, synced, then renamed
over the target: an existing file or link is replaced, never written through, and a failed
write leaves the old file as it was. (Backups follow the same scheme in bot/backup.py, where
SQLite writes the new file.)
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import TextIO


@contextlib.contextmanager
def private_text_file(path: str | Path) -> Iterator[TextIO]:
    """Write a text file at `path`, readable by its owner only, replaced in one rename.

    OSError (no such directory, a directory at `path`, no space) comes out of the `with`."""
    target = Path(path)
    if target.is_dir():  # os.replace would say so only after the whole file was written
        raise IsADirectoryError(21, "Is a directory", str(target))
    fd, partial = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
    try:
        with os.fdopen(fd, "w", newline="", encoding="utf-8") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(partial, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(partial)
        raise
