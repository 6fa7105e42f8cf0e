"""Checked syntax trees -> an immutable evaluation `Plan`, in ordered named stages.

`compile_plan` takes what the front end hands on (`CompileInput`: the syntax trees, the sources,
and the checker's `Checked`, whose settings and expression types it reads instead of working
them out again) and runs STAGES in order, as OPA's compiler runs its `c.stages`: context (the
ruleset's digits, timezone and the expression compiler) -> promotions (predicates compiled to
closures, windows resolved to instants, benefits to data) -> index (which promotions a line
with a given sku / shop / category can touch) -> presales, guards, warnings -> revision. With
`metrics`, each stage's seconds are recorded under its name (bench/parse_check.py prints them).
No parser is imported here: a process that only prices a Plan never loads Lark.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Mapping, MutableMapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from fractions import Fraction
from typing import Protocol
from zoneinfo import ZoneInfo

from engine.base.money import decimal_to_minor
from engine.lang import ast
from engine.lang.checked import Checked, RulesetSettings
from engine.lang.source import SourceFile, Span
from engine.plan import benefits as b
from engine.plan.benefits import THRESHOLD_ATTRS, Threshold
from engine.plan.expressions import ExpressionCompiler
from engine.plan.index import build_index
from engine.plan.plan import BudgetClause, Clause, Guard, LimitClause, Plan, Presale, Promotion, WarningLine
from engine.plan.predicates import resolve_datetime


class CompileError(ValueError):
    """Raised when asked to compile a ruleset that has errors."""


class CompileInput(Protocol):
    """What compiling needs from the front end (engine.lang.load.Loaded is one)."""

    @property
    def ok(self) -> bool: ...

    @property
    def files(self) -> Sequence[ast.File]: ...

    @property
    def sources(self) -> Mapping[str, SourceFile]: ...

    @property
    def checked(self) -> Checked: ...


# ---- stages ------------------------------------------------------------------------------------


@dataclass
class Build:
    """One compilation: its input, and what each stage has made so far."""

    source: CompileInput
    settings: RulesetSettings
    blocks: list[object]
    ctx: _Context | None = None
    promotions: list[Promotion] = field(default_factory=list)
    index: dict[tuple[str, str], tuple[Promotion, ...]] = field(default_factory=dict)
    everywhere: tuple[Promotion, ...] = ()
    scope_is_key: frozenset[str] = frozenset()
    presales: tuple[Presale, ...] = ()
    guards: tuple[Guard, ...] = ()
    warnings: tuple[WarningLine, ...] = ()
    revision: str = ""

    def of(self, kind: type) -> list:
        return [x for x in self.blocks if isinstance(x, kind)]

    @property
    def context(self) -> _Context:
        assert self.ctx is not None, "the context stage runs first"
        return self.ctx


def _context_stage(build: Build) -> None:
    settings, types = build.settings, build.source.checked.types
    exprs = ExpressionCompiler(settings.digits, settings.timezone, settings.declared, types.of)
    build.ctx = _Context(settings.digits, settings.timezone, exprs, _text_reader(build.source.sources))


def _promotions_stage(build: Build) -> None:
    promotions = (_promotion(x, build.context) for x in build.of(ast.Promotion))
    build.promotions = sorted(promotions, key=lambda p: p.order_key)


def _index_stage(build: Build) -> None:
    build.index, build.everywhere, build.scope_is_key = build_index(build.promotions, build.of(ast.Promotion))


def _presales_stage(build: Build) -> None:
    presales = (_presale(x, build.context) for x in build.of(ast.Presale))
    build.presales = tuple(sorted(presales, key=lambda p: (-p.priority, p.name)))


def _guards_stage(build: Build) -> None:
    build.guards = tuple(_guard(x, build.context) for x in build.of(ast.Guard))


def _warnings_stage(build: Build) -> None:
    build.warnings = tuple(_warning(x, build.context) for x in build.of(ast.WarningLine))


def _revision_stage(build: Build) -> None:
    """The ruleset's revision: a hash of its files' paths and texts (what the service reports)."""
    build.revision = revision_of(build.source.sources)


def revision_of(sources: Mapping[str, SourceFile]) -> str:
    revision = hashlib.sha256()
    for path in sorted(sources):
        revision.update(path.encode() + b"\0" + sources[path].text.encode() + b"\0")
    return revision.hexdigest()


STAGES: tuple[tuple[str, Callable[[Build], None]], ...] = (
    ("context", _context_stage),
    ("promotions", _promotions_stage),
    ("index", _index_stage),
    ("presales", _presales_stage),
    ("guards", _guards_stage),
    ("warnings", _warnings_stage),
    ("revision", _revision_stage),
)


def compile_plan(source: CompileInput, metrics: MutableMapping[str, float] | None = None) -> Plan:
    if not source.ok:
        raise CompileError("the ruleset has errors; run `promo check`")
    settings = source.checked.settings
    build = Build(source, settings, [item for f in source.files for item in f.items])
    for name, stage in STAGES:
        start = time.perf_counter()
        stage(build)
        if metrics is not None:
            metrics[name] = metrics.get(name, 0.0) + time.perf_counter() - start
    return assemble_plan(settings, build, source.sources)


def assemble_plan(settings: RulesetSettings, build: Build, sources: Mapping[str, SourceFile]) -> Plan:
    """The plan of a finished build (compile_plan's, or engine/plan/parts.py's from cached parts)."""
    return Plan(
        name=settings.name,
        revision=build.revision,
        currency=settings.currency,
        digits=settings.digits,
        timezone=settings.timezone,
        stacking=settings.stacking,
        rounding=settings.rounding,
        min_payment=decimal_to_minor(settings.min_payment, settings.digits),
        groups=dict(settings.groups),
        promotions=tuple(build.promotions),
        by_name={p.name: p for p in build.promotions},
        presales=build.presales,
        guards=build.guards,
        warnings=build.warnings,
        index=build.index,
        everywhere=build.everywhere,
        scope_is_key=build.scope_is_key,
        sources={path: src.text for path, src in sources.items()},
    )


@dataclass(frozen=True)
class Compiled:
    """The blocks of one file compiled (what engine/plan/parts.py caches), in the order written."""

    promotions: tuple[Promotion, ...]
    presales: tuple[Presale, ...]
    guards: tuple[Guard, ...]
    warnings: tuple[WarningLine, ...]


def compile_blocks(items: Sequence[object], source: SourceFile, settings: RulesetSettings,
                   types_of: Callable[[object], str]) -> Compiled:
    """`items` (top-level blocks of the file `source`) compiled as the stages compile them, with the
    ruleset's `settings` and the checker's expression types (`types_of`, Types.of)."""
    exprs = ExpressionCompiler(settings.digits, settings.timezone, settings.declared, types_of)
    ctx = _Context(settings.digits, settings.timezone, exprs, _text_reader({source.path: source}))
    return Compiled(
        promotions=tuple(_promotion(x, ctx) for x in items if isinstance(x, ast.Promotion)),
        presales=tuple(_presale(x, ctx) for x in items if isinstance(x, ast.Presale)),
        guards=tuple(_guard(x, ctx) for x in items if isinstance(x, ast.Guard)),
        warnings=tuple(_warning(x, ctx) for x in items if isinstance(x, ast.WarningLine)),
    )


@dataclass(frozen=True)
class _Context:
    digits: int
    tz: ZoneInfo
    exprs: ExpressionCompiler
    text_of: Callable[[Span], str]

    def money(self, number: ast.Number) -> int:
        return decimal_to_minor(number.value, self.digits)

    def optional_money(self, number: ast.Number | None) -> int | None:
        return None if number is None else self.money(number)

    def window(self, window: ast.Window | None) -> tuple[datetime, datetime] | None:
        if window is None:
            return None
        return resolve_datetime(window.start.text, self.tz), resolve_datetime(window.end.text, self.tz)

    def scope(self, block) -> tuple[Callable, str]:
        scope = ast.first(block, ast.Scope)
        if scope is None:
            return (lambda line: True), "every line"
        return self.exprs.predicate(scope.expr, line_level=True), self.text_of(scope.expr.span)


def _text_reader(sources: Mapping[str, SourceFile]) -> Callable[[Span], str]:
    lines = {path: src.text.splitlines() for path, src in sources.items()}

    def text_of(span: Span) -> str:
        rows = lines.get(span.file, [])[span.line - 1 : span.end_line]
        if not rows:
            return ""
        if len(rows) == 1:
            return rows[0][span.column - 1 : span.end_column - 1]
        middle = (r.strip() for r in rows[1:-1])
        return " ".join([rows[0][span.column - 1 :], *middle, rows[-1][: span.end_column - 1].strip()])

    return text_of


def _paths(expr) -> list[str]:
    return [x.dotted for x in ast.walk(expr) if isinstance(x, ast.Path)]


# What discounts can lower: the base, the cart after item level, and the eligible units (a line
# discounted to 0 leaves the promotion's lines).
_AMOUNTS = ("amount", "cart.amount", "quantity")


def amount_monotone(expr) -> bool:
    """True when raising `amount`, `cart.amount` or `quantity` can never turn this condition
    from true to false: they appear only in `amount >= C` / `amount > C`. The combination
    search's bounds rely on it; a promotion with another kind of condition gets looser bounds."""
    reads_amount = any(p in _AMOUNTS for p in _paths(expr))
    if not reads_amount:
        return True
    if isinstance(expr, (ast.And, ast.Or)):
        return all(amount_monotone(x) for x in expr.operands)
    bound = ast.lower_bound(expr)
    return bound is not None and bound[0].dotted in _AMOUNTS and not any(p in _AMOUNTS for p in _paths(bound[2]))


def threshold_of(expr, ctx: _Context) -> Threshold | None:
    """The pricing form of a threshold (ast.threshold) on an amount or a quantity: minor units
    for amounts, units for quantities."""
    found = ast.threshold(expr)
    if found is None or found[0] not in THRESHOLD_ATTRS:
        return None
    attr, value, strict = found
    return Threshold(attr, strict, decimal_to_minor(value, ctx.digits) if attr.endswith("amount") else int(value))


def _clause(expr, ctx: _Context) -> Clause:
    return Clause(
        test=ctx.exprs.predicate(expr, line_level=False),
        text=ctx.text_of(expr.span),
        span=expr.span,
        threshold=threshold_of(expr, ctx),
        reads=tuple(dict.fromkeys(_paths(expr))),
    )


def _simple_benefit(node, ctx: _Context):
    if isinstance(node, ast.DiscountAmount):
        return b.AmountOff(ctx.money(node.amount), node.each)
    if isinstance(node, ast.DiscountPercent):
        return b.PercentOff(Fraction(node.off) / 100, ctx.optional_money(node.cap))
    if isinstance(node, ast.PriceEach):
        return b.PriceEach(ctx.money(node.amount))
    raise AssertionError(node)


def _benefit(node, ctx: _Context) -> b.Benefit:
    if isinstance(node, ast.DiscountEvery):
        return b.EveryOff(ctx.money(node.amount), ctx.money(node.every), ctx.optional_money(node.cap))
    if isinstance(node, ast.Tiers):
        return b.Tiers(tuple(
            b.Tier(ctx.exprs.predicate(t.condition, line_level=False), _simple_benefit(t.benefit, ctx),
                   threshold_of(t.condition, ctx), ctx.text_of(t.condition.span))
            for t in node.tiers
        ))
    if isinstance(node, ast.Nth):
        return b.NthUnit(int(node.n.value), _simple_benefit(node.benefit, ctx))
    if isinstance(node, ast.Gift):
        return b.Gift(node.sku.value, int(node.qty.value) if node.qty else 1)
    if isinstance(node, ast.FreeShipping):
        return b.FreeShipping()
    return _simple_benefit(node, ctx)


def _promotion(node: ast.Promotion, ctx: _Context) -> Promotion:
    scope, scope_text = ctx.scope(node)
    when = ast.first(node, ast.When)
    clauses = [_clause(e, ctx) for e in ast.conjuncts(when.expr)] if when else []
    # Plain conditions are checked before thresholds (CONDITION_FAILED comes first).
    clauses.sort(key=lambda c: c.threshold is not None)
    title = ast.first(node, ast.Title)
    priority = ast.first(node, ast.Priority)
    group = ast.first(node, ast.GroupRef)
    active = ast.first(node, ast.Active)
    benefit_node = next(c for c in node.clauses if isinstance(c, ast.BENEFIT_TYPES))
    level = ast.first(node, ast.Level)
    return Promotion(
        name=node.name.value,
        kind=node.kind,
        level=level.value.value if level else ("shipping" if isinstance(benefit_node, ast.FreeShipping) else "shop"),
        title=title.text.value if title else node.name.value,
        priority=int(priority.value.value) if priority else 0,
        window=ctx.window(active.window if active else None),
        scope=scope,
        scope_text=scope_text,
        clauses=tuple(clauses),
        benefit=_benefit(benefit_node, ctx),
        group=group.name.value if group else None,
        exclusive=ast.first(node, ast.Exclusive) is not None,
        limits=tuple(LimitClause(int(c.count.value), c.per is not None, c.period.value if c.period else None)
                     for c in ast.clauses_of(node, ast.Limit)),
        budgets=tuple(BudgetClause(ctx.money(c.amount), c.period.value if c.period else None)
                      for c in ast.clauses_of(node, ast.Budget)),
        codes=ast.first(node, ast.Codes) is not None,
        span=node.name.span,
        monotone=all(amount_monotone(c.expr) for c in node.clauses if isinstance(c, ast.When)) and all(
            amount_monotone(t.condition) for c in node.clauses if isinstance(c, ast.Tiers) for t in c.tiers),
    )


def _presale(node: ast.Presale, ctx: _Context) -> Presale:
    scope, _ = ctx.scope(node)
    price = ast.first(node, ast.PresalePrice)
    deposit = ast.first(node, ast.Deposit)
    balance = ast.first(node, ast.BalanceDiscount)
    title = ast.first(node, ast.Title)
    priority = ast.first(node, ast.Priority)
    ships = ast.first(node, ast.Ships)
    stock = ast.first(node, ast.Stock)
    window = lambda kind: ctx.window(ast.first(node, kind).window) if ast.first(node, kind) else None  # noqa: E731
    return Presale(
        name=node.name.value,
        title=title.text.value if title else node.name.value,
        priority=int(priority.value.value) if priority else 0,
        scope=scope,
        price=ctx.money(price.price),
        price_tiers=tuple((ctx.exprs.predicate(t.condition, line_level=False), ctx.money(t.price))
                          for t in price.tiers),
        deposit=ctx.money(deposit.amount) if deposit else None,
        worth=ctx.money(deposit.worth or deposit.amount) if deposit else None,
        balance_discount=ctx.money(balance.amount) if balance else 0,
        active=window(ast.Active),
        deposit_window=window(ast.DepositWindow),
        balance_window=window(ast.BalanceWindow),
        ships=ships.date.text if ships else None,
        span=node.name.span,
        stock=int(stock.count.value) if stock else None,
    )


def _guard(node: ast.Guard, ctx: _Context) -> Guard:
    scope, _ = ctx.scope(node)
    percent = ast.first(node, ast.FloorPercent)
    each = ast.first(node, ast.FloorEach)
    active = ast.first(node, ast.Active)
    return Guard(
        name=node.name.value,
        scope=scope,
        window=ctx.window(active.window if active else None),
        percent=Fraction(percent.percent.value) / 100 if percent else None,
        each=ctx.money(each.amount) if each else None,
    )


def _warning(node: ast.WarningLine, ctx: _Context) -> WarningLine:
    scope, _ = ctx.scope(node)
    percent = ast.first(node, ast.BelowPercent)
    each = ast.first(node, ast.BelowEach)
    return WarningLine(
        name=node.name.value,
        scope=scope,
        percent=Fraction(percent.percent.value) / 100 if percent else None,
        each=ctx.money(each.amount) if each else None,
    )

