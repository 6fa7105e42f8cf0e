"""Periods: the calendar day, ISO week or month of an instant in the ruleset's time zone.

A counter of a period is keyed by the period it counts (`day:2024-11-11`, `week:2024-W46`,
`month:2024-11`; '' for a counter that never rolls over), so midnight needs no job: the first
order after it simply counts on a new key.
"""

from __future__ import annotations

from datetime import date, datetime
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from server.ledger.errors import InvalidArgument
from server.ledger.types import Period


@lru_cache(maxsize=64)
def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidArgument("timezone", f"`{name[:64]}` is not a time zone name") from None


def local_date(at: datetime, timezone: str) -> date:
    if at.tzinfo is None:
        raise InvalidArgument("at", "needs a UTC offset")
    return at.astimezone(zone(timezone)).date()


def period_key(period: Period | None, day: date) -> str:
    if period is None:
        return ""
    if period is Period.DAY:
        return f"day:{day.isoformat()}"
    if period is Period.WEEK:
        year, week, _ = day.isocalendar()
        return f"week:{year}-W{week:02d}"
    return f"month:{day.year:04d}-{day.month:02d}"


def period_keys(day: date) -> tuple[str, ...]:
    """Every key an order on `day` may count on."""
    return ("", *(period_key(p, day) for p in Period))
