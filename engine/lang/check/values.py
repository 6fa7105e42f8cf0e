"""The `values` pass: the numbers, date-times and windows written in clauses.

Money literals are checked against the currency's minor unit as written (`9.90` has 2
decimals); counts are whole; discounts, caps and steps are more than 0; percentages of a price
are more than 0% and at most 100%. A presale's `worth` is at least its deposit and at most its
price. One `tiers` clause (or a presale's `price ... tiers`) has at most MAX_TIERS tiers: past
it `too-many-tiers` at the first tier too many, and the tiers are not compared pairwise.
"""

from __future__ import annotations

from collections.abc import Sequence

from engine.lang import ast
from engine.lang import messages as m
from engine.lang.check.state import MAX_TIERS, State
from engine.lang.schema import LIMIT_PER, PERIODS


def run(st: State) -> None:
    for item in st.items:
        if isinstance(item, ast.Promotion):
            _promotion(st, item)
        elif isinstance(item, ast.Presale):
            _presale(st, item)
        elif isinstance(item, ast.Guard):
            for c in item.clauses:
                if isinstance(c, ast.Active):
                    window(st, c.window, stale=False)  # guards protect the time before an event
                elif isinstance(c, ast.FloorPercent):
                    _percent_of_price(st, c.percent, m.FLOOR)
                elif isinstance(c, ast.FloorEach):
                    st.money(c.amount)
        elif isinstance(item, ast.WarningLine):
            for c in item.clauses:
                if isinstance(c, ast.BelowPercent):
                    _percent_of_price(st, c.percent, m.WARNING_LINE)
                elif isinstance(c, ast.BelowEach):
                    st.money(c.amount)


def window(st: State, win: ast.Window, stale: bool = True) -> None:
    """A real, non-empty window; with `stale`, its end is remembered for the stale-window lint."""
    start, end = st.instant(win.start), st.instant(win.end)
    if start is None or end is None:
        return
    if end <= start:
        st.emit(m.empty_window(win))
    elif stale:
        st.windows.append((end, win.end))


def few_tiers(st: State, tiers: Sequence[object]) -> bool:
    """Whether `tiers` is within MAX_TIERS; past it `too-many-tiers` at the first tier too many."""
    if len(tiers) <= MAX_TIERS:
        return True
    st.emit(m.too_many_tiers(tiers[MAX_TIERS].span, len(tiers), MAX_TIERS))  # type: ignore[attr-defined]
    return False


def _promotion(st: State, p: ast.Promotion) -> None:
    for c in p.clauses:
        if isinstance(c, ast.Active):
            window(st, c.window)
        elif isinstance(c, ast.Priority):
            st.whole(c.value, m.PRIORITY)
        elif isinstance(c, ast.Limit):
            st.whole(c.count, m.LIMIT, minimum=1)
            if c.per is not None:
                st.enum(c.per, LIMIT_PER, m.LIMIT_PERIOD)
            if c.period is not None:
                st.enum(c.period, PERIODS, m.PERIOD)
        elif isinstance(c, ast.Budget):
            st.money(c.amount)
            st.positive(c.amount, m.BUDGET)
            if c.period is not None:
                st.enum(c.period, PERIODS, m.PERIOD)
        elif isinstance(c, ast.BENEFIT_TYPES):
            _benefit(st, c)


def _benefit(st: State, b: object) -> None:
    if isinstance(b, ast.DiscountAmount):
        st.money(b.amount)
        st.positive(b.amount, m.DISCOUNT)
    elif isinstance(b, ast.DiscountPercent):
        if b.zhe is not None:
            if not 0 < b.zhe.value < 10:
                st.emit(m.not_a_zhe(b.percent_span, b.zhe))
        elif not 0 < b.off <= 100:
            st.emit(m.not_a_percentage_off(b.percent_span, b.off))
        st.money(b.cap)
        st.positive(b.cap, m.CAP)
    elif isinstance(b, ast.DiscountEvery):
        st.money(b.amount)
        st.money(b.every)
        st.money(b.cap)
        st.positive(b.amount, m.DISCOUNT)
        st.positive(b.every, m.EVERY_STEP)
        st.positive(b.cap, m.CAP)
    elif isinstance(b, ast.PriceEach):
        st.money(b.amount)
    elif isinstance(b, ast.Tiers):
        for tier in b.tiers:
            _benefit(st, tier.benefit)
        few_tiers(st, b.tiers)
    elif isinstance(b, ast.Nth):
        st.whole(b.n, m.NTH, minimum=2)
        _benefit(st, b.benefit)
    elif isinstance(b, ast.Gift):
        st.whole(b.qty, m.GIFT_QTY, minimum=1)


def _presale(st: State, p: ast.Presale) -> None:
    price = ast.first(p, ast.PresalePrice)
    for c in p.clauses:
        if isinstance(c, (ast.Active, ast.DepositWindow, ast.BalanceWindow)):
            window(st, c.window)
        elif isinstance(c, ast.Priority):
            st.whole(c.value, m.PRIORITY)
        elif isinstance(c, ast.PresalePrice):
            st.money(c.price)
            for tier in c.tiers:
                st.money(tier.price)
            few_tiers(st, c.tiers)
        elif isinstance(c, ast.Deposit):
            st.money(c.amount)
            st.money(c.worth)
            st.positive(c.amount, m.DEPOSIT)
            if c.worth is not None and c.worth.value < c.amount.value:
                st.emit(m.worth_below_deposit(c.worth, c.amount))
            if price is not None:
                top = c.worth if c.worth is not None else c.amount
                if top.value > price.price.value:
                    st.emit(m.deposit_above_price(top, price.price))
        elif isinstance(c, ast.BalanceDiscount):
            st.money(c.amount)
            st.positive(c.amount, m.BALANCE_DISCOUNT)
        elif isinstance(c, ast.Ships):
            st.instant(c.date)
        elif isinstance(c, ast.Stock):
            st.whole(c.count, m.STOCK, minimum=1)


def _percent_of_price(st: State, num: ast.Number, what: str) -> None:
    if not 0 < num.value <= 100:
        st.emit(m.percent_of_price(num, what))
