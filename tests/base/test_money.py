"""Money: parsing and formatting minor units, rounding modes, largest-remainder allocation."""

from __future__ import annotations

from decimal import Decimal
from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.base.money import MAX_MINOR, MoneyError, allocate, decimal_to_minor, format_money, parse_money, round_ratio


@pytest.mark.parametrize("text,digits,minor", [("110", 2, 11000), ("110.0", 2, 11000), ("0.01", 2, 1), ("7", 0, 7),
                                               ("1.234", 3, 1234)])
def test_parse_money(text, digits, minor):
    assert parse_money(text, digits) == minor


@pytest.mark.parametrize("text", ["1.234", "-1", "1e3", "NaN", " 1", "", "1.", ".5", "1,00",
                                  "１００", "١٠٠", "1.230", "10000000000000.00", "1" * 35, "9" * 5000])
def test_parse_money_rejects(text):
    with pytest.raises(MoneyError):
        parse_money(text, 2)


def test_trailing_zeros_past_the_minor_unit_are_refused():
    assert parse_money("7", 0) == 7
    for text, digits in (("1.230", 2), ("7.0", 0), ("1.0000", 3)):
        with pytest.raises(MoneyError, match="more than"):
            parse_money(text, digits)


def test_the_bound_is_below_10_to_the_15_minor_units_in_every_currency():
    assert parse_money("9999999999999.99", 2) == MAX_MINOR == 10**15 - 1
    assert parse_money("999999999999999", 0) == MAX_MINOR
    assert parse_money("0000000000000000000000000.01", 2) == 1  # leading zeros do not count
    for text, digits in (("10000000000000", 2), ("1000000000000000", 0), ("1000000000000", 3)):
        with pytest.raises(MoneyError, match="too large: at most"):
            parse_money(text, digits)


def test_a_huge_amount_is_a_short_clean_error():
    with pytest.raises(MoneyError) as err:
        parse_money("9" * 5000, 2)
    assert len(str(err.value)) < 200 and "…" in str(err.value)


def test_rule_literals_convert_exactly_past_28_digits():
    digits35 = "12345678901234567890123456789012345"
    assert decimal_to_minor(Decimal(digits35 + ".67"), 2) == int(digits35 + "67")
    with pytest.raises(MoneyError):
        decimal_to_minor(Decimal(digits35 + ".001"), 2)


def test_format_money():
    assert [format_money(v, 2) for v in (0, 1, 11000, -5)] == ["0.00", "0.01", "110.00", "-0.05"]
    assert format_money(7, 0) == "7"


@pytest.mark.parametrize("value,half_up,half_even,down", [
    (Fraction(5, 2), 3, 2, 2), (Fraction(7, 2), 4, 4, 3), (Fraction(26, 10), 3, 3, 2), (Fraction(24, 10), 2, 2, 2),
    (Fraction(3), 3, 3, 3),
])
def test_rounding_modes(value, half_up, half_even, down):
    modes = ("half_up", "half_even", "down")
    assert tuple(round_ratio(value.numerator, value.denominator, m) for m in modes) == (half_up, half_even, down)


def test_allocation_examples():
    assert allocate(1000, [1, 1, 1]) == ([334, 333, 333], 0)  # remainder tie: the first index
    assert allocate(1000, [100, 100], [300, 2000]) == ([300, 700], 0)  # capped part, rest redistributed
    assert allocate(10, [1, 1], [3, 3]) == ([3, 3], 4)  # what no part can take is returned
    assert allocate(5, [0, 0]) == ([0, 0], 5)


@settings(max_examples=400, deadline=None)
@given(st.integers(0, 10**7), st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 10**6)), min_size=1, max_size=12))
def test_allocation_is_exact_and_respects_room(total, lines):
    weights = [w for w, _ in lines]
    room = [r for _, r in lines]
    parts, left = allocate(total, weights, room)
    assert sum(parts) + left == total and left >= 0
    assert all(0 <= p <= r for p, r in zip(parts, room))
    assert all(p == 0 for p, w in zip(parts, weights) if w == 0)
    if left:  # only what no weighted line had room for stays unplaced
        assert all(p == r for p, r, w in zip(parts, room, weights) if w > 0)


@settings(max_examples=300, deadline=None)
@given(st.integers(0, 10**7), st.lists(st.integers(1, 10**6), min_size=1, max_size=12))
def test_uncapped_allocation_is_within_one_unit_of_the_exact_share(total, weights):
    parts, left = allocate(total, weights)
    assert left == 0
    for p, w in zip(parts, weights):
        assert abs(p - Fraction(total * w, sum(weights))) < 1
