"""Why a promotion did not apply, what would make it apply, and the trace of an evaluation.

Reasons are data (a stable code and operator detail); the customer-safe messages, in English and
Chinese, are made from them here and nowhere else. The trace is a flat list of events that costs
nothing when explain is off: callers test `trace.on` before building an event.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mypy_extensions import mypyc_attr

from engine.base.enums import ReasonCode


@mypyc_attr(native_class=False)  # a subclass of int: a Python class even when compiled
class Minor(int):
    """An amount of money in minor units inside explanation data: shown as a decimal string."""


@dataclass
class Reason:
    code: ReasonCode
    detail: dict[str, Any] = field(default_factory=dict)
    gap: int | None = None  # THRESHOLD_NOT_MET: minor units or units still missing
    gap_is_money: bool = True
    would_save: int | None = None
    winner: str | None = None  # EXCLUSIVE_CONFLICT / GROUP_LIMIT / NOT_BEST_COMBINATION
    difference: int | None = None  # NOT_BEST_COMBINATION: what the chosen set saves more


@dataclass(frozen=True)
class HintData:
    promotion: str
    missing: int
    is_money: bool
    would_save: int  # the promotion's whole discount once the gap is closed (service.md)
    already: int = 0  # what it takes off today: the message says what comes on top


class Trace:
    """Evaluation events in order; a no-op unless switched on (explain trace)."""

    def __init__(self, on: bool):
        self.on = on
        self.events: list[dict[str, Any]] = []

    def event(self, step: str, **data: Any) -> None:
        if self.on:
            self.events.append({"step": step, **data})

    def paused(self) -> _Paused:
        """Work done only to bound or to explain (not the pricing itself) stays out of the trace."""
        return _Paused(self)


class _Paused:
    """`with trace.paused():` — a class, not a generator: the search enters it many times."""

    def __init__(self, trace: Trace):
        self.trace = trace
        self.was = False  # whether the trace was on, set on entering

    def __enter__(self) -> None:
        self.was, self.trace.on = self.trace.on, False

    def __exit__(self, *exc: object) -> None:
        self.trace.on = self.was

