"""Benefit arithmetic against a slow exact reference (fractions, unit by unit)."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given, settings
from hypothesis import strategies as st

from engine.base.money import round_ratio
from engine.plan.benefits import AmountOff, NthUnit, Part, PercentOff, PriceEach, discount_parts

parts_st = st.lists(st.builds(Part, st.integers(1, 100_000), st.integers(1, 5)), min_size=1, max_size=5)
inner_st = st.one_of(
    st.builds(lambda p: PercentOff(Fraction(p, 100)), st.integers(1, 99)),
    st.just(PercentOff(Fraction(1, 3))),
    st.builds(AmountOff, st.integers(1, 5_000)),
    st.builds(PriceEach, st.integers(0, 5_000)),
)


def reference_nth(n, inner, parts, mode):
    units = sorted((Fraction(p.amount, p.quantity), i) for i, p in enumerate(parts) for _ in range(p.quantity))
    exact = Fraction(0)
    for unit_price, _ in units[: len(units) // n]:
        if isinstance(inner, PercentOff):
            exact += unit_price * inner.rate
        elif isinstance(inner, AmountOff):
            exact += min(Fraction(inner.amount), unit_price)
        else:
            exact += max(Fraction(0), unit_price - inner.price)
    return round_ratio(exact.numerator, exact.denominator, mode)


@settings(max_examples=500, deadline=None)
@given(st.integers(2, 3), inner_st, parts_st, st.sampled_from(["half_up", "half_even", "down"]))
def test_nth_unit_matches_the_unit_by_unit_reference(n, inner, parts, mode):
    total, shares = discount_parts(NthUnit(n, inner), parts, mode, whole=True)
    assert total == reference_nth(n, inner, parts, mode)
    assert sum(shares) == total and all(s >= 0 for s in shares)


def test_nth_discounts_the_cheapest_units_and_names_their_lines():
    # 2 × 100.00 and 1 × 40.00 with every 2nd unit half price: 1 discounted unit, the 40.00 one
    half = NthUnit(2, PercentOff(Fraction(1, 2)))
    total, shares = discount_parts(half, [Part(20000, 2), Part(4000, 1)], "half_up", True)
    assert (total, shares) == (2000, [0, 2000])
