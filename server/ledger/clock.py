"""Time: the ledger's clock is injectable (tests move it); stored times are integer microseconds.

`FileClock` is `promo serve --clock-file PATH`'s clock (docs/ledger.md "A fake clock for
tests"): the instant written in a file, standing still until the file changes."""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_us(at: datetime) -> int:
    return (at - EPOCH) // _US


def from_us(us: int) -> datetime:
    return EPOCH + us * _US


def parse_instant(text: str) -> datetime:
    """An ISO-8601 instant with its offset (`2026-11-11T10:00:00+08:00`, `…Z`), aware, in UTC."""
    at = datetime.fromisoformat(text.strip())
    if at.tzinfo is None:
        raise ValueError(f"`{text.strip()[:64]}` has no UTC offset")
    return at.astimezone(UTC)


class FileClock:
    """Now is the instant the file at `path` holds (one ISO-8601 instant with its offset): the
    clock stands still until the file changes (its mtime, size or inode: write it whole, or
    write a new file and rename it over), then answers the new instant. A file that cannot be
    read or parsed at the start is a ValueError; later, the last instant read stays (a
    half-written file is not a time), and `error` says why."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.error: str | None = None
        self._lock = threading.Lock()
        self._seen: tuple[int, int, int] | None = None
        try:
            self._at = self._read()
        except (OSError, ValueError) as error:
            raise ValueError(f"--clock-file {path}: {error}") from None

    def _read(self) -> datetime:
        with open(self.path, encoding="utf-8") as f:
            return parse_instant(f.read())

    def __call__(self) -> datetime:
        try:
            found = os.stat(self.path)
        except OSError as error:
            self.error = str(error)
            return self._at
        seen = (found.st_mtime_ns, found.st_size, found.st_ino)
        if seen != self._seen:
            with self._lock:
                if seen != self._seen:
                    try:
                        self._at = self._read()
                        self._seen, self.error = seen, None
                    except (OSError, ValueError) as error:
                        self.error = str(error)
        return self._at
