"""The ledger's clauses in the language: parsed into the syntax tree, printed canonically by
`promo fmt` (a messy layout comes out in the canonical one and re-parses to an equal tree), and
checked: codes (of diagnostics) and positions, not message text."""

from __future__ import annotations

import pytest

from engine.lang import ast
from engine.lang.load import load_sources
from engine.lang.parser import parse_text
from engine.lang.printer import format_file
from engine.lang.source import SourceFile

MESSY = """coupon "c" { level shop limit   1 per user
  limit 2 per user per day limit 10000 total limit 50 total    per week
    budget 500.00 budget 50 per   day codes discount 10 }
"""

CANONICAL = """coupon "c" {
    level shop
    limit 1 per user
    limit 2 per user per day
    limit 10000 total
    limit 50 total per week
    budget 500.00
    budget 50 per day
    codes
    discount 10
}
"""


def test_the_clauses_parse_into_the_tree():
    (coupon,) = parse_text(MESSY, "rules.promo").file.items
    limits = ast.clauses_of(coupon, ast.Limit)
    assert [(c.count.text, c.per.value if c.per else None, c.period.value if c.period else None) for c in limits] == [
        ("1", "user", None), ("2", "user", "day"), ("10000", None, None), ("50", None, "week")]
    budgets = ast.clauses_of(coupon, ast.Budget)
    assert [(b.amount.text, b.period.value if b.period else None) for b in budgets] == [("500.00", None), ("50", "day")]
    assert ast.first(coupon, ast.Codes) is not None


def test_fmt_prints_them_canonically_and_round_trips():
    parsed = parse_text(MESSY, "rules.promo").file
    text = format_file(parsed)
    assert text == CANONICAL
    again = parse_text(text, "rules.promo").file
    assert again.items == parsed.items and format_file(again) == text


def diagnostics(rules: str) -> list[tuple[str, int, int]]:
    loaded = load_sources([SourceFile("rules.promo", rules)])
    return [(d.code, d.span.line, d.span.column) for d in loaded.diagnostics]


def test_several_limits_and_budgets_may_stand_together():
    assert diagnostics(CANONICAL) == []


@pytest.mark.parametrize("clause,code,column", [
    ("limit 0 total", "invalid-number", 42),
    ("limit 0 per user", "invalid-number", 42),
    ("limit 1.5 per user", "invalid-number", 42),
    ("limit 1 per day", "unknown-value", 48),
    ("limit 1 per user per year", "unknown-value", 57),
    ("limit 1 total per fortnight", "unknown-value", 54),
    ("budget 0", "invalid-number", 43),
    ("budget 9.999", "money-precision", 43),
    ("budget 10 per hour", "unknown-value", 50),
])
def test_bad_values_are_reported_at_the_value(clause, code, column):
    # `coupon "c" { level shop discount 1 ` is 35 characters: the clause starts at column 36
    assert diagnostics(f'coupon "c" {{ level shop discount 1 {clause} }}') == [(code, 1, column)]


def test_the_same_thing_counted_twice_is_a_duplicate_and_codes_needs_a_coupon():
    assert diagnostics('coupon "c" { level shop discount 1 budget 5 per day budget 9 per day }') == [
        ("duplicate-clause", 1, 53)]
    assert diagnostics('coupon "c" { level shop discount 1 codes codes }') == [("duplicate-clause", 1, 42)]
    assert diagnostics('promotion "p" { level shop codes discount 1 }') == [("codes-on-promotion", 1, 28)]


def test_budget_decimals_follow_the_currency():
    assert diagnostics('ruleset "t" { currency JPY }\ncoupon "c" { level shop discount 1 budget 500.5 }') == [
        ("money-precision", 2, 43)]
    assert diagnostics('ruleset "t" { currency JPY }\ncoupon "c" { level shop discount 1 budget 500 }') == []
