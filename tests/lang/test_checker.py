"""The checker, rule by rule: codes and positions (never message text)."""

from __future__ import annotations

import pytest

from engine.base.enums import NOT_APPLIED_REASONS, REASON_CODES
from engine.lang import ast
from engine.lang.checker import check
from engine.lang.diagnostics import CODES
from engine.lang.parser import parse_text
from engine.lang.schema import BUILTIN, attribute_type, declared_info

HEADER = 'ruleset "r" { currency CNY timezone "Asia/Shanghai" group "g" max 1 attribute line.material string }\n'


def parse(text: str, path: str = "rules.promo") -> ast.File:
    parsed = parse_text(text, path)
    assert parsed.diagnostics == (), parsed.diagnostics
    return parsed.file


def diags(*texts: str, paths: tuple[str, ...] = ()):
    paths = paths or tuple(f"f{i}.promo" for i in range(len(texts)))
    return check([parse(t, p) for t, p in zip(texts, paths)])


def where(text: str, needle: str, nth: int = 0) -> tuple[int, int]:
    """1-based (line, column) of the nth occurrence of `needle` in `text`."""
    pos = -1
    for _ in range(nth + 1):
        pos = text.index(needle, pos + 1)
    line = text.count("\n", 0, pos) + 1
    return line, pos - (text.rfind("\n", 0, pos) + 1) + 1


def found(text: str, path: str = "rules.promo"):
    return [(d.code, d.span.line, d.span.column) for d in diags(text, paths=(path,))]


def promo(body: str, kind: str = "promotion", name: str = "p") -> str:
    return HEADER + f'{kind} "{name}" {{\n    {body}\n}}\n'


# ---- a clean ruleset: the language reference's own examples -----------------------------------

CLEAN = '''
ruleset "double11-2026" {
    currency CNY
    timezone "Asia/Shanghai"
    stacking parallel
    rounding half_up
    min_payment 0.01
    group "platform-coupon" max 1
    attribute line.material string
    attribute user.vip_until datetime
}
promotion "sku110-direct" {
    title "单品直降10元"
    level item
    active 2026-11-01 .. 2026-11-12
    scope sku == "SKU-110"
    discount 10 each
}
coupon "s1-100-10" {
    title "店铺券 满100减10"
    level shop
    scope shop == "S1" and line.material in ["cotton", "silk"] and not (tags has "gift")
    when amount >= 100 and user.level >= 3 and user.vip_until > now and channel == "app"
    discount 10
    group "platform-coupon"
    priority 10
    exclusive
    limit 1 per user
}
promotion "cross-200-20" { level platform  when amount >= 200  discount 20 every 200 max 100 }
promotion "tiers" { level shop tiers { amount >= 300: discount 60; amount >= 200: discount 30 } }
promotion "qty-tiers" { level shop tiers { quantity >= 3: discount 20%; quantity >= 2: discount 8.8折 } }
promotion "half" { level shop nth 2 discount 50% }
promotion "gift" { level shop when cart.amount - 10 >= 99.90 gift "SKU-G" qty 1 }
promotion "ship" { level shipping when amount >= 99 free_shipping }
presale "phone-x" {
    title "定金100抵200 尾款立减50"
    scope sku == "phone-x"
    price 3999 tiers { sold >= 100: 3600; sold >= 50: 3800 }
    deposit 100 worth 200
    balance discount 50
    deposit_window 2026-10-20 .. 2026-11-01
    balance_window 2026-11-01 .. 2026-11-04
    ships 2026-11-15
}
guard "nuts-floor" { scope category == "nuts"  floor 60% }
guard "hold-for-double11" { scope sku == "walnut-2jin" active 2026-08-13 .. 2026-11-11 floor 39.90 each }
warning "default" { below 70% }
warning "nuts" { scope category == "nuts"  below 60% }
'''

CLEAN_TEST = '''
test "seed example, parallel" {
    at 2026-11-11T10:00
    user { id "u1" level 3 tags ["new"] vip_until 2027-01-01 }
    channel "app"
    line "l1" sku "SKU-110" shop "S1" category "shoes" material "cotton" price 110 qty 2
    shipping "S1" 8
    wallet "s1-100-10"
    sold "phone-x" 120
    stage balance
    expect payable 170
    expect applied "cross-200-20" 20
    expect not_applied "sku110-direct" NOT_IN_WALLET
    expect line "l1" final 85.00
    expect hint "tiers" missing 30.01
}
'''


def test_the_reference_examples_are_clean():
    assert diags(CLEAN, CLEAN_TEST, paths=("rules.promo", "seed_test.promo")) == []


# ---- one rule at a time: (source, code, the text the caret must start at) ------------------------

CASES = [
    # attributes
    ("unknown-attribute", promo('level shop scope skuu == "A" discount 1'), "skuu"),
    ("unknown-attribute", promo('level shop scope line.colour == "A" discount 1'), "line.colour"),
    ("unknown-attribute", promo('level shop when sold > 3 discount 1'), "sold"),
    ("order-attribute-in-scope", promo('level shop scope amount > 3 discount 1'), "amount"),
    ("order-attribute-in-scope", promo('level shop scope user.level > 3 discount 1'), "user.level"),
    ("line-attribute-in-when", promo('level shop when sku == "A" discount 1'), "sku"),
    ("line-attribute-in-when", promo('level shop tiers { price >= 3: discount 1 }'), "price"),
    ("line-attribute-in-when", promo('level shop when line.material == "x" discount 1'), "line.material", 1),
    # types
    ("type-mismatch", promo('level shop when user.level >= "3" discount 1'), '"3"'),
    ("type-mismatch", promo('level shop scope sku == 3 discount 1'), "3 discount"),
    ("type-mismatch", promo('level shop scope tags has 3 discount 1'), "3 discount"),
    ("type-mismatch", promo('level shop scope sku has "x" discount 1'), "sku"),
    ("type-mismatch", promo('level shop scope sku in ["a", 2] discount 1'), "2]"),
    ("type-mismatch", promo('level shop scope price in ["a"] discount 1'), '["a"]'),
    ("type-mismatch", promo('level shop scope sku in "a" discount 1'), '"a" discount'),
    ("type-mismatch", promo('level shop scope sku == ["a"] discount 1'), '["a"]'),
    ("type-mismatch", promo('level shop when channel + 1 == 2 discount 1'), "channel"),
    ("type-mismatch", promo('level shop when amount >= quantity discount 1'), "quantity"),
    ("type-mismatch", promo('level shop when amount >= 20% discount 1'), "20%"),
    ("type-mismatch", promo('level shop when channel > "a" discount 1'), '"a"'),
    ("type-mismatch", promo('level shop when user.tags == "a" discount 1'), "user.tags"),
    ("type-mismatch", promo('level shop scope sku discount 1'), "sku"),
    ("type-mismatch", promo('level shop scope sku == "a" and price discount 1'), "price"),
    ("type-mismatch", promo('level shop when not channel discount 1'), "channel"),
    ("type-mismatch", promo('level shop when now >= 3 discount 1'), "3 discount"),
    # money and numbers
    ("money-precision", promo('level shop discount 9.999'), "9.999"),
    ("money-precision", promo('level shop when amount >= 99.999 discount 1'), "99.999"),
    ("money-precision", promo('level shop scope price in [1.001] discount 1'), "1.001"),
    ("money-precision", promo('level shop when amount - 0.001 > 1 discount 1'), "0.001"),
    ("money-precision", promo('level shop discount 10% max 5.555'), "5.555"),
    ("money-precision", promo('level shop discount 10 every 100.001'), "100.001"),
    ("money-precision", promo('level item price 9.995 each'), "9.995"),
    ("money-precision", promo('level shop tiers { amount >= 200: discount 30.005 }'), "30.005"),
    ("money-precision",
        HEADER.replace("currency CNY", "currency JPY") + 'promotion "p" { level shop discount 1.5 }', "1.5"),
    ("money-precision", 'ruleset "r" { min_payment 0.001 }', "0.001"),
    ("money-precision", 'guard "g" { floor 9.999 each }', "9.999"),
    ("money-precision", 'warning "w" { below 1.001 each }', "1.001"),
    ("invalid-number", promo('level shop discount 150%'), "150%"),
    ("invalid-number", promo('level shop discount 0%'), "0%"),
    ("invalid-number", promo('level shop discount 10折'), "10折"),
    ("invalid-number", promo('level shop discount 0折'), "0折"),
    ("invalid-number", promo('level shop discount 0'), "0"),
    ("invalid-number", promo('level shop nth 1 discount 50%'), "1 discount"),
    ("invalid-number", promo('level shop nth 2.5 discount 50%'), "2.5"),
    ("invalid-number", promo('level shop priority 1.5 discount 1'), "1.5"),
    ("invalid-number", promo('level shop limit 0 per user discount 1'), "0 per"),
    ("invalid-number", promo('level shop gift "G" qty 0'), "0"),
    ("invalid-number", promo('level shop when quantity >= 2.5 discount 1'), "2.5"),
    ("invalid-number", 'ruleset "r" { group "g" max 0 }', "0"),
    ("invalid-number", 'presale "p" { price 100 deposit 50 worth 40 balance_window 2026-11-01 .. 2026-11-02 }', "40"),
    ("invalid-number", 'presale "p" { price 100 deposit 50 worth 140 balance_window 2026-11-01 .. 2026-11-02 }', "140"),
    ("invalid-number", 'guard "g" { floor 120% }', "120"),
    ("invalid-number", 'warning "w" { below 0% }', "0"),
    # clauses
    ("missing-benefit", promo('level shop when amount >= 10'), '"p"'),
    ("multiple-benefits", promo('level shop discount 1 discount 2%'), "discount", 1),
    ("duplicate-clause", promo('level shop level item discount 1'), "level item"),
    ("duplicate-clause", promo('level shop title "a" title "b" discount 1'), 'title "b"'),
    ("duplicate-clause", promo('level shop when amount > 10 when amount > 20 discount 1'), "when amount > 20"),
    ("duplicate-clause", promo('level shop exclusive exclusive discount 1'), "exclusive discount"),
    ("duplicate-clause", 'ruleset "r" { currency CNY currency USD }', "currency USD"),
    ("duplicate-clause", 'guard "g" { floor 60% floor 1 each }', "floor 1"),
    ("missing-clause", promo('discount 1'), '"p"'),
    ("missing-clause", 'presale "p" { scope sku == "a" }', '"p"'),
    ("missing-clause", 'presale "p" { price 100 deposit 10 }', "deposit"),
    ("missing-clause", 'presale "p" { price 100 balance_window 2026-11-01 .. 2026-11-02 }', "balance_window"),
    ("missing-clause", 'guard "g" { scope sku == "a" }', '"g"'),
    ("missing-clause", 'warning "w" { scope sku == "a" }', '"w"'),
    ("free-shipping-level", promo('level shop free_shipping'), "free_shipping"),
    ("free-shipping-level", promo('level shipping discount 5'), "shipping"),
    ("empty-window", promo('level shop active 2026-11-12 .. 2026-11-01 discount 1'), "2026-11-12"),
    ("empty-window", promo('level shop active 2026-11-11T10:00 .. 2026-11-11T10:00 discount 1'), "2026-11-11T10:00"),
    ("empty-window", promo('level shop active 2026-11-11T10:00+08:00 .. 2026-11-11T01:00Z discount 1'), "2026"),
    ("undeclared-group", promo('level shop group "G" discount 1'), '"G"'),
    # values
    ("unknown-value", promo('level shp discount 1'), "shp"),
    ("unknown-value", 'ruleset "r" { stacking paralel }', "paralel"),
    ("unknown-value", 'ruleset "r" { rounding up }', "up"),
    ("unknown-value", 'ruleset "r" { currency CYN }', "CYN"),
    ("unknown-value", 'ruleset "r" { timezone "Asia/Shangai" }', '"Asia/Shangai"'),
    ("unknown-value", 'ruleset "r" { attribute line.x strng }', "strng"),
    ("unknown-value", promo('level shop limit 1 per day discount 1'), "day"),
    ("invalid-datetime", promo('level shop active 2026-02-30 .. 2026-03-02 discount 1'), "2026-02-30"),
    ("invalid-datetime", promo('level shop active 2026-02-01T25:00 .. 2026-03-02 discount 1'), "2026-02-01T25:00"),
    ("invalid-datetime", promo('level shop when now > 2026-13-01 discount 1'), "2026-13-01"),
    ("invalid-datetime", 'presale "p" { price 1 ships 2026-11-31 }', "2026-11-31"),
    # declarations
    ("duplicate-name", promo('level shop discount 1') + 'coupon "p" { level shop discount 2 }', '"p"', 1),
    ("duplicate-name", 'guard "g" { floor 1% }\nguard "g" { floor 2% }', '"g"', 1),
    ("duplicate-name", 'warning "w" { below 1% }\nwarning "w" { below 2% }', '"w"', 1),
    ("duplicate-name", 'presale "p" { price 1 }\npresale "p" { price 2 }', '"p"', 1),
    ("duplicate-name", 'ruleset "r" { group "g" max 1 group "g" max 2 }', '"g"', 1),
    ("duplicate-name", 'ruleset "r" { attribute line.m string attribute line.m number }', "line.m", 1),
    ("duplicate-name", 'ruleset "r" { attribute user.level integer }', "user.level"),
    ("unknown-attribute", 'ruleset "r" { attribute order.x string }', "order.x"),
    ("second-ruleset", 'ruleset "a" { }\nruleset "b" { }', "ruleset", 1),
    # warnings
    ("discount-exceeds-threshold", promo('level shop when amount >= 100 discount 100'), "100", 1),
    ("discount-exceeds-threshold", promo('level shop when channel == "a" and amount > 50 discount 60'), "60"),
    ("discount-exceeds-threshold",
        promo('level shop tiers { amount >= 100: discount 70; amount >= 50: discount 60 }'), "60"),
    ("discount-exceeds-threshold", promo('level shop discount 20 every 20'), "20"),
    ("unreachable-tier",
        promo('level shop tiers { amount >= 300: discount 60; amount >= 300: discount 30 }'), "amount", 1),
    ("unreachable-tier",
        promo('level shop tiers { amount >= 300: discount 30; amount >= 200: discount 30 }'), "amount"),
    ("unreachable-tier",
        promo('level shop tiers { quantity >= 2: discount 20%; quantity >= 3: discount 10% }'), "quantity >= 3"),
    ("unreachable-tier", 'presale "p" { price 100 tiers { sold >= 10: 90; sold >= 20: 95 } }', "sold >= 20"),
    ("unreachable-tier",
        promo('level shop tiers { amount >= 300: discount 30; amount >= 300: discount 60 }'), "amount"),
    ("unreachable-tier", promo('level shop tiers { amount > 100: discount 5; amount >= 100: discount 10 }'), "amount"),
    ("unreachable-tier", 'presale "p" { price 100 tiers { sold >= 10: 100 } }', "100 }"),
]


@pytest.mark.parametrize("case", CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(CASES)])
def test_rule(case):
    code, text, needle, *nth = case
    got = found(text)
    assert got == [(code, *where(text, needle, *nth))]


# ---- rules that need more than one block or file -------------------------------------------------


def test_ruleset_header_in_another_file_counts_once():
    got = diags('ruleset "a" { }', 'ruleset "b" { }', paths=("a.promo", "b.promo"))
    assert [(d.code, d.span.file, d.span.line) for d in got] == [("second-ruleset", "b.promo", 1)]


def test_duplicate_names_across_files_point_at_the_second():
    a = 'promotion "x" { level shop discount 1 }'
    got = diags(a, a, paths=("a.promo", "b.promo"))
    assert [(d.code, d.span.file, d.span.column) for d in got] == [("duplicate-name", "b.promo", 11)]
    assert "a.promo:1:11" in got[0].help


def test_namespaces_are_per_kind():
    text = 'promotion "x" { level shop discount 1 }\nguard "x" { floor 1% }\nwarning "x" { below 1% }\n' \
           'presale "x" { price 1 }'
    assert diags(text) == []


def test_declared_attributes_are_known_with_their_type():
    text = 'ruleset "r" { attribute user.vip_until datetime attribute line.weight number }\n' \
           'promotion "p" { level shop scope line.weight > 1.5 when user.vip_until > now discount 1 }'
    assert diags(text) == []
    bad = text.replace("user.vip_until > now", 'user.vip_until > "x"')
    assert [d.code for d in diags(bad)] == ["type-mismatch"]


def test_money_precision_follows_the_header_currency_from_another_file():
    rules = 'promotion "p" { level shop when amount >= 100.5 discount 10 }'
    assert [d.code for d in diags('ruleset "r" { currency JPY }', rules)] == ["money-precision"]
    assert diags('ruleset "r" { currency KWD }', rules.replace("100.5", "100.125")) == []


def test_percent_compares_with_a_declared_number():
    text = 'ruleset "r" { attribute line.margin number }\nwarning "thin" { scope line.margin < 20%  below 85% }'
    assert diags(text) == []


def test_wide_characters_do_not_move_columns():
    text = 'promotion "满100减10" { title "店铺券" level shop when amount >= "x" discount 1 }'
    assert found(text) == [("type-mismatch", *where(text, '"x"'))]


def test_unknown_attribute_suggests_a_spelling():
    got = diags(promo('level shop when user.levle >= 3 discount 1'))
    assert [d.code for d in got] == ["unknown-attribute"] and "user.level" in got[0].help


def test_undeclared_group_suggests_a_declared_one():
    got = diags(promo('level shop group "gg" discount 1'))
    assert [d.code for d in got] == ["undeclared-group"] and "`g`" in got[0].help


def test_duplicate_name_help_names_the_first():
    text = promo('level shop discount 1') + 'coupon "p" { level shop discount 2 }'
    (d,) = diags(text)
    assert f"f0.promo:{where(text, chr(34) + 'p' + chr(34))[0]}:" in d.help


def test_exclusive_shadows_same_level_and_scope_only():
    text = '''
promotion "ex" { level shop scope shop == "S1" exclusive discount 5 }
coupon "same" { level shop scope shop == "S1" discount 3 }
coupon "other-level" { level platform scope shop == "S1" discount 3 }
coupon "other-scope" { level shop scope shop == "S2" discount 3 }
'''
    assert found(text) == [("shadowed-by-exclusive", *where(text, '"same"'))]


def test_exclusive_without_scope_shadows_others_without_scope():
    text = 'promotion "ex" { level shop exclusive discount 5 }\npromotion "b" { level shop discount 3 }'
    assert found(text) == [("shadowed-by-exclusive", *where(text, '"b"'))]


def test_stale_window():
    text = '''
promotion "a" { level shop active 2026-11-01 .. 2026-11-12 discount 1 }
promotion "b" { level shop active 2026-11-10 .. 2026-11-12 discount 1 }
promotion "typo" { level shop active 2025-11-01 .. 2025-11-12 discount 1 }
promotion "warm-up" { level shop active 2026-10-20 .. 2026-10-31 discount 1 }
guard "before" { active 2026-01-01 .. 2026-02-01 floor 50% }
'''
    assert found(text) == [("stale-window", *where(text, "2025-11-12"))]


def test_a_single_window_is_never_stale():
    assert diags(promo('level shop active 2020-01-01 .. 2020-01-02 discount 1')) == []


def test_tiers_in_any_order_are_fine_when_they_rise():
    text = promo('level shop tiers { amount >= 100: discount 10; '
                 'amount >= 300: discount 60; amount >= 200: discount 30 }')
    assert diags(text) == []


def test_tiers_of_different_kinds_are_not_compared():
    text = promo('level shop tiers { amount >= 300: discount 10%; '
                 'amount >= 200: discount 30; amount >= 300: discount 40 }')
    assert diags(text) == []


def test_tiers_that_cannot_be_decided_are_not_warned():
    text = promo('level shop tiers { amount >= 300 and channel == "app": discount 5; amount >= 200: discount 30 }')
    assert diags(text) == []


# ---- tests blocks --------------------------------------------------------------------------------

RULES = 'promotion "auto" { level shop discount 1 }\ncoupon "c1" { level shop discount 1 }\npresale "ps" { price 10 }\n'


def run_test_block(body: str):
    text = f'test "t" {{\n    {body}\n}}\n'
    got = diags(RULES, text, paths=("rules.promo", "x_test.promo"))
    return text, [(d.code, d.span.line, d.span.column) for d in got]


TEST_CASES = [
    ("invalid-test", 'line "l1" sku "a" price 1', '"l1"'),
    ("invalid-test", 'line "l1" sku "a" price 1 qty 1 colour "red"', "colour"),
    ("invalid-test", 'user { id "u" vip true }', "vip"),
    ("invalid-test", 'wallet "c2"', '"c2"'),
    ("invalid-test", 'wallet "auto"', '"auto"'),
    ("invalid-test", 'selected "nope"', '"nope"'),
    ("invalid-test", 'expect applied "nope" 1', '"nope"'),
    ("invalid-test", 'expect line "l9" final 1', '"l9"'),
    ("invalid-test", 'sold "nope" 3', '"nope"'),
    ("unknown-value", "stage deposite", "deposite"),
    ("unknown-value", 'expect not_applied "c1" NOT_IN_WALET', "NOT_IN_WALET"),
    ("unknown-value", 'expect not_applied "c1" CAPPED', "CAPPED"),
    ("invalid-datetime", "at 2026-11-11T24:30", "2026"),
    ("money-precision", 'line "l1" sku "a" price 1.001 qty 1', "1.001"),
    ("money-precision", "expect payable 1.001", "1.001"),
    ("money-precision", 'shipping "S1" 8.001', "8.001"),
    ("invalid-number", 'line "l1" sku "a" price 1 qty 0', "0"),
    ("invalid-number", 'sold "ps" 1.5', "1.5"),
    ("type-mismatch", 'line "l1" sku 3 price 1 qty 1', "3"),
    ("type-mismatch", 'user { level "3" }', '"3"'),
    ("type-mismatch", 'user { tags ["a", 3] }', "3"),
    ("duplicate-clause", "at 2026-11-11 at 2026-11-12", "at 2026-11-12"),
    ("duplicate-clause", "expect payable 1 expect payable 2", "expect payable 2"),
    ("duplicate-clause", 'line "l1" sku "a" sku "b" price 1 qty 1', 'sku "b"'),
    ("duplicate-name", 'line "l1" sku "a" price 1 qty 1 line "l1" sku "b" price 1 qty 1', '"l1"', 1),
]


@pytest.mark.parametrize("case", TEST_CASES, ids=[f"{i}-{c[0]}" for i, c in enumerate(TEST_CASES)])
def test_test_block_rule(case):
    code, body, needle, *nth = case
    text, got = run_test_block(body)
    assert got == [(code, *where(text, needle, *nth))]


def test_test_blocks_belong_in_test_files():
    got = diags('test "t" { at 2026-11-11 }', paths=("rules.promo",))
    assert [(d.code, d.span.line, d.span.column) for d in got] == [("invalid-test", 1, 1)]


# ---- robustness, coverage and size ---------------------------------------------------------------


def test_every_reason_code_is_accepted_by_expect_not_applied():
    for code in NOT_APPLIED_REASONS:
        _, got = run_test_block(f'expect not_applied "c1" {code}')
        assert got == [], code
    assert set(REASON_CODES) - set(NOT_APPLIED_REASONS) == {"CAPPED"}


def test_schema_lookups():
    assert attribute_type("user.level").type == "integer"
    assert attribute_type("amount").where == "order" and attribute_type("sku").where == "line"
    assert attribute_type("line.x") is None
    info = declared_info("line.x", "money")
    assert info is not None and info.where == "line"
    assert attribute_type("line.x", {"line.x": info}) is info
    assert declared_info("user.a.b", "string") is None and declared_info("cart.x", "string") is None
    assert BUILTIN["sold"].presale_only


def test_codes_used_by_the_messages_are_registered():
    import re

    import engine.lang.messages as messages_module

    source = open(messages_module.__file__, encoding="utf-8").read()
    used = set(re.findall(r'diagnostic\(\s*"([a-z-]+)"', source))
    # every code but `internal-error` (messages.internal_error names it by its constant) has a message
    assert used == set(CODES) - {"internal-error"}


def test_never_raises_on_partial_trees():
    """Blocks the parser recovered around, empty blocks, odd values: diagnostics, not exceptions."""
    text = '''
promotion "a" { }
coupon "b" { level shipping }
presale "c" { }
guard "d" { }
warning "e" { }
test "f" { }
promotion "g" { level item tiers { amount + 1: discount 1 } scope (not 1) or [] when [] in [] }
promotion "h" { level item when 1 + "a" > [1] and 2026-11-11 in 3 and true has false discount 1 }
'''
    got = diags(text)
    assert got and all(d.code in CODES for d in got)


def test_never_raises_on_mutated_rules():
    """Seeded token mutations of the reference example: whatever the parser builds, the checker
    answers with registered diagnostics."""
    import random
    import re

    tokens = ["amount", "sku", "user.level", "sold", "tags", "has", "in", "and", "not", "==", ">=", "+", '"x"',
              "0", "9.999", "20%", "8.8折", "[", "]", "(", ")", "2026-02-30", "true", "discount", "each", "max",
              "price", "tiers", "{", "}", ":", "level", "shipping", "free_shipping", "exclusive", "group", "nth",
              "gift", "deposit", "worth", "stage", "expect", "CAPPED", "line", "wallet", "ruleset", "attribute"]
    rnd = random.Random(7)
    for _ in range(300):
        parts = re.split(r"(\s+)", rnd.choice([CLEAN, CLEAN_TEST]))
        for _ in range(rnd.randint(1, 4)):
            j = rnd.randrange(len(parts))
            parts[j] = rnd.choice(tokens) if rnd.random() < 0.6 else ""
        parsed = parse_text("".join(parts), "x_test.promo")
        assert all(d.code in CODES for d in check([parsed.file]))
