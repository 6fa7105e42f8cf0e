"""`stock N` on a presale (activity stock): parsed into the tree, printed canonically (round trip),
checked (a whole number of at least 1, written once, reported at the value) and compiled into
the plan's Presale.stock (None without the clause)."""

from __future__ import annotations

import pytest

from engine.lang import ast
from engine.lang.load import load_sources
from engine.lang.parser import parse_text
from engine.lang.printer import format_file
from engine.lang.source import SourceFile
from engine.plan.compiler import compile_plan

MESSY = 'presale "p" { scope sku == "a" price 2000 deposit 100 worth 200   stock   3000\n' \
        '  deposit_window 2026-10-20 .. 2026-11-01 balance_window 2026-11-01 .. 2026-11-04 }\n'

CANONICAL = """presale "p" {
    scope sku == "a"
    price 2000
    deposit 100 worth 200
    stock 3000
    deposit_window 2026-10-20 .. 2026-11-01
    balance_window 2026-11-01 .. 2026-11-04
}
"""


def diagnostics(rules: str) -> list[tuple[str, int, int]]:
    loaded = load_sources([SourceFile("rules.promo", rules)])
    return [(d.code, d.span.line, d.span.column) for d in loaded.diagnostics]


def test_stock_parses_and_round_trips():
    parsed = parse_text(MESSY, "rules.promo").file
    (presale,) = parsed.items
    stock = ast.first(presale, ast.Stock)
    assert stock is not None and stock.count.text == "3000"
    text = format_file(parsed)
    assert text == CANONICAL
    again = parse_text(text, "rules.promo").file
    assert again.items == parsed.items and format_file(again) == text


def test_stock_compiles_into_the_plan():
    loaded = load_sources([SourceFile("rules.promo", CANONICAL)])
    assert loaded.ok
    (p,) = compile_plan(loaded).presales
    assert p.stock == 3000
    loaded = load_sources([SourceFile("rules.promo", 'presale "q" { scope sku == "a" price 10 }')])
    assert compile_plan(loaded).presales[0].stock is None


@pytest.mark.parametrize("clause,code,column", [
    ("stock 0", "invalid-number", 47),
    ("stock 2.5", "invalid-number", 47),
    ("stock 1 stock 2", "duplicate-clause", 49),
])
def test_bad_stock_is_reported_at_the_value(clause, code, column):
    # `presale "a" { scope sku == "a" price 10 ` is 40 characters: the clause starts at column 41
    assert diagnostics(f'presale "a" {{ scope sku == "a" price 10 {clause} }}') == [(code, 1, column)]


def test_a_good_stock_is_clean():
    assert diagnostics(CANONICAL) == []
