"""How much work one answer may take: a budget of choices the combination search prices, and a
deadline. Past either the search stops and answers the best choice found so far, which it says
is not proven optimal (docs/evaluation.md §10). The engine knows no clock of its own: the
caller gives the deadline as a `time.monotonic()` value (the server: the call's deadline).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from mypy_extensions import mypyc_attr

BUDGET = 5_000  # choices one search may price by default: about 1 s at worst (docs/evaluation.md §10)
STOPPED_BY_BUDGET, STOPPED_BY_DEADLINE = "budget", "deadline"  # why a search stopped early


class DeadlineExceeded(Exception):
    """The deadline passed before there was any answer worth giving (the server: DEADLINE_EXCEEDED)."""


@mypyc_attr(allow_interpreted_subclasses=True)  # tests count the deadline checks with a subclass
@dataclass(frozen=True)
class Limits:
    budget: int = BUDGET  # choices the search may price
    deadline: float | None = None  # time.monotonic() past which the work stops; None: no deadline

    def __reduce__(self) -> tuple[type[Limits], tuple[int, float | None]]:
        # compiled, a frozen dataclass cannot be unpickled field by field (analyze's workers get one)
        return (Limits, (self.budget, self.deadline))

    def past_deadline(self) -> bool:
        return self.deadline is not None and time.monotonic() >= self.deadline

    def check(self) -> None:
        """For loops that have no answer yet: raise DeadlineExceeded once the deadline is past."""
        if self.past_deadline():
            raise DeadlineExceeded("the deadline passed before an answer was ready")


UNLIMITED = Limits(budget=2**62)
