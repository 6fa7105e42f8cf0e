"""Warnings about rules that are legal but likely wrong: one function per lint, registered in
`LINTS` in the order they run (as Cedar's linter and miniwdl's `@a_linter`). A lint reads the
checked ruleset (its blocks and what the passes found) and yields diagnostics; it reports
nothing an error already says. Each has a table test in tests/lang/test_lints.py.

Decisions (docs/language.md carries them):
- tiers: the best benefit among the tiers that are met applies (for rising tiers, the highest
  tier met), whatever order they are written in. A tier is `unreachable-tier` when another tier
  that is met whenever it is (same measure, threshold at or below) gives at least as much; on an
  exact tie the later tier is reported. Only decided from constants: tiers of the simple form
  `amount|quantity|sold >= C` (or `>`) with benefits of the same kind (`discount M`,
  `discount M each`, `discount P%` without `max`, `price M each`). A presale price tier at or
  above the presale's own price is unreachable too (the lowest price applies). A clause past
  MAX_TIERS tiers is not compared (it is `too-many-tiers`).
- `stale-window`: a promotion, coupon or presale window (guards are exempt: they protect the
  time *before* an event by design) whose end is at least 90 days before the earliest end of all
  the ruleset's other such windows. It catches a mistyped year or a campaign left behind,
  not a warm-up that ends a few days before the main event.
- `shadowed-by-exclusive`: a non-exclusive promotion or coupon with the same level and the same
  scope expression (compared as syntax trees; no scope = every line) as an exclusive one.
- `discount-exceeds-threshold`: `discount M` (not `each`) with a `when amount >= C` (or `>`)
  conjunct, or a tier `amount >= C: discount M`, where M >= C; and `discount M every S` with M >= S.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from engine.lang import ast
from engine.lang import messages as m
from engine.lang.check.state import MAX_TIERS, State
from engine.lang.diagnostics import Diagnostic
from engine.lang.schema import LEVELS

STALE_GAP = timedelta(days=90)
_TIER_MEASURES = ("amount", "quantity", "sold")  # the thresholds tiers are compared on


@dataclass(frozen=True)
class Lint:
    name: str
    code: str  # the diagnostic code it reports
    run: Callable[[State], Iterable[Diagnostic]]


LINTS: list[Lint] = []


def lint(code: str) -> Callable[[Callable[[State], Iterable[Diagnostic]]], Callable[[State], Iterable[Diagnostic]]]:
    """Register a lint under its function's name."""

    def register(fn: Callable[[State], Iterable[Diagnostic]]) -> Callable[[State], Iterable[Diagnostic]]:
        LINTS.append(Lint(fn.__name__, code, fn))
        return fn

    return register


# ---- discount-exceeds-threshold ----------------------------------------------------------------


def _amount_floor(conds: Iterable[ast.Expr]) -> Decimal | None:
    limits = [th[1] for th in map(ast.threshold, conds) if th is not None and th[0] == "amount"]
    return max(limits) if limits else None


@lint("discount-exceeds-threshold")
def discount_over_threshold(st: State) -> Iterator[Diagnostic]:
    """`discount M` where M is at least the `amount >= C` the promotion (a `when` conjunct) or
    its tier requires: a buyer who just meets it pays nothing."""
    for p in st.of(ast.Promotion):
        when = benefit = None
        pairs: list[tuple[list[ast.Expr], object]] = []
        for c in p.clauses:
            if isinstance(c, ast.When):
                when = when or c
            elif isinstance(c, ast.BENEFIT_TYPES):
                benefit = benefit or c
                if isinstance(c, ast.Tiers):
                    pairs += [([t.condition], t.benefit) for t in c.tiers]
        if when is not None and _flat(benefit):
            pairs.append((ast.conjuncts(when.expr), benefit))
        for conds, b in pairs:
            if isinstance(b, ast.DiscountAmount) and _flat(b):
                limit = _amount_floor(conds)
                if limit is not None and b.amount.value >= limit:
                    yield m.discount_over_threshold(b.amount, limit)


def _flat(b: object) -> bool:
    """`discount M`: an amount off the order, not off each unit."""
    return isinstance(b, ast.DiscountAmount) and not b.each


@lint("discount-exceeds-threshold")
def discount_over_step(st: State) -> Iterator[Diagnostic]:
    """`discount M every S` with M >= S gives at least what is spent."""
    for b in st.clauses(ast.DiscountEvery):
        if b.every.value > 0 and b.amount.value >= b.every.value:
            yield m.discount_over_step(b.amount, b.every)


# ---- unreachable-tier ------------------------------------------------------------------------------


def _benefit_value(b: object) -> tuple[str, Decimal, bool] | None:
    """(kind, value, lower-is-better) for benefits comparable from constants alone."""
    if isinstance(b, ast.DiscountAmount):
        return ("each" if b.each else "discount", b.amount.value, False)
    if isinstance(b, ast.DiscountPercent) and b.cap is None:
        return ("percent", b.off, False)
    if isinstance(b, ast.PriceEach):
        return ("price", b.amount.value, True)
    return None


def _dead_tiers(tiers: list[tuple[ast.Expr, object]]) -> Iterator[Diagnostic]:
    """Tiers that never give their benefit. The best benefit among the met tiers applies, so a
    tier is dead when another tier that is met whenever it is (same measure, threshold at or
    below) gives at least as much; on an exact tie the later one is reported."""
    by_measure: dict[str, list[tuple[tuple[Decimal, bool], int, ast.Expr, tuple[str, Decimal, bool]]]] = {}
    for index, (cond, benefit) in enumerate(tiers):
        th, value = ast.threshold(cond), _benefit_value(benefit)
        if th is not None and th[0] in _TIER_MEASURES and value is not None:
            by_measure.setdefault(th[0], []).append(((th[1], th[2]), index, cond, value))
    for rows in by_measure.values():
        # by threshold; among equal thresholds the best benefit first, then written order
        rows.sort(key=lambda r: (r[0], r[3][1] if r[3][2] else -r[3][1], r[1]))
        best: dict[str, tuple[Decimal, ast.Expr, tuple[Decimal, bool]]] = {}  # kind -> the best tier so far
        for key, _, cond, (kind, amount, low_is_better) in rows:
            prev = best.get(kind)
            if prev is not None and (amount >= prev[0] if low_is_better else amount <= prev[0]):
                yield m.unreachable_tier(cond, prev[1], same_threshold=prev[2] == key)
                continue
            best[kind] = (amount, cond, key)


@lint("unreachable-tier")
def unreachable_tiers(st: State) -> Iterator[Diagnostic]:
    """Tiers of a `tiers` benefit, and presale price tiers below the presale price, that another
    tier always beats."""
    for c in st.clauses(ast.Tiers):
        if len(c.tiers) <= MAX_TIERS:
            yield from _dead_tiers([(t.condition, t.benefit) for t in c.tiers])
    for price in st.clauses(ast.PresalePrice):
        if len(price.tiers) <= MAX_TIERS:
            yield from _dead_tiers([(t.condition, ast.PriceEach(t.price)) for t in price.tiers
                                    if t.price.value < price.price.value])


@lint("unreachable-tier")
def tier_price_not_below(st: State) -> Iterator[Diagnostic]:
    """A presale price tier at or above the presale's own price: the lowest price applies."""
    for price in st.clauses(ast.PresalePrice):
        for tier in price.tiers:
            if tier.price.value >= price.price.value:
                yield m.tier_price_not_below(tier.price, price.price)


# ---- stale-window ----------------------------------------------------------------------------------


@lint("stale-window")
def stale_windows(st: State) -> Iterator[Diagnostic]:
    """A window that ends STALE_GAP or more before every other window of the ruleset ends."""
    if len(st.windows) < 2:
        return
    ordered = sorted(st.windows, key=lambda w: w[0])
    first, second = ordered[0][0], ordered[1][0]
    for end, token in st.windows:
        others_end = second if end == first else first
        if end <= others_end - STALE_GAP:
            yield m.stale_window(token, others_end)


# ---- shadowed-by-exclusive -------------------------------------------------------------------------


@lint("shadowed-by-exclusive")
def shadowed_by_exclusive(st: State) -> Iterator[Diagnostic]:
    """A promotion with the level and scope of an exclusive one never applies with it."""
    by_scope: dict[tuple[str, object], list[tuple[ast.Promotion, bool]]] = {}  # (level, scope) -> promotions
    exclusive_keys: dict[tuple[str, object], None] = {}  # in the order written
    for p in st.of(ast.Promotion):
        level, scope, exclusive = _first_of(p)
        if level is not None and level.value.value in LEVELS:
            key: tuple[str, object] = (level.value.value, scope.expr if scope is not None else None)
            by_scope.setdefault(key, []).append((p, exclusive))
            if exclusive:
                exclusive_keys[key] = None
    for shared in exclusive_keys:
        group = by_scope[shared]
        first = next(p for p, exclusive in group if exclusive)
        for p, exclusive in group:
            if not exclusive:
                yield m.shadowed_by_exclusive(p.name, first.name)


def _first_of(p: ast.Promotion) -> tuple[ast.Level | None, ast.Scope | None, bool]:
    """A promotion's first `level`, first `scope`, and whether it is `exclusive`, in one walk."""
    level = scope = None
    exclusive = False
    for c in p.clauses:
        if isinstance(c, ast.Level):
            level = level or c
        elif isinstance(c, ast.Scope):
            scope = scope or c
        elif isinstance(c, ast.Exclusive):
            exclusive = True
    return level, scope, exclusive
