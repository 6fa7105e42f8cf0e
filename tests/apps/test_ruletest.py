"""`promo test` on a failing expectation: exit 1, a diff with the expected and the actual value at
the expectation's position, and with `--explain` the quote and trace of the failing test only."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from server.cli.main import main

SEED = Path(__file__).resolve().parents[2] / "examples" / "seed" / "parallel"


@pytest.fixture
def seed_copy(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("COLUMNS", "200")  # rich wraps at the terminal width; keep each line whole
    target = tmp_path / "parallel"
    shutil.copytree(SEED, target)
    return target


def break_expectation(pack: Path, old: str, new: str) -> tuple[int, int]:
    """Replace `old` by `new` in the pack's test file; the 1-based (line, column) of the change."""
    path = pack / "seed_test.promo"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    before = text[: text.index(old)]
    return before.count("\n") + 1, len(before.rsplit("\n", 1)[-1]) + 1


def run(capsys, *argv: str) -> tuple[int, str]:
    code = main(["test", *argv])
    captured = capsys.readouterr()
    return code, captured.out


def test_the_seed_pack_passes(seed_copy, capsys):
    code, out = run(capsys, str(seed_copy))
    assert code == 0
    assert out.startswith("PASS ")
    assert out.rstrip().endswith("1 passed, 0 failed")


def test_wrong_payable_fails_with_a_diff(seed_copy, capsys):
    line, column = break_expectation(seed_copy, "expect payable 170", "expect payable 171")
    code, out = run(capsys, str(seed_copy))
    assert code == 1
    assert re.search(r"^FAIL seed, parallel: both order-level promotions on the 200\.00 base  \(.*seed_test\.promo:4:1\)$",
                     out, re.M), out
    assert f"seed_test.promo:{line}:{column}: expect payable 171" in out
    assert "- expected 171.00" in out
    assert "+ actual   170.00" in out
    assert out.rstrip().endswith("0 passed, 1 failed")
    # only the broken expectation is listed: the others still hold
    assert out.count("- expected") == 1


def test_every_failing_expectation_is_listed(seed_copy, capsys):
    break_expectation(seed_copy, 'expect applied "cross-200-20" 20', 'expect not_applied "cross-200-20" THRESHOLD_NOT_MET')
    break_expectation(seed_copy, 'expect line "l1" final 170', 'expect line "l1" final 180')
    code, out = run(capsys, str(seed_copy))
    assert code == 1
    # for not_applied the actual value of an applied promotion is `applied AMOUNT`
    assert "- expected THRESHOLD_NOT_MET" in out and "+ actual   applied 20.00" in out
    assert "- expected 180.00" in out and "+ actual   170.00" in out
    assert out.count("- expected") == 2


def test_explain_prints_the_quote_and_trace_of_the_failing_test(seed_copy, capsys):
    break_expectation(seed_copy, "expect payable 170", "expect payable 171")
    code, out = run(capsys, str(seed_copy), "--explain")
    assert code == 1
    assert "expected 171.00" in out and "actual   170.00" in out
    # the quote: the line table with its discounts and the totals
    assert "sku110-direct" in out and "cross-200-20" in out
    assert re.search(r"payable\s+170\.00", out), out
    # the trace: the candidates, the item-level decision and each allocation
    assert "trace step=candidate, promotion=sku110-direct" in out
    assert "trace step=item, line=l1, winner=sku110-direct" in out
    assert "trace step=apply, promotion=cross-200-20" in out
    assert "trace step=search" in out


def test_explain_trace_money_is_decimal(seed_copy, capsys):
    break_expectation(seed_copy, "expect payable 170", "expect payable 171")
    code, out = run(capsys, str(seed_copy), "--explain")
    assert code == 1
    assert "trace step=item, line=l1, winner=sku110-direct, discount=20.00" in out
    assert "payable=170.00, result=best so far" in out


def test_explain_says_nothing_more_for_passing_tests(seed_copy, capsys):
    code, out = run(capsys, str(seed_copy), "--explain")
    assert code == 0
    assert "trace" not in out and "payable" not in out


def test_a_ruleset_with_errors_stops_the_run(seed_copy, capsys):
    rules = seed_copy / "rules.promo"
    rules.write_text(rules.read_text(encoding="utf-8").replace("discount 20", "discount 20.001"), encoding="utf-8")
    code = main(["test", str(seed_copy)])
    captured = capsys.readouterr()
    assert code == 2
    assert "error[money-precision]" in captured.err
