"""What the checker hands on: `Checked(settings, types, diagnostics)`.

The compiler reads these instead of working them out again (as cel-go's planner reads the
checker's type map): the ruleset's settings resolved once, with their defaults stated once,
and the type of every expression of every predicate. This module imports no parser, so the
plan layer can take a `Checked` without loading Lark.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from zoneinfo import ZoneInfo

from engine.base.money import minor_digits
from engine.lang import ast
from engine.lang.diagnostics import Diagnostic
from engine.lang.schema import DEFAULT_CURRENCY, AttrInfo

UNKNOWN = "?"  # the type of an expression whose error has been reported


@dataclass(frozen=True)
class RulesetSettings:
    """The header of a ruleset, resolved: what a ruleset without a header (or without a setting)
    gets is stated here and nowhere else."""

    name: str = "default"
    currency: str = DEFAULT_CURRENCY
    timezone: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))  # date-times without an offset
    stacking: str = "parallel"
    rounding: str = "half_up"
    min_payment: Decimal = Decimal(0)  # in the currency, as written
    groups: Mapping[str, int] = field(default_factory=dict)  # group -> max promotions of it applied
    declared: Mapping[str, AttrInfo] = field(default_factory=dict)  # `attribute` declarations by path

    @property
    def digits(self) -> int:
        """Decimals of the currency's minor unit."""
        return minor_digits(self.currency)


class Types:
    """The type of every expression the checker typed ("money", "bool", "list[string]", ... or
    `UNKNOWN` once an error is reported), by node identity: the syntax tree has no ids, and
    two equal expressions in different places are different nodes. It holds the files it was
    made from, so the identities stay valid while it lives."""

    __slots__ = ("by_id", "_files")

    def __init__(self, files: Sequence[ast.File] = ()) -> None:
        self.by_id: dict[int, str] = {}  # id(node) -> type, filled by the checker's types pass
        self._files = tuple(files)

    def of(self, expr: object) -> str:
        """The type of `expr`, a node of the checked files; KeyError for a node never typed."""
        return self.by_id[id(expr)]

    def __len__(self) -> int:
        return len(self.by_id)


@dataclass(frozen=True)
class Checked:
    settings: RulesetSettings
    types: Types
    diagnostics: tuple[Diagnostic, ...]  # the checker's own, sorted

    @property
    def ok(self) -> bool:
        return not any(d.is_error for d in self.diagnostics)
