"""The `blocks` pass: the clauses each block has, lacks or has twice.

Every promotion and coupon needs one benefit and a `level` (`missing-clause`); `free_shipping`
is the one benefit of `level shipping`. A presale needs a `price`; `balance`, `deposit_window`
and `balance_window` need a `deposit`, and a `deposit` needs a `balance_window`. A guard needs
a `floor`, a warning line a `below`.
"""

from __future__ import annotations

from engine.lang import ast
from engine.lang import messages as m
from engine.lang.check.state import KEYWORDS, State, keyword_span
from engine.lang.printer import clause_text
from engine.lang.schema import LEVELS


def run(st: State) -> None:
    for item in st.items:
        if isinstance(item, ast.Promotion):
            _promotion(st, item)
        elif isinstance(item, ast.Presale):
            _presale(st, item)
        elif isinstance(item, ast.Guard):
            if st.singles(item, item.clauses).get(ast.FloorPercent) is None:
                st.emit(m.guard_without_floor(item.name.span, item.name.value))
        elif isinstance(item, ast.WarningLine):
            if st.singles(item, item.clauses).get(ast.BelowPercent) is None:
                st.emit(m.warning_without_below(item.name.span, item.name.value))


def _promotion(st: State, p: ast.Promotion) -> None:
    seen = st.singles(p, p.clauses, allowed_twice=(ast.Limit, ast.Budget))
    _ledger_clauses(st, p)
    benefits = [c for c in p.clauses if isinstance(c, ast.BENEFIT_TYPES)]
    if not benefits:
        st.emit(m.no_benefit(p.name.span, p.kind, p.name.value))
    for extra in benefits[1:]:
        st.emit(m.second_benefit(keyword_span(extra), p.kind, p.name.value, benefits[0].span))
    level = seen.get(ast.Level)
    if not isinstance(level, ast.Level):
        st.emit(m.no_level(p.name.span, p.kind, p.name.value))
    elif st.enum(level.value, LEVELS, m.LEVEL) and benefits:
        free = [b for b in benefits if isinstance(b, ast.FreeShipping)]
        if level.value.value != "shipping":
            for b in free:
                st.emit(m.free_shipping_off_level(b.span, level.value.value))
        elif not free:
            st.emit(m.shipping_without_free_shipping(level.value.span))


def _ledger_clauses(st: State, p: ast.Promotion) -> None:
    """Several `limit` and `budget` clauses may stand together, each counting something else: a
    second one counting the same (per user or in total, over the same period) is a duplicate.
    `codes` redeems a coupon: on an automatic promotion it is an error."""
    counted: dict[tuple[str, str, str], object] = {}
    for c in p.clauses:
        if isinstance(c, ast.Limit):
            key = ("limit", c.per.value if c.per is not None else "", c.period.value if c.period is not None else "")
        elif isinstance(c, ast.Budget):
            key = ("budget", "", c.period.value if c.period is not None else "")
        else:
            if isinstance(c, ast.Codes) and p.kind != "coupon":
                st.emit(m.codes_on_promotion(keyword_span(c), p.name.value))
            continue
        if key in counted:
            st.emit(m.same_limit_twice(keyword_span(c), clause_text(c), p.name.value,
                                       counted[key].span))  # type: ignore[attr-defined]
        else:
            counted[key] = c


def _presale(st: State, p: ast.Presale) -> None:
    seen = st.singles(p, p.clauses)
    deposit = seen.get(ast.Deposit)
    if seen.get(ast.PresalePrice) is None:
        st.emit(m.presale_without_price(p.name.span, p.name.value))
    if deposit is None:
        for kind in (ast.BalanceDiscount, ast.DepositWindow, ast.BalanceWindow):
            c = seen.get(kind)
            if c is not None:
                st.emit(m.needs_deposit(keyword_span(c), KEYWORDS[kind]))
    elif seen.get(ast.BalanceWindow) is None:
        st.emit(m.deposit_without_balance_window(keyword_span(deposit), p.name.value))
