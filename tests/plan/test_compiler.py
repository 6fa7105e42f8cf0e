"""The compiler: named stages over what the checker hands on, to a plan with no syntax inside."""

from __future__ import annotations

import dataclasses
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from engine.base.request import Line, User
from engine.lang import ast
from engine.lang.checked import Types
from engine.lang.load import Loaded, load_ruleset, load_sources
from engine.lang.source import SourceFile, ruleset_roots
from engine.plan.compiler import STAGES, CompileError, compile_plan
from engine.plan.plan import Plan
from engine.plan.predicates import OrderFacts, within

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples"
NOW = datetime(2026, 11, 11, tzinfo=UTC)


def loaded(text: str) -> Loaded:
    result = load_sources([SourceFile("rules.promo", text)])
    assert result.ok, result.diagnostics
    return result


def _values(x: object, seen: set[int]) -> list[object]:
    """Every value reachable from `x` through dataclass fields, tuples, lists, sets and dicts."""
    if id(x) in seen:
        return []
    seen.add(id(x))
    out = [x]
    if dataclasses.is_dataclass(x) and not isinstance(x, type):
        for f in dataclasses.fields(x):
            out += _values(getattr(x, f.name), seen)
    elif isinstance(x, (tuple, list, set, frozenset)):
        for item in x:
            out += _values(item, seen)
    elif isinstance(x, dict):
        for k, v in x.items():
            out += _values(k, seen) + _values(v, seen)
    return out


@pytest.mark.parametrize("root", ruleset_roots(EXAMPLES), ids=lambda p: p.name)
def test_a_plan_holds_no_syntax_tree(root: Path) -> None:
    plan = compile_plan(load_ruleset(root))
    found = [type(v).__name__ for v in _values(plan, set()) if type(v).__module__ == ast.__name__]
    assert found == []
    assert not hasattr(plan, "tests")  # test blocks go to the test runner from the loaded ruleset


def test_the_stages_are_named_and_timed() -> None:
    assert [name for name, _ in STAGES] == ["context", "promotions", "index", "presales", "guards", "warnings",
                                            "revision"]
    metrics: dict[str, float] = {}
    compile_plan(loaded('promotion "p" { level shop discount 10 }\n'), metrics)
    assert list(metrics) == [name for name, _ in STAGES] and all(t >= 0 for t in metrics.values())


def test_the_settings_are_the_checker_s() -> None:
    """The compiler reads `Checked.settings`; it does not read the header again."""
    source = loaded('ruleset "r" { stacking parallel min_payment 1 }\npromotion "p" { level shop discount 10 }\n')
    settings = dataclasses.replace(source.checked.settings, stacking="progressive", currency="JPY")
    plan = compile_plan(dataclasses.replace(source, checked=dataclasses.replace(source.checked, settings=settings)))
    assert (plan.name, plan.stacking, plan.currency, plan.digits, plan.min_payment) == ("r", "progressive", "JPY", 0, 1)


class _NoMoney(Types):
    def of(self, expr: object) -> str:
        return "integer"


def test_the_types_are_the_checker_s() -> None:
    """Whether a comparison is of money (its literal in minor units) is the checker's type."""
    source = loaded('promotion "p" { level shop when amount >= 100 and cart.quantity >= 1 discount 10 }\n')
    facts = OrderFacts(150, 1, 150, 1, User(), "", "", NOW)  # 1.50
    money = compile_plan(source).promotions[0].clauses
    assert [c.test(facts) for c in money] == [False, True]  # 1.50 >= 100.00 is false
    counted = compile_plan(dataclasses.replace(source, checked=dataclasses.replace(source.checked, types=_NoMoney())))
    assert [c.test(facts) for c in counted.promotions[0].clauses] == [True, True]  # 150 >= 100


def test_an_untyped_expression_is_a_bug_not_a_guess() -> None:
    source = loaded('promotion "p" { level shop when amount >= 100 discount 10 }\n')
    with pytest.raises(KeyError):
        compile_plan(dataclasses.replace(source, checked=dataclasses.replace(source.checked, types=Types())))


def test_a_ruleset_with_errors_is_not_compiled() -> None:
    with pytest.raises(CompileError):
        compile_plan(load_sources([SourceFile("r.promo", 'promotion "p" { discount 10 }\n')]))


def test_the_window_test_and_the_guard_floor() -> None:
    window = (datetime(2026, 11, 1, tzinfo=UTC), NOW)
    assert within(None, NOW) and within(window, window[0]) and not within(window, NOW)  # [start, end)
    plan: Plan = compile_plan(loaded('guard "g" { scope sku == "a" floor 60% }\n'
                                     'guard "late" { active 2027-01-01 .. 2027-02-01 floor 90% }\n'
                                     'guard "each" { scope sku == "a" floor 5.01 each }\n'))
    line = Line("1", "a", "s", "c", "b", frozenset(), 1000, 3)
    assert [g.name for g in plan.guards_at(line, NOW)] == ["g", "each"]  # "late" is not active yet
    assert plan.floor(line, NOW) == 1800  # the highest active floor: 60% of 30.00
    assert plan.floor(dataclasses.replace(line, price=100), NOW) == 300  # never above the list amount
    assert plan.floor(dataclasses.replace(line, sku="z"), NOW) == 0


def test_compiling_and_pricing_do_not_load_the_parser() -> None:
    code = ("import sys, engine.plan.compiler, engine.pricing.quote\n"
            "print(sorted(m for m in ('lark', 'engine.lang.parser', 'engine.lang.checker', 'engine.lang.load')"
            " if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "[]"
