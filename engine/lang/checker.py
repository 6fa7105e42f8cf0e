"""Names, types and the attribute schema; warnings about rules that are legal but likely wrong.

`check_ruleset(files)` looks at every file of one ruleset together and returns `Checked`: the
settings resolved once, the type of every expression, and all diagnostics, sorted (`check(files)`
is the diagnostics alone). It runs PASSES in order, each a small module of engine/lang/check/
(settings, names, blocks, values, types, tests), then the LINTS (engine/lang/check/lints.py),
one function per warning. It never raises on a tree the parser can build, and it is linear in
the size of the ruleset: every cross-block question (duplicate names, shadowing, stale windows)
is answered with dicts. The messages are engine/lang/messages.py's.

Decisions the language reference leaves open (docs/language.md carries them):
- tiers: the best benefit among the tiers that are met applies (for rising tiers, the highest
  tier met), whatever order they are written in. A tier is `unreachable-tier` when another tier
  that is met whenever it is (same measure, threshold at or below) gives at least as much; on an
  exact tie the later tier is reported. Only decided from constants: tiers of the simple form
  `amount|quantity|sold >= C` (or `>`) with benefits of the same kind (`discount M`,
  `discount M each`, `discount P%` without `max`, `price M each`). A presale price tier at or
  above the presale's own price is unreachable too (the lowest price applies).
- `stale-window`: a promotion, coupon or presale window (guards are exempt: they protect the
  time *before* an event by design) whose end is at least 90 days before the earliest end of all
  the ruleset's other such windows. It catches a mistyped year or a campaign left behind,
  not a warm-up that ends a few days before the main event.
- `shadowed-by-exclusive`: a non-exclusive promotion or coupon with the same level and the same
  scope expression (compared as syntax trees; no scope = every line) as an exclusive one.
- `discount-exceeds-threshold`: `discount M` (not `each`) with a `when amount >= C` (or `>`)
  conjunct, or a tier `amount >= C: discount M`, where M >= C; and `discount M every S` with M >= S.
- every promotion and coupon needs a `level` (`missing-clause`); `free_shipping` is the one
  benefit of `level shipping`.
- types: number literals go with money, integer and number attributes; money and integer
  attributes do not mix (`amount >= quantity`); a percentage literal compares only with a declared
  `number` attribute; sets take `has "x"` (strings) and `"x" in set`, never `==`; ordering
  operators need numbers, money, percentages or date-times. Money literals are checked against
  the currency's minor unit as written (`9.90` has 2 decimals), integer attributes take whole numbers.
- `sold` is only known in a presale's `price ... tiers`; `now`, `user.*`, `channel`, `region`,
  `cart.*`, `amount`, `quantity` are order attributes (also allowed in `tiers`).
- presale: `price` is required; `balance`, `deposit_window`, `balance_window` need a `deposit`;
  a `deposit` needs a `balance_window`; `worth` is at least the deposit and at most the price.
- tests: only in `*_test.promo` files; `wallet`/`selected` name coupons (not automatic promotions);
  `expect not_applied` takes the reasons of engine.base.enums except `CAPPED` (an applied marker).
- date-times without an offset are read in the header's timezone (UTC without one), as the compiler does.
- limits: one `tiers` clause (or a presale's `price ... tiers`) has at most MAX_TIERS tiers;
  past it `too-many-tiers` at the first tier too many, and the tiers are not compared pairwise.
"""

from __future__ import annotations

import contextlib
import gc
import time
from collections.abc import Callable, Iterator, MutableMapping, Sequence

from engine.lang import ast
from engine.lang import messages as m
from engine.lang.check import blocks, expressions, names, settings, testblocks, values
from engine.lang.check.lints import LINTS
from engine.lang.check.state import MAX_TIERS, State
from engine.lang.checked import Checked, RulesetSettings, Types
from engine.lang.diagnostics import Diagnostic, sort_diagnostics

__all__ = ["MAX_TIERS", "PASSES", "LINTS", "check", "check_ruleset"]

# The passes, in the order they run: each reads what the earlier ones found (the settings pass
# resolves the currency and timezone every later value check uses; the names pass the names the
# tests pass looks up).
PASSES: tuple[tuple[str, Callable[[State], None]], ...] = (
    ("settings", settings.run),
    ("names", names.run),
    ("blocks", blocks.run),
    ("values", values.run),
    ("types", expressions.run),
    ("tests", testblocks.run),
)


def check(files: Sequence[ast.File]) -> list[Diagnostic]:
    """Every error and warning about one ruleset (all its files), sorted by position."""
    return list(check_ruleset(files).diagnostics)


def check_ruleset(files: Sequence[ast.File], metrics: MutableMapping[str, float] | None = None) -> Checked:
    """The checked ruleset; with `metrics`, the seconds each pass and lint took, by name
    (bench/parse_check.py prints them)."""
    with _gc_paused():
        try:
            return _run(files, metrics)
        except Exception as err:  # a bug here must not crash `promo check` or ValidateRules
            crash = m.internal_error(files[0].path if files else m.NO_FILE, m.CHECKER, err)
            return Checked(RulesetSettings(), Types(), (crash,))


def _run(files: Sequence[ast.File], metrics: MutableMapping[str, float] | None = None) -> Checked:
    st = State(files)
    for name, run in PASSES:
        with _timed(metrics, name):
            run(st)
    for lint in LINTS:
        with _timed(metrics, f"lint {lint.name}"):
            st.out.extend(lint.run(st))
    return Checked(st.settings, st.types, tuple(sort_diagnostics(st.out)))


@contextlib.contextmanager
def _timed(metrics: MutableMapping[str, float] | None, name: str) -> Iterator[None]:
    if metrics is None:
        yield
        return
    start = time.perf_counter()
    yield
    metrics[name] = metrics.get(name, 0.0) + time.perf_counter() - start


@contextlib.contextmanager
def _gc_paused() -> Iterator[None]:
    """The checker makes no reference cycles; with a large tree alive, the cyclic collector's
    full passes would cost more than the checking itself (10,000 promotions: 1.3 s -> 0.45 s)."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()
