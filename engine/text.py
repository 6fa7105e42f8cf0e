"""Quoting user-supplied values in messages, details and logs: never unbounded.

A request can carry a line id of megabytes; echoed whole it would overflow a gRPC trailer (the
client then sees RESOURCE_EXHAUSTED instead of the error) or a log line. Every place that puts a
value the user sent into text goes through `clip`.
"""

from __future__ import annotations

CLIP = 64  # characters of a quoted value kept in messages and logs


def clip(value: object, limit: int = CLIP) -> str:
    """`value` as text, cut to `limit` characters with "…" when longer."""
    text = value if isinstance(value, str) else str(value)
    return text if len(text) <= limit else text[:limit] + "…"
