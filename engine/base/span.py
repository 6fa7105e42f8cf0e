"""Where a thing is in a rule file: a value every layer carries (the syntax tree's nodes, the
diagnostics, and the plan's promotions and clauses, whose explanations say `file:line:col`), so
it lives below them all. engine/lang/source.py shows spans with a caret."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True, order=True)
class Span:
    """A region of a file: 1-based line and column, end exclusive (columns count code points)."""

    file: str
    line: int
    column: int
    end_line: int
    end_column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"
