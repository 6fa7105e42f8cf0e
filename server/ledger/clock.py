"""Time: the ledger's clock is injectable (tests move it); stored times are integer microseconds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_US = timedelta(microseconds=1)


def utc_now() -> datetime:
    return datetime.now(UTC)


def to_us(at: datetime) -> int:
    return (at - EPOCH) // _US


def from_us(us: int) -> datetime:
    return EPOCH + us * _US
