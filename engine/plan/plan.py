"""The immutable evaluation plan a ruleset compiles to: promotions with their closures, benefits
as data and windows as instants, presales, guards, warning lines and the index. No syntax tree
is inside: a plan is what pricing reads, and the edits analysis needs are its methods.

Compiled by mypyc with the pricing core (pyproject `[tool.promo] compiled`): pricing reads a
promotion's fields thousands of times a request, a native attribute read instead of an instance
dictionary lookup. A plan is never pickled (its predicates are closures).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from zoneinfo import ZoneInfo

from engine.base.request import Line
from engine.base.span import Span
from engine.plan import benefits as b
from engine.plan.benefits import Threshold
from engine.plan.predicates import OrderFacts, Predicate, active_guards, line_floor

LEVEL_ORDER = {"item": 0, "shop": 1, "platform": 2, "shipping": 3}


INDEX_ATTRS = ("sku", "shop", "category")


@dataclass(frozen=True)
class Clause:
    """One top-level conjunct of a `when`: checked on its own so a failure can name it."""

    test: Callable[[OrderFacts], bool]
    text: str
    span: Span
    threshold: Threshold | None
    reads: tuple[str, ...]  # attributes it reads, for explanations


@dataclass(frozen=True)
class LimitClause:
    """`limit N per user [per P]` (per_user) or `limit N total [per P]`: uses of one promotion,
    counted by the ledger (docs/ledger.md); `period` None counts every use ever."""

    count: int
    per_user: bool
    period: str | None = None  # "day" | "week" | "month", calendar in the ruleset timezone

    @property
    def text(self) -> str:
        """The clause as written canonically (operator detail)."""
        period = f" per {self.period}" if self.period else ""
        return f"limit {self.count} {'per user' if self.per_user else 'total'}{period}"


@dataclass(frozen=True)
class BudgetClause:
    """`budget M [per P]`: the most discount one promotion may give, minor units."""

    amount: int
    period: str | None = None

    @property
    def text(self) -> str:
        return "budget" + (f" per {self.period}" if self.period else "")


@dataclass(frozen=True, eq=False)  # compiled once; identity is equality
class Promotion:
    name: str
    kind: str  # promotion | coupon
    level: str
    title: str
    priority: int
    window: tuple[datetime, datetime] | None
    scope: Predicate  # on a Line
    scope_text: str
    clauses: tuple[Clause, ...]
    benefit: b.Benefit
    group: str | None
    exclusive: bool
    limits: tuple[LimitClause, ...]  # the ledger's clauses (docs/ledger.md), in the order written
    span: Span
    monotone: bool = True  # more base never makes its conditions fail (see `amount_monotone`)
    budgets: tuple[BudgetClause, ...] = ()
    codes: bool = False  # a coupon redeemed by single-use codes
    # level, then higher priority, then name: the order of evaluation and of every list
    order_key: tuple[int, int, str] = field(init=False)
    is_coupon: bool = field(init=False)  # a field, not a property: read very often by the search

    def __post_init__(self) -> None:
        object.__setattr__(self, "order_key", (LEVEL_ORDER[self.level], -self.priority, self.name))
        object.__setattr__(self, "is_coupon", self.kind == "coupon")

    @property
    def per_user_limits(self) -> tuple[LimitClause, ...]:
        return tuple(limit for limit in self.limits if limit.per_user)

    @property
    def ledgered(self) -> bool:
        """Whether the ledger counts anything of it (a limit, a budget, codes)."""
        return bool(self.limits or self.budgets or self.codes)


@dataclass(frozen=True)
class Presale:
    name: str
    title: str
    priority: int
    scope: Predicate  # on a Line
    price: int
    price_tiers: tuple[tuple[Predicate, int], ...]  # (test on OrderFacts.sold, unit price)
    deposit: int | None
    worth: int | None
    balance_discount: int
    active: tuple[datetime, datetime] | None
    deposit_window: tuple[datetime, datetime] | None
    balance_window: tuple[datetime, datetime] | None
    ships: str | None
    span: Span
    stock: int | None = None  # units it may sell (`stock N`); None: no activity stock


@dataclass(frozen=True)
class Guard:
    name: str
    scope: Predicate  # on a Line
    window: tuple[datetime, datetime] | None
    percent: Fraction | None  # floor as a share of the list price
    each: int | None  # floor per unit

    def floor(self, price: int, quantity: int) -> int:
        if self.each is not None:
            return self.each * quantity
        # a floor is a price the line must not go below: round it up to the minor unit
        assert self.percent is not None  # a guard has one of the two floors (the checker says so)
        exact = price * quantity * self.percent
        return -((-exact.numerator) // exact.denominator)


@dataclass(frozen=True)
class WarningLine:
    name: str
    scope: Predicate  # on a Line
    percent: Fraction | None
    each: int | None


@dataclass(frozen=True)
class Plan:
    name: str
    revision: str
    currency: str
    digits: int
    timezone: ZoneInfo
    stacking: str
    rounding: str
    min_payment: int
    groups: dict[str, int]
    promotions: tuple[Promotion, ...]  # in order_key order
    by_name: dict[str, Promotion]
    presales: tuple[Presale, ...]
    guards: tuple[Guard, ...]
    warnings: tuple[WarningLine, ...]
    index: dict[tuple[str, str], tuple[Promotion, ...]]
    everywhere: tuple[Promotion, ...]  # promotions whose scope no index key narrows
    scope_is_key: frozenset[str] = frozenset()  # promotions whose whole scope is their index key
    sources: dict[str, str] = field(default_factory=dict, compare=False)  # path -> text of its rule files

    def guards_at(self, line: Line, now: datetime) -> list[Guard]:
        """The guards active at `now` whose scope matches `line`, in the order written."""
        return active_guards(self.guards, line, now)

    def floor(self, line: Line, now: datetime) -> int:
        """The least `line` may cost at `now` (predicates.line_floor, which pricing calls itself)."""
        return line_floor(self.guards, line, now)
