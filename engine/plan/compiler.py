"""Checked syntax trees -> an immutable evaluation `Plan`, in ordered named stages.

Stages: settings (currency, timezone, modes) -> promotions (predicates compiled to closures,
windows resolved to instants, benefits to data) -> presales, guards, warnings -> index (which
promotions a line with a given sku / shop / category can touch).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from typing import Callable
from zoneinfo import ZoneInfo

from engine.base.money import decimal_to_minor, minor_digits
from engine.lang import ast
from engine.lang.load import Loaded
from engine.lang.schema import AttrInfo, declared_info
from engine.lang.source import SourceFile, Span
from engine.plan import benefits as b
from engine.plan.benefits import THRESHOLD_ATTRS, Threshold
from engine.plan.index import build_index
from engine.plan.plan import Clause, Guard, Plan, Presale, Promotion, WarningLine
from engine.plan.predicates import ExpressionCompiler, resolve_datetime


class CompileError(ValueError):
    """Raised when asked to compile a ruleset that has errors."""


# ---- stages ------------------------------------------------------------------------------------


def compile_plan(loaded: Loaded) -> Plan:
    if not loaded.ok:
        raise CompileError("the ruleset has errors; run `promo check`")
    blocks = [item for f in loaded.files for item in f.items]
    header = next((x for x in blocks if isinstance(x, ast.Ruleset)), None)
    settings = _settings(header)
    text_of = _text_reader(loaded.sources)
    exprs = ExpressionCompiler(settings["digits"], settings["timezone"], settings["declared"])
    ctx = _Context(settings["digits"], settings["timezone"], exprs, text_of)

    promotions = sorted((_promotion(x, ctx) for x in blocks if isinstance(x, ast.Promotion)), key=lambda p: p.order_key)
    index, everywhere, scope_is_key = build_index(promotions, [x for x in blocks if isinstance(x, ast.Promotion)])
    revision = hashlib.sha256()
    for path in sorted(loaded.sources):
        revision.update(path.encode() + b"\0" + loaded.sources[path].text.encode() + b"\0")
    return Plan(
        name=header.name.value if header else "default",
        revision=revision.hexdigest(),
        currency=settings["currency"],
        digits=settings["digits"],
        timezone=settings["timezone"],
        stacking=settings["stacking"],
        rounding=settings["rounding"],
        min_payment=settings["min_payment"],
        groups=settings["groups"],
        promotions=tuple(promotions),
        by_name={p.name: p for p in promotions},
        presales=tuple(sorted((_presale(x, ctx) for x in blocks if isinstance(x, ast.Presale)), key=lambda p: (-p.priority, p.name))),
        guards=tuple(_guard(x, ctx) for x in blocks if isinstance(x, ast.Guard)),
        warnings=tuple(_warning(x, ctx) for x in blocks if isinstance(x, ast.WarningLine)),
        index=index,
        everywhere=everywhere,
        scope_is_key=scope_is_key,
        tests=tuple(x for x in blocks if isinstance(x, ast.RuleTest)),
        sources=dict(loaded.sources),
    )


def _settings(header: ast.Ruleset | None) -> dict:
    get = (lambda kind: ast.first(header, kind)) if header else (lambda kind: None)
    currency = get(ast.Currency).code.value if get(ast.Currency) else "CNY"
    digits = minor_digits(currency)
    declared: dict[str, AttrInfo] = {}
    for decl in ast.clauses_of(header, ast.AttributeDecl) if header else ():
        declared[decl.path.dotted] = declared_info(decl.path.dotted, decl.type.value)
    min_payment = get(ast.MinPayment)
    return {
        "currency": currency,
        "digits": digits,
        "timezone": ZoneInfo(get(ast.Timezone).name.value if get(ast.Timezone) else "UTC"),
        "stacking": get(ast.Stacking).mode.value if get(ast.Stacking) else "parallel",
        "rounding": get(ast.Rounding).mode.value if get(ast.Rounding) else "half_up",
        "min_payment": decimal_to_minor(min_payment.amount.value, digits) if min_payment else 0,
        "groups": {g.name.value: int(g.max.value) for g in (ast.clauses_of(header, ast.GroupDecl) if header else ())},
        "declared": declared,
    }


@dataclass(frozen=True)
class _Context:
    digits: int
    tz: ZoneInfo
    exprs: ExpressionCompiler
    text_of: Callable[[Span], str]

    def money(self, number: ast.Number | None) -> int | None:
        return None if number is None else decimal_to_minor(number.value, self.digits)

    def window(self, window: ast.Window | None) -> tuple[datetime, datetime] | None:
        if window is None:
            return None
        return resolve_datetime(window.start.text, self.tz), resolve_datetime(window.end.text, self.tz)

    def scope(self, block) -> tuple[Callable, str]:
        scope = ast.first(block, ast.Scope)
        if scope is None:
            return (lambda line: True), "every line"
        return self.exprs.predicate(scope.expr, line_level=True), self.text_of(scope.expr.span)


def _text_reader(sources: dict[str, SourceFile]) -> Callable[[Span], str]:
    lines = {path: src.text.splitlines() for path, src in sources.items()}

    def text_of(span: Span) -> str:
        rows = lines.get(span.file, [])[span.line - 1 : span.end_line]
        if not rows:
            return ""
        if len(rows) == 1:
            return rows[0][span.column - 1 : span.end_column - 1]
        return " ".join([rows[0][span.column - 1 :], *(r.strip() for r in rows[1:-1]), rows[-1][: span.end_column - 1].strip()])

    return text_of


def _paths(expr) -> list[str]:
    return [x.dotted for x in ast.walk(expr) if isinstance(x, ast.Path)]


# What discounts can lower: the base, the cart after item level, and the eligible units (a line
# discounted to 0 leaves the promotion's lines).
_AMOUNTS = ("amount", "cart.amount", "quantity")
_FLIPPED = {"<=": ">=", "<": ">"}  # `100 <= amount` is `amount >= 100`


def amount_monotone(expr) -> bool:
    """True when raising `amount`, `cart.amount` or `quantity` can never turn this condition
    from true to false: they appear only in `amount >= C` / `amount > C`. The combination
    search's bounds rely on it; a promotion with another kind of condition gets looser bounds."""
    reads_amount = any(p in _AMOUNTS for p in _paths(expr))
    if not reads_amount:
        return True
    if isinstance(expr, (ast.And, ast.Or)):
        return all(amount_monotone(x) for x in expr.operands)
    if isinstance(expr, ast.Compare):
        if expr.op in _FLIPPED and isinstance(expr.right, ast.Path):
            expr = ast.Compare(_FLIPPED[expr.op], expr.right, expr.left)
        return (expr.op in (">=", ">") and isinstance(expr.left, ast.Path) and expr.left.dotted in _AMOUNTS
                and not any(p in _AMOUNTS for p in _paths(expr.right)))
    return False


def threshold_of(expr, ctx: _Context) -> Threshold | None:
    if isinstance(expr, ast.Compare) and expr.op in _FLIPPED and isinstance(expr.right, ast.Path):
        expr = ast.Compare(_FLIPPED[expr.op], expr.right, expr.left, span=expr.span)  # `100 <= amount`
    if (
        isinstance(expr, ast.Compare)
        and expr.op in (">=", ">")
        and isinstance(expr.left, ast.Path)
        and expr.left.dotted in THRESHOLD_ATTRS
        and isinstance(expr.right, ast.Number)
    ):
        attr = expr.left.dotted
        value = ctx.money(expr.right) if attr.endswith("amount") else int(expr.right.value)
        return Threshold(attr, expr.op == ">", value)
    return None


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
        return b.PercentOff(Fraction(node.off) / 100, ctx.money(node.cap))
    if isinstance(node, ast.PriceEach):
        return b.PriceEach(ctx.money(node.amount))
    raise AssertionError(node)


def _benefit(node, ctx: _Context) -> b.Benefit:
    if isinstance(node, ast.DiscountEvery):
        return b.EveryOff(ctx.money(node.amount), ctx.money(node.every), ctx.money(node.cap))
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
    limit = ast.first(node, ast.Limit)
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
        limit=int(limit.count.value) if limit else None,
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
    window = lambda kind: ctx.window(ast.first(node, kind).window) if ast.first(node, kind) else None  # noqa: E731
    return Presale(
        name=node.name.value,
        title=title.text.value if title else node.name.value,
        priority=int(priority.value.value) if priority else 0,
        scope=scope,
        price=ctx.money(price.price),
        price_tiers=tuple((ctx.exprs.predicate(t.condition, line_level=False), ctx.money(t.price)) for t in price.tiers),
        deposit=ctx.money(deposit.amount) if deposit else None,
        worth=ctx.money(deposit.worth or deposit.amount) if deposit else None,
        balance_discount=ctx.money(balance.amount) if balance else 0,
        active=window(ast.Active),
        deposit_window=window(ast.DepositWindow),
        balance_window=window(ast.BalanceWindow),
        ships=ships.date.text if ships else None,
        span=node.name.span,
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

