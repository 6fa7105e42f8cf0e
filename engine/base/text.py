"""Quoting user-supplied values in messages, details and logs: never unbounded.

A request can carry a line id of megabytes; echoed whole it would overflow a gRPC trailer (the
client then sees RESOURCE_EXHAUSTED instead of the error) or a log line. Every place that puts a
value the user sent into text goes through `clip`.
"""

from __future__ import annotations

CLIP = 64  # characters of a quoted value kept in messages and logs


def clip(value: object, limit: int = CLIP) -> str:
    """`value` as text, cut to `limit` characters with "…" when longer."""
    if isinstance(value, str):
        text = value
    else:
        try:
            text = str(value)
        except ValueError:  # an int past Python's 4,300-digit conversion limit
            text = f"<a number of {value.bit_length() * 3 // 10} digits or more>" if isinstance(value, int) else "<value>"
    return text if len(text) <= limit else text[:limit] + "…"
