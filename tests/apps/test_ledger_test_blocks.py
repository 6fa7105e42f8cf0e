"""Test blocks with the ledger's figures (`used "p" N`, `spent "p" M`, docs/language.md §7): with
them a test is priced with a ledger of those figures (total limits and budgets hold, a budget
with less left cuts the discount); without them, as before, total limits and budgets are not
reached. Through `promo test` and through the formatter."""

from __future__ import annotations

from pathlib import Path

from engine.lang.load import load_sources
from engine.lang.parser import parse_text
from engine.lang.printer import format_file
from engine.lang.source import SourceFile
from server.cli.main import main

RULES = """\
ruleset "t" { currency CNY timezone "Asia/Shanghai" }

coupon "ten" { level shop limit 100 total budget 25 per day discount 10 }

promotion "two" { level platform limit 2 total discount 1 }
"""

TESTS = """\
test "no ledger figures: nothing is counted" {
    line "a" sku "x" shop "S1" price 100 qty 1
    wallet "ten"
    expect payable 89
    expect applied "ten" 10
}

test "a budget with 5.00 left cuts the 10.00" {
    line "a" sku "x" shop "S1" price 100 qty 1
    wallet "ten"
    spent "ten" 20
    expect payable 94
    expect applied "ten" 5
}

test "no budget left" {
    line "a" sku "x" shop "S1" price 100 qty 1
    wallet "ten"
    spent "ten" 25.00
    expect not_applied "ten" BUDGET_EXHAUSTED
    expect payable 99
}

test "a total limit reached" {
    line "a" sku "x" shop "S1" price 100 qty 1
    used "two" 2
    used "ten" 99
    wallet "ten"
    expect not_applied "two" LIMIT_REACHED
    expect applied "ten" 10
    expect payable 90
}
"""


def pack(tmp_path: Path, tests: str = TESTS) -> Path:
    (tmp_path / "rules.promo").write_text(RULES, encoding="utf-8")
    (tmp_path / "ledger_test.promo").write_text(tests, encoding="utf-8")
    return tmp_path


def test_promo_test_runs_the_ledger_figures(tmp_path, capsys):
    assert main(["test", str(pack(tmp_path))]) == 0, capsys.readouterr().out


def test_a_wrong_expectation_about_a_cut_fails(tmp_path, capsys):
    assert main(["test", str(pack(tmp_path, TESTS.replace("expect applied \"ten\" 5", "expect applied \"ten\" 10"))
                               )]) == 1
    out = capsys.readouterr().out
    assert "a budget with 5.00 left cuts the 10.00" in out


def test_the_figures_round_trip_through_the_formatter():
    text = format_file(parse_text(TESTS, "ledger_test.promo").file)
    assert '    used "two" 2\n' in text and '    spent "ten" 25.00\n' in text
    assert format_file(parse_text(text, "ledger_test.promo").file) == text
    loaded = load_sources([SourceFile("rules.promo", RULES), SourceFile("ledger_test.promo", text)])
    assert loaded.ok, [d.message for d in loaded.diagnostics]


def test_backtest_follows_the_plans_budget_clauses():
    from engine.apps.backtest.price import Budget, budgets_of
    from engine.plan.compiler import compile_plan

    plan = compile_plan(load_sources([SourceFile("rules.promo", RULES)]))
    assert budgets_of(plan) == (Budget("ten", 2500, "day"),)
