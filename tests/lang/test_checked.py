"""What the checker hands on: `Checked(settings, types, diagnostics)`, from its passes in order."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path
from zoneinfo import ZoneInfo

from engine.lang import ast
from engine.lang.checked import UNKNOWN, RulesetSettings
from engine.lang.checker import PASSES, check, check_ruleset
from engine.lang.load import load_ruleset, load_sources
from engine.lang.parser import parse_text
from engine.lang.schema import AttrInfo
from engine.lang.source import SourceFile, ruleset_roots

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def checked(text: str):
    parsed = parse_text(text, "rules.promo")
    assert parsed.diagnostics == ()
    return check_ruleset([parsed.file])


def test_the_passes_are_named_and_in_order() -> None:
    assert [name for name, _ in PASSES] == ["settings", "names", "blocks", "values", "types", "tests"]


def test_settings_are_resolved_from_the_header() -> None:
    settings = checked('ruleset "r" { currency JPY timezone "Asia/Tokyo" stacking progressive rounding down '
                       'min_payment 1 group "g" max 2 attribute line.material string }\n').settings
    assert settings == RulesetSettings(name="r", currency="JPY", timezone=ZoneInfo("Asia/Tokyo"),
                                       stacking="progressive", rounding="down", min_payment=Decimal(1), groups={"g": 2},
                                       declared={"line.material": AttrInfo("string", "line", declared=True)})
    assert settings.digits == 0


def test_a_ruleset_without_a_header_gets_the_defaults_stated_once() -> None:
    settings = checked('promotion "p" { level shop discount 10 }\n').settings
    assert settings == RulesetSettings()
    assert (settings.name, settings.currency, settings.digits, str(settings.timezone), settings.stacking,
            settings.rounding, settings.min_payment) == ("default", "CNY", 2, "UTC", "parallel", "half_up", 0)


def test_the_first_header_is_the_ruleset_s_and_a_bad_value_is_not_taken() -> None:
    two = checked('ruleset "a" { currency USD timezone "Mars/Base" }\nruleset "b" { currency JPY }\n')
    assert (two.settings.name, two.settings.currency, str(two.settings.timezone)) == ("a", "USD", "UTC")
    assert [d.code for d in two.diagnostics] == ["unknown-value", "second-ruleset"]


def test_every_expression_of_every_predicate_has_a_type() -> None:
    text = ('ruleset "r" { attribute line.margin number }\n'
            'promotion "p" { level shop scope sku in ["a", "b"] and not (line.margin < 20%) '
            'when amount + 5 >= 100 and user.tags has "vip" and now >= 2026-11-11 discount 10 }\n')
    parsed = parse_text(text, "rules.promo")
    result = check_ruleset([parsed.file])
    assert result.ok
    p = next(i for i in parsed.file.items if isinstance(i, ast.Promotion))
    when, scope = ast.first(p, ast.When).expr, ast.first(p, ast.Scope).expr
    types = [result.types.of(e) for e in [*ast.walk(when), *ast.walk(scope)]]
    assert len(types) == len(result.types) and UNKNOWN not in types
    assert result.types.of(when) == result.types.of(scope) == "bool"
    assert result.types.of(ast.conjuncts(when)[0].left) == "money"  # amount + 5
    assert result.types.of(ast.conjuncts(scope)[0].right) == "list[string]"
    assert result.types.of(ast.conjuncts(scope)[1].operand.right) == "percent"


def test_a_type_error_leaves_the_unknown_type() -> None:
    parsed = parse_text('promotion "p" { level shop when sku_typo == "a" discount 10 }\n', "rules.promo")
    result = check_ruleset([parsed.file])
    when = ast.first(parsed.file.items[0], ast.When).expr
    assert result.types.of(when.left) == UNKNOWN and result.types.of(when) == "bool"


def test_check_is_the_diagnostics_of_check_ruleset_and_load_keeps_the_checked() -> None:
    for root in ruleset_roots(EXAMPLES):
        loaded = load_ruleset(root)
        assert list(loaded.checked.diagnostics) == check(loaded.files)
    loaded = load_sources([SourceFile("r.promo", 'ruleset "r" { currency USD }\n')])
    assert loaded.checked.settings.currency == "USD"


def test_metrics_time_each_pass_and_lint() -> None:
    parsed = parse_text('promotion "p" { level shop discount 10 }\n', "rules.promo")
    metrics: dict[str, float] = {}
    check_ruleset([parsed.file], metrics)
    assert [name for name, _ in PASSES] == list(metrics)[: len(PASSES)]
    assert all(name.startswith("lint ") for name in list(metrics)[len(PASSES):]) and len(metrics) > len(PASSES)
