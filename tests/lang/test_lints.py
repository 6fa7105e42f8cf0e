"""Each lint of engine/lang/check/lints.py alone, by a table: rows of (rule text, the codes that lint
reports, in order of position). A lint runs after the passes, on what they found, as the checker
runs it; every registered lint has a table here with rows that warn and rows that do not."""

from __future__ import annotations

import pytest

from engine.lang.check.lints import LINTS, Lint
from engine.lang.check.state import MAX_TIERS, State
from engine.lang.checker import PASSES, check
from engine.lang.diagnostics import CODES, WARNING
from engine.lang.parser import parse_text

DET = "discount-exceeds-threshold"
UNREACHABLE = "unreachable-tier"
STALE = "stale-window"
SHADOWED = "shadowed-by-exclusive"


def promo(body: str, name: str = "p", kind: str = "promotion") -> str:
    return f'{kind} "{name}" {{ {body} }}\n'


def many_tiers(n: int) -> str:
    # falling benefits over rising thresholds: each tier after the first is unreachable
    tiers = " ".join(f"amount >= {100 + i}: discount {50 - i % 40};" for i in range(n))
    return promo("level shop tiers { " + tiers + " }")


TABLES: dict[str, list[tuple[str, list[str]]]] = {
    "discount_over_threshold": [
        (promo("level shop when amount >= 100 discount 100"), [DET]),
        (promo("level shop when amount >= 100 discount 120"), [DET]),
        (promo("level shop when amount >= 100 discount 99.99"), []),
        (promo("level shop when 100 <= amount discount 100"), [DET]),  # written the other way round
        (promo("level shop when amount > 100 discount 100"), [DET]),
        (promo('level shop when channel == "app" and amount >= 50 and amount >= 80 discount 80'), [DET]),  # the highest
        (promo("level shop when quantity >= 2 discount 5"), []),  # not an amount threshold
        (promo("level item when amount >= 5 discount 10 each"), []),  # per unit, not per order
        (promo("level shop when amount >= 100 discount 100%"), []),  # a percentage is never the whole threshold
        (promo("level shop tiers { amount >= 50: discount 50; amount >= 100: discount 80; }"), [DET]),
        (promo("level shop tiers { amount >= 50: discount 10; amount >= 100: discount 20; }"), []),
        (promo("level shop when amount >= 10 tiers { amount >= 50: discount 20; }"), []),  # a tier is its own threshold
    ],
    "discount_over_step": [
        (promo("level shop discount 100 every 100"), [DET]),
        (promo("level shop discount 150 every 100 max 300"), [DET]),
        (promo("level shop discount 10 every 100"), []),
        (promo("level shop discount 10 every 0"), []),  # an error (`every` must be more than 0), not a warning
    ],
    "unreachable_tiers": [
        (promo("level shop tiers { amount >= 100: discount 10; amount >= 200: discount 5; }"), [UNREACHABLE]),
        (promo("level shop tiers { amount >= 100: discount 10; amount >= 200: discount 30; }"), []),
        (promo("level shop tiers { amount >= 100: discount 10; amount >= 100: discount 10; }"), [UNREACHABLE]),  # tie
        (promo("level shop tiers { quantity >= 3: discount 10%; quantity >= 2: discount 10%; }"), [UNREACHABLE]),
        (promo("level shop tiers { amount >= 100: discount 10; quantity >= 5: discount 5; }"), []),  # two measures
        (promo("level shop tiers { amount >= 100: discount 10; amount >= 200: discount 5%; }"), []),  # two kinds
        (promo("level item tiers { amount >= 100: price 5 each; amount >= 200: price 6 each; }"), [UNREACHABLE]),
        (promo('level shop tiers { amount >= 100: discount 10; amount >= 200 and channel == "app": discount 5; }'), []),
        ('presale "s" { scope sku == "a" price 100 tiers { sold >= 10: 90; sold >= 20: 95; } }\n', [UNREACHABLE]),
        ('presale "s" { scope sku == "a" price 100 tiers { sold >= 10: 95; sold >= 20: 90; } }\n', []),
        (many_tiers(MAX_TIERS), [UNREACHABLE] * (MAX_TIERS - 1)),
        (many_tiers(MAX_TIERS + 1), []),  # too-many-tiers instead: not compared pairwise
    ],
    "tier_price_not_below": [
        ('presale "s" { scope sku == "a" price 100 tiers { sold >= 10: 100; } }\n', [UNREACHABLE]),
        ('presale "s" { scope sku == "a" price 100 tiers { sold >= 10: 120; sold >= 20: 99; } }\n', [UNREACHABLE]),
        ('presale "s" { scope sku == "a" price 100 tiers { sold >= 10: 99; } }\n', []),
    ],
    "stale_windows": [
        (promo("level shop active 2026-11-01 .. 2026-11-12 discount 10", "a")
         + promo("level shop active 2025-11-01 .. 2025-11-12 discount 10", "b"), [STALE]),
        (promo("level shop active 2026-11-01 .. 2026-11-12 discount 10", "a")
         + promo("level shop active 2026-10-01 .. 2026-10-31 discount 10", "b"), []),  # a warm-up
        (promo("level shop active 2025-11-01 .. 2025-11-12 discount 10", "a"), []),  # nothing to compare with
        (promo("level shop active 2026-11-01 .. 2026-11-12 discount 10", "a")
         + 'guard "g" { active 2025-01-01 .. 2025-02-01 floor 50% }\n', []),  # guards are exempt
        (promo("level shop active 2026-11-01 .. 2026-11-12 discount 10", "a")
         + 'presale "s" { scope sku == "a" price 10 active 2025-01-01 .. 2025-02-01 }\n', [STALE]),
        (promo("level shop active 2026-11-01 .. 2026-11-12 discount 10", "a")
         + promo("level shop active 2025-11-01 .. 2025-10-12 discount 10", "b"), []),  # empty-window instead
    ],
    "shadowed_by_exclusive": [
        (promo('level shop scope sku == "a" exclusive discount 10', "x")
         + promo('level shop scope sku == "a" discount 5', "y"), [SHADOWED]),
        (promo("level shop exclusive discount 10", "x") + promo("level shop discount 5", "y"), [SHADOWED]),  # no scope
        (promo('level shop scope sku == "a" exclusive discount 10', "x")
         + promo('level shop scope sku == "b" discount 5', "y"), []),
        (promo('level shop scope sku == "a" exclusive discount 10', "x")
         + promo('level item scope sku == "a" discount 5', "y"), []),  # another level
        (promo('level shop scope sku == "a" exclusive discount 10', "x")
         + promo('level shop scope sku == "a" exclusive discount 5', "y"), []),
        (promo('level shop scope sku == "a" discount 10', "x")
         + promo('level shop scope sku == "a" discount 5', "y"), []),
        (promo("level nowhere exclusive discount 10", "x")
         + promo("level nowhere discount 5", "y"), []),  # an unknown level
    ],
}

BY_NAME = {lint.name: lint for lint in LINTS}


def run_lint(lint: Lint, text: str) -> list[str]:
    parsed = parse_text(text, "rules.promo")
    assert parsed.diagnostics == (), parsed.diagnostics
    st = State([parsed.file])
    for _, run in PASSES:
        run(st)
    return [d.code for d in sorted(lint.run(st), key=lambda d: d.sort_key())]


@pytest.mark.parametrize(("name", "text", "codes"), [(n, t, c) for n, rows in TABLES.items() for t, c in rows],
                         ids=[f"{n}-{i}" for n, rows in TABLES.items() for i in range(len(rows))])
def test_lint_table(name: str, text: str, codes: list[str]) -> None:
    assert run_lint(BY_NAME[name], text) == codes


def test_every_lint_has_a_table_that_warns_and_one_that_does_not() -> None:
    assert set(TABLES) == set(BY_NAME)
    for name, rows in TABLES.items():
        assert any(codes for _, codes in rows) and any(not codes for _, codes in rows), name


def test_lints_report_warnings_with_their_own_code() -> None:
    assert {lint.code for lint in LINTS} == {code for code, (severity, _) in CODES.items() if severity == WARNING}
    for name, rows in TABLES.items():
        assert {c for _, codes in rows for c in codes} <= {BY_NAME[name].code}, name


def test_the_checker_runs_every_lint() -> None:
    """The whole checker reports what the lints report (a lint left out of LINTS would not)."""
    for name, rows in TABLES.items():
        for text, codes in rows:
            parsed = parse_text(text, "rules.promo")
            warnings = [d.code for d in check([parsed.file]) if d.code == BY_NAME[name].code]
            assert len(warnings) >= len(codes), (name, text)
